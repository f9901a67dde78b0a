"""Tests of rim_tf.run_logs: scalars written by tf.summary read back."""

import os
import time

import pytest
import tensorflow as tf

from rim_tf import run_logs


def _write(log_dir, values):
  writer = tf.summary.create_file_writer(str(log_dir))
  with writer.as_default():
    for tag, step, value in values:
      tf.summary.scalar(tag, value, step=step)
  writer.close()


def test_scalars_read_back_with_a_resumed_run_overwriting_steps(tmp_path):
  _write(tmp_path, [("validation/psnr", 500, 28.5), ("loss/total", 500, 0.1),
                    ("validation/psnr", 1000, 28.75)])
  first = set(tmp_path.glob("events.out.tfevents.*"))
  _write(tmp_path, [("validation/psnr", 1000, 29.0),
                    ("validation_raw_weights/psnr", 1000, 28.25)])
  (resumed,) = set(tmp_path.glob("events.out.tfevents.*")) - first
  later = time.time() + 5  # written after the first file
  os.utime(resumed, (later, later))
  scalars = run_logs.read_scalars(tmp_path)
  assert scalars == {"validation/psnr": {500: 28.5, 1000: 29.0},
                     "validation_raw_weights/psnr": {1000: 28.25}}
  assert run_logs.markdown_table(scalars, min_step=600).splitlines() == [
      "| step | validation/psnr | validation_raw_weights/psnr |",
      "|---|---|---|",
      "| 1000 | 29.000 | 28.250 |"]
  assert run_logs.markdown_table(scalars).splitlines()[2] == (
      "| 500 | 28.500 |  |")


def test_a_folder_without_event_files_is_named(tmp_path):
  with pytest.raises(FileNotFoundError, match=f"no TensorBoard event files in "
                     f"{tmp_path}"):
    run_logs.read_scalars(tmp_path)
