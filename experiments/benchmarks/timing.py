"""The benchmarks' one timer."""

import time


def best_seconds(function, repeats):
  """(fastest of `repeats` calls of `function()` in seconds, its result)."""
  best, result = float("inf"), None
  for _ in range(repeats):
    start = time.perf_counter()
    result = function()
    best = min(best, time.perf_counter() - start)
  return best, result
