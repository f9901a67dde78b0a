"""Tests of rim_tf.training.run_logs: scalars written by tf.summary read back."""

import os
import time

import pytest
import tensorflow as tf

from rim_tf.training import run_logs


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
  time.sleep(0.05)  # a later start (wall time of the first event)
  _write(tmp_path, [("validation/psnr", 1000, 29.0),
                    ("validation_raw_weights/psnr", 1000, 28.25)])
  (resumed,) = set(tmp_path.glob("events.out.tfevents.*")) - first
  # Copies may lose the modification times: the wall time still orders.
  (original,) = first
  os.utime(resumed, (1.0, 1.0))
  os.utime(original, (time.time(), time.time()))
  scalars = run_logs.read_scalars(tmp_path)
  assert scalars == {"validation/psnr": {500: 28.5, 1000: 29.0},
                     "validation_raw_weights/psnr": {1000: 28.25}}
  assert run_logs.markdown_table(scalars, min_step=600).splitlines() == [
      "| step | validation/psnr | validation_raw_weights/psnr |",
      "|---|---|---|",
      "| 1000 | 29.000 | 28.250 |"]
  assert run_logs.markdown_table(scalars).splitlines()[2] == (
      "| 500 | 28.500 |  |")


def test_images_skipped_old_scalars_read_truncated_record_ends_file(tmp_path):
  writer = tf.summary.create_file_writer(str(tmp_path))
  with writer.as_default():
    tf.summary.scalar("validation/psnr", 27.5, step=1)
    tf.summary.image("validation_panels", tf.zeros([1, 4, 4, 1]), step=1)
    # A TF1-style scalar (simple_value), as older writers logged them.
    tf.summary.experimental.write_raw_pb(tf.compat.v1.Summary(value=[
        tf.compat.v1.Summary.Value(tag="validation/old", simple_value=3.5)
    ]).SerializeToString(), step=2)
  writer.close()
  (path,) = tmp_path.glob("events.out.tfevents.*")
  with open(path, "ab") as f:
    f.write(b"\x10\x00\x00")  # half a record header
  assert run_logs.read_scalars(tmp_path, prefix="") == {
      "validation/psnr": {1: 27.5}, "validation/old": {2: 3.5}}


def test_a_folder_without_event_files_is_named(tmp_path):
  with pytest.raises(FileNotFoundError, match=f"no TensorBoard event files in "
                     f"{tmp_path}"):
    run_logs.read_scalars(tmp_path)
