"""Blur by FFT against direct convolution, side by side.

  python experiments/benchmarks/blur_speed.py

For each boundary and kernel side, times A and A^T together (what one RIM step needs)
in a compiled function, on a full test image (one kernel) and on a training
batch (one kernel per example), and prints milliseconds (median of
--repeats) and the ratio direct / FFT. Both methods run in this one
process, alternately, so a busy machine slows both alike.
"""

import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from rim_tf.operators import blur

FLAGS = flags.FLAGS
flags.DEFINE_list("sides", ["7", "13", "19", "25", "31"], "Kernel sides.")
flags.DEFINE_integer("repeats", 7, "Timed calls per case (median).")


def _timer(method, kernel, shape, boundary):
  @tf.function
  def both(x):
    op = blur.Blur(kernel, shape[1:], boundary, method)
    return op.adjoint(op.forward(x))
  x = tf.random.uniform(shape, seed=0)
  both(x).numpy()  # Trace and warm up.

  def run():
    start = time.perf_counter()
    both(x).numpy()
    return time.perf_counter() - start
  return run


def main(argv):
  del argv
  cases = {"image 481x321, one kernel": ((1, 321, 481, 1), False),
           "batch 32x64x64, per example": ((32, 64, 64, 1), True)}
  print(f"{'case':30s} {'boundary':>9s} {'side':>4s} {'fft ms':>8s} {'direct ms':>10s} "
        f"{'direct/fft':>10s}")
  rng = np.random.default_rng(0)
  for name, (shape, per_example) in cases.items():
    for boundary in blur.BOUNDARIES:
      for side in map(int, FLAGS.sides):
        kernel = rng.random(((shape[0],) if per_example else ()) +
                            (side, side)).astype(np.float32)
        timers = {m: _timer(m, kernel, shape, boundary) for m in blur.METHODS}
        times = {m: [] for m in blur.METHODS}
        for _ in range(FLAGS.repeats):
          for m in blur.METHODS:
            times[m].append(timers[m]())
        fft, direct = (1e3 * float(np.median(times[m])) for m in
                       ("fft", "direct"))
        print(f"{name:30s} {boundary:>9s} {side:4d} {fft:8.1f} {direct:10.1f} "
              f"{direct / fft:10.2f}", flush=True)


if __name__ == "__main__":
  app.run(main)
