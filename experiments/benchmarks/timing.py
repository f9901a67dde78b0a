"""The benchmarks' one timer, and their one side-by-side comparison."""

import time

from rim_tf import metrics


def best_seconds(function, repeats):
  """(fastest of `repeats` calls of `function()` in seconds, its result)."""
  best, result = float("inf"), None
  for _ in range(repeats):
    start = time.perf_counter()
    result = function()
    best = min(best, time.perf_counter() - start)
  return best, result


def compare(methods, clean_uint8, repeats):
  """Times each (name, run) of `methods` in order and prints its row.

  Args:
    methods: list of (name, run): run() -> float estimate [H, W, C] on
      [0, 1]; the first is the baseline the others' times are divided by.
    clean_uint8: the uint8 reference [H, W, C].
    repeats: timed runs per method (the fastest is kept).

  Returns:
    list of {"method", "seconds", "psnr"}: PSNR of the clipped, rounded
    estimate.
  """
  rows = []
  ratio = "/ " + methods[0][0]
  width = max(10, len(ratio))
  print(f"{'method':<24} {'s/image':>8} {'PSNR dB':>8} {ratio:>{width}}")
  for name, run in methods:
    seconds, estimate = best_seconds(run, repeats)
    psnr = metrics.psnr_255(metrics.to_uint8(estimate), clean_uint8)
    rows.append({"method": name, "seconds": seconds, "psnr": psnr})
    print(f"{name:<24} {seconds:>8.2f} {psnr:>8.3f} "
          f"{seconds / rows[0]['seconds']:>{width}.2f}", flush=True)
  return rows
