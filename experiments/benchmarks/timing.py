"""The benchmarks' one timer, and their one side-by-side comparison."""

import json
import os
import time

from rim_tf import experiment_flags
from rim_tf import metrics
from rim_tf.inference import engine


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


def rim_paths(weights, restore):
  """[(name, run)] of the RIM `weights` as the float32 Keras model and on
  `rim_tf.restore`'s fast path: run() = restore(restorer), each compiled
  by a first call outside the timing."""
  methods = []
  for fast in (False, True):
    restorer, _ = engine.Restorer.from_weights(weights, fast=fast)
    restore(restorer)
    methods.append((f"RIM {'fast path' if fast else 'float32'}",
                    lambda r=restorer: restore(r)))
  return methods


def report(rows, output, **facts):
  """Prints the load average (2 cores: above 2 means other jobs shared the
  CPU) and, with `output`, writes the command, `facts`, `rows` and the
  load as JSON there."""
  load = os.getloadavg()
  print("load {:.2f} {:.2f} {:.2f}".format(*load))
  if output:
    with open(experiment_flags.output_path(output), "w",
              encoding="utf-8") as f:
      json.dump({"command": experiment_flags.command_line(), **facts,
                 "rows": rows, "load": load}, f, indent=1)
