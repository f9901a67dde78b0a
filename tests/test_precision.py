"""The bfloat16 check and the policy a run trains and restores in."""

import pytest

from rim_tf import precision

_FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma {}\nbugs\t\t: none\n"


@pytest.mark.parametrize("extra, native", [
    ("avx512f avx512_bf16", True),   # Zen 4, Cooper Lake and later Xeons.
    ("amx_bf16 amx_tile", True),     # Sapphire Rapids.
    ("avx512f avx512bw", False),     # AVX-512 without BF16.
    ("", False),                     # AVX2 only.
    ("avx512_bf16x", False),         # Only whole flags count.
])
def test_cpu_has_bfloat16_reads_the_flags(tmp_path, extra, native):
  cpuinfo = tmp_path / "cpuinfo"
  cpuinfo.write_text(_FLAGS.format(extra), encoding="utf-8")
  assert precision.cpu_has_bfloat16(str(cpuinfo)) is native


def test_without_cpuinfo_the_cpu_counts_as_not_native(tmp_path):
  assert precision.cpu_has_bfloat16(str(tmp_path / "missing")) is False


@pytest.mark.parametrize("native", [True, False])
def test_policy_is_bfloat16_only_when_asked_and_native(monkeypatch, native):
  monkeypatch.setattr(precision, "native_bfloat16", lambda: native)
  assert precision.policy(True) == ("mixed_bfloat16" if native else "float32")
  assert precision.policy(False) == "float32"


@pytest.mark.parametrize("capabilities, native", [
    ([(7, 0)], False),           # V100: no bfloat16 units.
    ([(8, 0)], True),            # A100.
    ([(8, 6), (7, 5)], False),   # One T4 among them.
    ([], None),                  # No GPU: the CPU decides.
])
def test_gpus_count_as_native_from_compute_capability_8(
    monkeypatch, capabilities, native):
  gpus = [f"GPU:{i}" for i in range(len(capabilities))]
  monkeypatch.setattr(precision.tf.config, "list_physical_devices",
                      lambda kind=None: gpus if kind == "GPU" else [])
  monkeypatch.setattr(
      precision.tf.config.experimental, "get_device_details",
      lambda gpu: {"compute_capability": capabilities[gpus.index(gpu)]})
  monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: "cpu")
  expected = "cpu" if native is None else native
  assert precision.native_bfloat16.__wrapped__() == expected
