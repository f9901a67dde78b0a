"""Training and restoration speed of the RIM cells on this machine's CPU.

    python experiments/benchmarks/model_speed.py

For each cell (the paper's strided cell, the a-trous cell of footnote 5),
precision (float32, mixed_bfloat16) and XLA setting it prints the parameter
count, training patches/s and the seconds to restore one --image_size gray
image (T steps). Training is the trainer's own step (`rim_tf.training.
Trainer.train` on --batch_size patches of --patch_size^2, gray denoising,
under the default MirroredStrategy: T unrolled RIM steps, backprop, the one
gradient sum over replicas, clipping, Adam, the per-step PSNR), timed over
--train_batches steps after a first one that traces. Restoration is
`rim_tf.inference.engine.Restorer.denoise`, what `rim_tf.restore` runs.
Each number is also given as achieved GFLOP/s, counted by tf.profiler on
one cell step (training ~ 3x the forward count), and as a fraction of the
CPU's matrix multiply peak in the same precision, measured right before
and after that row (the higher is used) so that load from other processes
affects both alike. The load average is printed with every row.

XLA on this CPU runs the backward convolutions some hundred times slower than
oneDNN does, so XLA training is timed with --xla_train_steps RIM steps
instead of T and its patches/s scaled to T (the cost is linear in T); such
rows are marked "*".
"""

import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import keras
import numpy as np
import tensorflow as tf

from rim_tf import configs
from rim_tf import precision
from rim_tf import training
from rim_tf.data import patches as rim_patches
from rim_tf.inference import engine

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
    tf.nest.map_structure(np.asarray, function())
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


def _config(architecture, policy, steps, jit_compile):
  """The paper's sizes of `architecture` (its preset), gray denoising at
  T = `steps`, nothing logged, validated or saved while timed."""
  paper = configs.preset("paper", "denoise")
  features = paper.model.gru_features if architecture == "rim" else 64
  return configs.override(paper, {
      "model.architecture": architecture, "model.gru_features": features,
      "task_args.patch": FLAGS.patch_size,
      "data.batch_size": FLAGS.batch_size, "data.num_validation": 0,
      "trainer.rim_steps": steps,
      "trainer.mixed_precision": policy == "mixed_bfloat16",
      "trainer.jit_compile": jit_compile, "trainer.train_steps": 10**6,
      "trainer.log_every": 10**6, "trainer.image_every": 10**6,
      "trainer.eval_every": 10**6, "trainer.checkpoint_every": 10**6})


def training_rate(architecture, policy, jit_compile, steps, repeats):
  """(trainer, first-call seconds, patches/s) of the trainer's own steps at
  T = `steps`."""
  rng = np.random.default_rng(0)
  images = [rng.integers(0, 256, (96, 96, 1), np.uint8) for _ in range(4)]
  patches = rim_patches.PatchDataset(images, patch_size=FLAGS.patch_size,
                                     stride=4, num_validation=0)
  with tempfile.TemporaryDirectory() as run_dir:
    trainer = training.Trainer(
        _config(architecture, policy, steps, jit_compile), run_dir,
        patches=patches)
    start = time.perf_counter()
    trainer.train(1)
    first_call = time.perf_counter() - start
    start = time.perf_counter()
    trainer.train(1 + repeats)
    seconds = time.perf_counter() - start
  return trainer, first_call, FLAGS.batch_size * repeats / seconds


def restoration_time(model, jit_compile):
  """(first-call seconds, seconds per image) of restoring one gray image
  with the restoration engine (`Restorer.denoise`)."""
  height, width = (int(s) for s in FLAGS.image_size)
  rng = np.random.default_rng(1)
  noisy = (rng.uniform(size=(height, width, 1)) + FLAGS.sigma_255 / 255 *
           rng.standard_normal((height, width, 1))).astype(np.float32)
  restorer = engine.Restorer(model, FLAGS.steps, jit_compile=jit_compile)
  restore = lambda: restorer.denoise(noisy, FLAGS.sigma_255)
  first_call = _best_time(restore, 1)
  return first_call, _best_time(restore, FLAGS.restore_repeats)


def _cpu_flags():
  wanted = ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
  return " ".join(f for f in wanted if f in precision.cpu_flags())


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
      if policy != precision.policy(policy == "mixed_bfloat16"):
        # The trainer would train it in float32 (rim_tf.precision).
        print(f"{architecture:7s} {policy:15s} skipped: bfloat16 is not "
              "native on this machine.")
        continue
      for xla in FLAGS.xla:
        jit = {"off": False, "on": True}[xla]
        train_steps = FLAGS.xla_train_steps if jit else FLAGS.steps
        peak = matmul_peak("bfloat16" if policy == "mixed_bfloat16"
                           else "float32")
        trainer, train_first, rate = training_rate(
            architecture, policy, jit, train_steps,
            1 if jit else FLAGS.train_batches)
        rate *= train_steps / FLAGS.steps
        model = trainer.model
        size = FLAGS.patch_size
        train_flops = (_TRAIN_FLOP_FACTOR * FLAGS.steps * cell_forward_flops(
            model.cell, (1, size, size, 1)))
        restore_flops = FLAGS.steps * cell_forward_flops(
            model.cell, (1, height, width, 1))
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
