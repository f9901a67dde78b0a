"""glibc's allocator told to keep the large buffers a CPU training step frees.

The first tf.data GeneratorDataset of a process (tf.distribute's
multi-device iterators make one for a training run's input) sets glibc's
M_TRIM_THRESHOLD to 128 KB. Setting it switches off glibc's dynamic mmap
threshold, so from then on every buffer above 128 KB -- each activation of a
training step -- is mapped, unmapped and its pages faulted in afresh on every
use. `keep_large_buffers` raises both thresholds again (docs/training.md,
"Speed on the CPU", measures what it gains).
"""

import ctypes
import ctypes.util
import platform
import sys

import tensorflow as tf

# mallopt's parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# The largest mmap threshold glibc accepts on 64-bit machines (half its
# arena heap size); buffers above it stay mapped.
MMAP_THRESHOLD = 32 * 2**20
# Free memory a heap keeps before giving it back to the system.
TRIM_THRESHOLD = 2**30


def mallopt():
  """glibc's mallopt(param, value) -> 1 or 0, or None where the C library
  is not glibc (macOS, Windows, musl)."""
  if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
    return None
  try:
    function = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
  except (OSError, AttributeError, TypeError):
    return None
  function.argtypes = (ctypes.c_int, ctypes.c_int)
  function.restype = ctypes.c_int
  return function


def set_thresholds(mmap_threshold, trim_threshold):
  """Sets glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD (bytes); True when
  glibc took both, False without glibc."""
  function = mallopt()
  if function is None:
    return False
  return bool(function(M_MMAP_THRESHOLD, int(mmap_threshold)) and
              function(M_TRIM_THRESHOLD, int(trim_threshold)))


def keep_large_buffers():
  """Lets TensorFlow's once-a-process allocator setting happen now, then
  raises the thresholds it lowered, so that buffers up to 32 MB are reused
  from the heap instead of mapped afresh. True when applied: on glibc, with
  no GPU (whose activations are not in glibc's heap)."""
  if tf.config.list_physical_devices("GPU") or mallopt() is None:
    return False
  # The setting comes with the first GeneratorDataset to run: run one, so
  # that no later pipeline lowers the thresholds after this.
  for _ in tf.data.Dataset.from_generator(
      lambda: iter((0,)), output_signature=tf.TensorSpec((), tf.int32)):
    pass
  return set_thresholds(MMAP_THRESHOLD, TRIM_THRESHOLD)
