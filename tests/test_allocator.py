"""glibc's thresholds, as TensorFlow leaves them and as the trainer keeps them."""

import pathlib
import resource
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rim_tf import allocator

_ROOT = pathlib.Path(__file__).resolve().parent.parent
_BUFFERS = 20
_PAGES = 2**23 // 4096  # Pages of one 8 MB buffer.


def faults_of_large_buffers():
  """Page faults of making and freeing 20 buffers of 8 MB, one at a time:
  about 20 x 2048 when each is mapped afresh, few when the heap keeps it."""
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  for _ in range(_BUFFERS):
    buffer = np.ones(2**20)
    del buffer
  return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_set_thresholds_decides_whether_large_buffers_are_mapped_afresh():
  try:
    assert allocator.set_thresholds(128 * 1024, 128 * 1024)
    faults_of_large_buffers()
    mapped = faults_of_large_buffers()
    assert allocator.keep_large_buffers()
    faults_of_large_buffers()
    kept = faults_of_large_buffers()
  finally:
    allocator.keep_large_buffers()
  assert mapped > _BUFFERS * _PAGES / 8
  assert kept < mapped / 10


def test_keep_large_buffers_undoes_tensorflows_generator_setting():
  script = textwrap.dedent("""
      import tensorflow as tf
      from tests import test_allocator
      from rim_tf import allocator
      for _ in tf.data.Dataset.from_generator(
          lambda: iter((0,)), output_signature=tf.TensorSpec((), tf.int32)):
        pass
      test_allocator.faults_of_large_buffers()
      print(test_allocator.faults_of_large_buffers())
      allocator.keep_large_buffers()
      test_allocator.faults_of_large_buffers()
      print(test_allocator.faults_of_large_buffers())
  """)
  out = subprocess.run([sys.executable, "-c", script], capture_output=True,
                       text=True, check=True, cwd=_ROOT).stdout.split()
  after_tensorflow, kept = int(out[-2]), int(out[-1])
  if after_tensorflow < _BUFFERS * _PAGES / 8:
    pytest.skip("this TensorFlow's GeneratorDataset no longer lowers glibc's "
                "thresholds: rim_tf.allocator may go.")
  assert kept < after_tensorflow / 10


def _faults_per_step(trainer, steps=3):
  trainer.train(int(trainer.step) + 1)  # Settles the allocator's state.
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  trainer.train(int(trainer.step) + steps)
  return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps


def test_a_trainer_keeps_its_activations_in_the_heap(tmp_path):
  from rim_tf import configs  # pylint: disable=g-import-not-at-top
  from rim_tf import data as rim_data  # pylint: disable=g-import-not-at-top
  from rim_tf import training  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  patches = rim_data.PatchDataset(
      [rng.integers(0, 256, (96, 96, 1), dtype=np.uint8)], patch_size=32,
      stride=4, num_validation=2)
  # Activations of 8 x 32 x 32 x 16 float32, 512 KB: above 128 KB.
  config = configs.override(configs.preset("smoke", "denoise"), {
      "task_args": {"patch": 32}, "trainer.train_steps": 100,
      "trainer.eval_every": 100, "trainer.image_every": 100,
      "trainer.checkpoint_every": 100})
  tensorflows = (128 * 1024, 128 * 1024)
  try:
    # As after TensorFlow's first GeneratorDataset.
    assert allocator.set_thresholds(*tensorflows)
    trainer = training.Trainer(config, tmp_path, patches=patches)
    kept = _faults_per_step(trainer)
    allocator.set_thresholds(*tensorflows)
    mapped = _faults_per_step(trainer)
  finally:
    allocator.keep_large_buffers()
  assert kept < mapped / 3, (kept, mapped)
