"""Training and restoration speed of the RIM cells on this machine's CPU.

    python experiments/benchmarks/model_speed.py

For each cell (the paper's strided cell, the a-trous cell of footnote 5),
precision (float32, mixed_bfloat16) and XLA setting it prints the parameter
count, training patches/s (a full step: T unrolled RIM steps, backprop,
Adam; --batch_size patches of --patch_size^2, gray denoising) and the seconds
to restore one --image_size gray image (T steps, inference). Each number is
also given as achieved GFLOP/s, counted by tf.profiler on one cell step
(training ~ 3x the forward count), and as a fraction of the CPU's matrix
multiply peak in the same precision, measured right before and after that
row (the higher is used) so that load from other processes affects both
alike. The load average is printed with every row.

XLA on this CPU runs the backward convolutions some hundred times slower than
oneDNN does, so XLA training is timed with --xla_train_steps RIM steps
instead of T and its patches/s scaled to T (the cost is linear in T); such
rows are marked "*".
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import keras
import numpy as np
import tensorflow as tf

from rim_tf import model as rim_model
from rim_tf import operators

FLAGS = flags.FLAGS
flags.DEFINE_list("cells", ["rim", "atrous"], "Cell architectures.")
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"],
                  "Keras dtype policies.")
flags.DEFINE_list("xla", ["off", "on"], "jit_compile settings to time.")
flags.DEFINE_integer("batch_size", 32, "Training patches per step.")
flags.DEFINE_integer("patch_size", 32, "Training patch side.")
flags.DEFINE_integer("steps", 20, "RIM steps T, training and restoration.")
flags.DEFINE_integer("train_batches", 3, "Timed training steps per setting.")
flags.DEFINE_integer("restore_repeats", 2, "Timed restorations per setting.")
flags.DEFINE_list("image_size", ["481", "321"], "H, W of the restored image.")
flags.DEFINE_float("sigma_255", 25.0, "Noise std of the denoising problem.")
flags.DEFINE_integer("xla_train_steps", 2,
                     "RIM steps of the timed XLA training steps.")

# Training costs about three forward passes: the forward, the input
# gradients and the weight gradients, each a convolution of the same size.
_TRAIN_FLOP_FACTOR = 3


def _load():
  return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _best_time(function, repeats):
  """Seconds of the fastest of `repeats` calls (after the first, untimed)."""
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    tf.nest.map_structure(lambda t: t.numpy(), function())
    times.append(time.perf_counter() - start)
  return min(times)


def matmul_peak(dtype, size=2048, repeats=5):
  """GFLOP/s of a [size, size] x [size, size] matmul in `dtype`."""
  a = tf.cast(tf.random.normal([size, size]), dtype)
  b = tf.cast(tf.random.normal([size, size]), dtype)
  matmul = tf.function(lambda: tf.matmul(a, b))
  matmul()
  return 2 * size**3 / _best_time(matmul, repeats) / 1e9


def cell_forward_flops(cell, image_shape):
  """FLOPs of one forward cell step on an [N, H, W, C] image batch."""
  spec = tf.TensorSpec(image_shape)
  state = [tf.TensorSpec(s.shape)
           for s in cell.initial_state(tf.zeros(image_shape))]
  graph = tf.function(
      lambda eta, grad, state: cell(eta, grad, tuple(state))[0]
  ).get_concrete_function(spec, spec, state).graph
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options["output"] = "none"
  return tf.compat.v1.profiler.profile(graph, options=options).total_float_ops


def _denoising_problem(shape, seed):
  rng = np.random.default_rng(seed)
  clean = rng.uniform(size=shape).astype(np.float32)
  sigma = FLAGS.sigma_255 / 255
  noisy = clean + sigma * rng.standard_normal(shape).astype(np.float32)
  return operators.Identity(shape[1:]), tf.constant(noisy), sigma, clean


def training_rate(model, jit_compile, steps, repeats):
  """(first-call seconds, patches/s) of full training steps of T = `steps`."""
  size = FLAGS.patch_size
  op, noisy, sigma, clean = _denoising_problem(
      (FLAGS.batch_size, size, size, 1), seed=0)
  optimizer = keras.optimizers.Adam(1e-4)

  @tf.function(jit_compile=jit_compile)
  def train_step():
    with tf.GradientTape() as tape:
      estimates, _ = model(noisy, operator=op, sigma=sigma,
                           steps=steps, training=True)
      loss, _ = rim_model.rim_loss(estimates, clean)
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss

  first_call = _best_time(train_step, 1)
  return first_call, FLAGS.batch_size / _best_time(train_step, repeats)


def restoration_time(model, jit_compile):
  """(first-call seconds, seconds per image) of restoring one gray image."""
  height, width = (int(s) for s in FLAGS.image_size)
  op, noisy, sigma, _ = _denoising_problem((1, height, width, 1), seed=1)
  restore = tf.function(
      lambda: model(noisy, operator=op, sigma=sigma, steps=FLAGS.steps)[1],
      jit_compile=jit_compile)
  first_call = _best_time(restore, 1)
  return first_call, _best_time(restore, FLAGS.restore_repeats)


def _cpu_flags():
  with open("/proc/cpuinfo") as cpuinfo:
    flags_line = next(line for line in cpuinfo if line.startswith("flags"))
  wanted = ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
  return " ".join(f for f in wanted if f in flags_line.split())


def main(argv):
  del argv
  # Each setting builds new tf.functions on purpose; TF's retracing warnings
  # would only clutter the table.
  tf.get_logger().setLevel("ERROR")
  height, width = (int(s) for s in FLAGS.image_size)
  print(f"cpus={os.cpu_count()} tf={tf.__version__} keras={keras.__version__}"
        f" batch={FLAGS.batch_size} patch={FLAGS.patch_size} T={FLAGS.steps}"
        f" image={height}x{width} onednn="
        f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default')} cpu flags: "
        f"{_cpu_flags()} {_load()}")
  print(f"{'cell':7s} {'policy':15s} {'xla':4s} {'params':>9s} | "
        f"{'train p/s':>9s} {'GFLOP/s':>7s} {'%peak':>5s} {'1st call':>8s} | "
        f"{'restore s':>9s} {'GFLOP/s':>7s} {'%peak':>5s} {'1st call':>8s} | "
        f"{'peak':>5s} | load")
  for architecture in FLAGS.cells:
    for policy in FLAGS.precisions:
      keras.mixed_precision.set_global_policy(policy)
      model = rim_model.build_rim(architecture, channels=1)
      size = FLAGS.patch_size
      train_flops = (_TRAIN_FLOP_FACTOR * FLAGS.steps * cell_forward_flops(
          model.cell, (1, size, size, 1)))
      restore_flops = FLAGS.steps * cell_forward_flops(
          model.cell, (1, height, width, 1))
      for xla in FLAGS.xla:
        jit = {"off": False, "on": True}[xla]
        peak = matmul_peak(model.cell.compute_dtype)
        train_steps = FLAGS.xla_train_steps if jit else FLAGS.steps
        train_first, rate = training_rate(
            model, jit, train_steps, 1 if jit else FLAGS.train_batches)
        rate *= train_steps / FLAGS.steps
        restore_first, seconds = restoration_time(model, jit)
        peak = max(peak, matmul_peak(model.cell.compute_dtype))
        train_gflops = rate * train_flops / 1e9
        restore_gflops = restore_flops / seconds / 1e9
        print(f"{architecture:7s} {policy:15s} {xla:4s} "
              f"{model.count_params():9,d} | {rate:8.2f}{'*' if jit else ' '}"
              f" {train_gflops:7.0f} "
              f"{100 * train_gflops / peak:5.0f} {train_first:7.0f}s | "
              f"{seconds:9.2f} {restore_gflops:7.0f} "
              f"{100 * restore_gflops / peak:5.0f} {restore_first:7.0f}s | "
              f"{peak:5.0f} | {_load()}", flush=True)


if __name__ == "__main__":
  app.run(main)
