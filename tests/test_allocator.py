"""glibc's thresholds, as TensorFlow leaves them and as the trainer keeps them.

Each case runs in a fresh process (the thresholds and the heap are the
process's); `measure()` there reports how many bytes of one new 24 MB buffer
glibc mapped with mmap (mallinfo2's hblkhd) instead of serving it from the
heap.
"""

import pathlib
import subprocess
import sys
import textwrap

import pytest

from rim_tf.training import allocator

pytestmark = pytest.mark.skipif(allocator.mallopt() is None,
                                reason="glibc's allocator only")

_ROOT = pathlib.Path(__file__).resolve().parent.parent
_BUFFER = 24 * 2**20


def mapped_bytes(body):
  """The bytes each `measure()` of `body` saw mapped (Python run in a fresh
  process with numpy as np, tensorflow as tf and allocator imported)."""
  script = textwrap.dedent(f"""
      import ctypes
      import numpy as np
      import tensorflow as tf
      from rim_tf.training import allocator

      class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
            "fsmblks", "uordblks", "fordblks", "keepcost")]

      mallinfo2 = ctypes.CDLL(None).mallinfo2
      mallinfo2.restype = Mallinfo2

      def measure():
        before = mallinfo2().hblkhd
        buffer = np.ones({_BUFFER // 8})
        print("MAPPED", mallinfo2().hblkhd - before)
        del buffer
  """) + textwrap.dedent(body)
  out = subprocess.run([sys.executable, "-c", script], capture_output=True,
                       text=True, check=True, cwd=_ROOT).stdout
  return [int(line.split()[1]) for line in out.splitlines()
          if line.startswith("MAPPED")]


def test_keep_large_buffers_undoes_tensorflows_generator_setting():
  after_tensorflow, kept = mapped_bytes("""
      for _ in tf.data.Dataset.from_generator(
          lambda: iter((0,)), output_signature=tf.TensorSpec((), tf.int32)):
        pass
      measure()
      assert allocator.keep_large_buffers()
      measure()
  """)
  if after_tensorflow < _BUFFER:
    pytest.skip("this TensorFlow's GeneratorDataset no longer lowers glibc's "
                "thresholds: rim_tf.training.allocator may go.")
  assert kept == 0


def test_a_trainer_keeps_large_buffers_in_the_heap_unless_told_not_to():
  at_tensorflows, left_alone, in_training = mapped_bytes("""
      import tempfile
      from rim_tf import configs
      from rim_tf import data as rim_data
      from rim_tf import training
      allocator.set_thresholds(128 * 1024, 128 * 1024)
      measure()
      rng = np.random.default_rng(0)
      patches = rim_data.PatchDataset(
          [rng.integers(0, 256, (24, 24, 1), dtype=np.uint8)], patch_size=8,
          stride=4, num_validation=2)
      config = configs.override(configs.preset("smoke", "denoise"),
                                {"task_args": {"patch": 8}})
      training.Trainer(config, tempfile.mkdtemp(), patches=patches,
                       keep_large_buffers=False)
      measure()
      training.Trainer(config, tempfile.mkdtemp(), patches=patches)
      measure()
  """)
  assert at_tensorflows >= _BUFFER
  assert left_alone >= _BUFFER
  assert in_training == 0


def test_without_glibc_nothing_is_set(monkeypatch):
  monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("", ""))
  assert allocator.mallopt() is None
  assert allocator.set_thresholds(1, 1) is False
  assert allocator.keep_large_buffers() is False


@pytest.mark.slow
def test_the_benchmark_sees_the_faults_the_setting_saves():
  # The smoke model's activations (batch 8 of 32 x 32 x 16 floats, 512 KB)
  # are above TensorFlow's 128 KB threshold: mapped afresh each step
  # unless the trainer keeps them.
  done = subprocess.run(
      [sys.executable, str(_ROOT / "experiments/benchmarks/allocator_speed.py"),
       "--preset=smoke", "--set=data.source=builtin",
       "--set=data.num_validation=2", "--warmup_steps=2", "--steps=3"],
      capture_output=True, text=True, check=False, cwd=_ROOT)
  assert done.returncode == 0, done.stderr[-3000:]
  faults = {}
  for line in done.stdout.splitlines():
    for label in ("the trainer's setting", "as TensorFlow leaves it"):
      if line.startswith(label):
        seconds, faults[label], _, _ = map(float, line[len(label):].split())
        assert seconds > 0
  assert faults["as TensorFlow leaves it"] > 3 * faults["the trainer's setting"]
