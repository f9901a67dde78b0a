"""Whether this machine computes bfloat16 natively, and the policy it trains in.

A GPU of compute capability 8.0 or later, or a CPU with AVX-512 BF16 or AMX,
computes bfloat16 convolutions natively; elsewhere TensorFlow emulates them,
far slower than float32 (docs/training.md, "Speed on the CPU"). Arm CPUs
with BF16 count as not native: untested.
"""

import functools

import tensorflow as tf

CPUINFO = "/proc/cpuinfo"
_NATIVE_CPU_FLAGS = frozenset(("avx512_bf16", "amx_bf16"))


def cpu_flags(cpuinfo=CPUINFO):
  """The set of CPU flags `cpuinfo` lists (its first "flags" line); empty
  when there is none or the file cannot be read (not Linux)."""
  try:
    with open(cpuinfo, encoding="utf-8") as f:
      for line in f:
        if line.startswith("flags"):
          return set(line.partition(":")[2].split())
  except OSError:
    pass
  return set()


def cpu_has_bfloat16(cpuinfo=CPUINFO):
  """True when the CPU flags listed in `cpuinfo` include AVX-512 BF16 or AMX
  BF16."""
  return bool(cpu_flags(cpuinfo) & _NATIVE_CPU_FLAGS)


def _gpu_has_bfloat16(gpu):
  details = tf.config.experimental.get_device_details(gpu)
  return tuple(details.get("compute_capability", (0, 0))) >= (8, 0)


@functools.lru_cache(maxsize=1)
def native_bfloat16():
  """True when this process computes bfloat16 natively: on its GPUs if it
  has any (all of compute capability 8.0 or later: Ampere and newer), else
  on its CPU (AVX-512 BF16 or AMX)."""
  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    return all(_gpu_has_bfloat16(gpu) for gpu in gpus)
  return cpu_has_bfloat16()


def policy(mixed_precision):
  """The Keras dtype policy for a run that asks for `mixed_precision`:
  "mixed_bfloat16" when it asks and bfloat16 is native here, else
  "float32"."""
  return ("mixed_bfloat16" if mixed_precision and native_bfloat16()
          else "float32")
