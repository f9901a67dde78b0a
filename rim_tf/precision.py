"""Whether this machine computes bfloat16 natively, and the policy it trains in.

A GPU, or a CPU with AVX-512 BF16 or AMX, computes bfloat16 convolutions
natively and faster than float32; elsewhere TensorFlow emulates them, far
slower than float32 (the colour recipe on an AVX2-only CPU: 80-87 s a step
in bfloat16 against 8-9 s in float32, docs/training.md).
"""

import functools

import tensorflow as tf

CPUINFO = "/proc/cpuinfo"


def cpu_has_bfloat16(cpuinfo=CPUINFO):
  """True when the CPU flags listed in `cpuinfo` include AVX-512 BF16 or AMX
  BF16; False when they do not or the file cannot be read (not Linux)."""
  try:
    with open(cpuinfo, encoding="utf-8") as f:
      flags = f.read().split()
  except OSError:
    return False
  return "avx512_bf16" in flags or "amx_bf16" in flags


@functools.lru_cache(maxsize=1)
def native_bfloat16():
  """True when this process computes bfloat16 natively (a GPU, or a CPU
  with AVX-512 BF16 or AMX)."""
  return bool(tf.config.list_physical_devices("GPU")) or cpu_has_bfloat16()


def policy(mixed_precision):
  """The Keras dtype policy for a run that asks for `mixed_precision`:
  "mixed_bfloat16" when it asks and bfloat16 is native here, else
  "float32"."""
  return ("mixed_bfloat16" if mixed_precision and native_bfloat16()
          else "float32")
