"""Seconds per image of a shipped denoiser on each path, and of BM3D, side by side.

  python experiments/benchmarks/inference_speed.py --data_dir=DIR
  python experiments/benchmarks/inference_speed.py --weights=denoise_gray \
      --paths=float32,bfloat16,onnx --steps=10 --repeats=3

Restores one BSDS300 test image (481 x 321, gray) with 8-bit quantized
Gaussian noise of the evaluation's seed (`rim_tf.evaluation.protocols.noisy_image`)
in one process: BM3D with the true sigma first, then the RIM (whole image,
one pass, compiled before timing) on each path of --paths:

  float32    the Keras model in float32 (`rim_tf.restore(..., fast=False)`)
  bfloat16   the Keras model with its cell in mixed_bfloat16
  fast       the fast path of `rim_tf.restore`: the fused form
             (`rim_tf.inference.fused`) in `engine.fast_policy()`
  xla        float32, compiled with XLA
  savedmodel, onnx, litert
             the model exported by `rim_tf.export` and run by its runtime
             (skipped when the runtime is not installed)
  openvino, openvino_bf16
             the ONNX export under OpenVINO, in f32 or with its bf16
             precision hint

Prints the FLOPs of one RIM step on the image (TensorFlow's profiler on
the step's graph) and of the fused form's T steps, the ceiling (those FLOPs
at the speed of the cell's largest convolution alone), then per method seconds per image (best of --repeats),
PSNR, the ratio to BM3D's time and the RIM's GFLOP/s, then the machine's
load average (2 cores: above 2 means other jobs shared the CPU).
"""

import importlib.util
import json
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np
import tensorflow as tf

import timing  # pylint: disable=g-bad-import-order
from rim_tf import baselines
from rim_tf import experiment_flags
from rim_tf import metrics
from rim_tf import operators
from rim_tf import pretrained
from rim_tf.data import bsds
from rim_tf.evaluation import protocols
from rim_tf.inference import deploy
from rim_tf.inference import engine
from rim_tf.inference import fused as fused_rim

FLAGS = flags.FLAGS
flags.DEFINE_string("weights", "denoise_gray", "Shipped name or .weights.h5.")
experiment_flags.define_data_dir()
flags.DEFINE_string("image_id", None, "BSDS300 test id (default: the first "
                    "BSD68 image).")
flags.DEFINE_float("sigma", 25.0, "Noise std on the 0-255 scale.")
flags.DEFINE_integer("steps", 10, "RIM steps T.")
flags.DEFINE_list("paths", ["float32", "bfloat16", "fast", "xla",
                            "savedmodel", "onnx", "litert"],
                  "The paths to time.")
flags.DEFINE_integer("repeats", 3, "Timed runs per method (best is kept).")
flags.DEFINE_bool("profile", False, "Also print the share of each op type "
                  "in one restore on the bfloat16 and fast paths (TensorFlow's "
                  "profiler; needs `pip install xprof`).")
flags.DEFINE_string("output", None, "Also write the figures as JSON here "
                    "(docs/results/inference_speed.json is rendered into "
                    "docs/results.md).")
flags.DEFINE_integer("inter_op_threads", None, "TensorFlow's inter-op "
                     "threads (default: its own choice).")
flags.DEFINE_integer("intra_op_threads", None, "TensorFlow's intra-op "
                     "threads (default: its own choice).")


def _condition(model, y):
  """A cell's condition for timing (its value costs nothing), else None."""
  m = model.cell.condition_channels
  return tf.zeros(tf.stack([tf.shape(y)[0], m])) if m else None


def _gflop(shape, steps, fused=False):
  """GFLOP of `steps` RIM steps on an image of `shape` [1, H, W, C], of the
  Keras model or of its fused form."""
  from tensorflow.python.profiler import model_analyzer  # pylint: disable=g-import-not-at-top,g-direct-tensorflow-import
  from tensorflow.python.profiler import option_builder  # pylint: disable=g-import-not-at-top,g-direct-tensorflow-import
  model, _ = pretrained.load(FLAGS.weights)
  operator = operators.Identity((None, None, model.channels))
  final = (fused_rim.final_estimate_fn(model) if fused else
           model.final_estimate)
  run = tf.function(lambda y: final(y, operator, tf.constant([0.1]), steps,
                                    _condition(model, y)))
  graph = run.get_concrete_function(tf.TensorSpec(shape)).graph
  options = option_builder.ProfileOptionBuilder.float_operation()
  options["output"] = "none"
  return model_analyzer.profile(graph, options=options).total_float_ops / 1e9


def _conv_peak(shape, repeats=5):
  """GFLOP/s of the cell's largest convolution alone, in the fast path's
  dtype: the fused GRU gates, 3x3 over concat(x, h) at half resolution of
  an image of `shape` [1, H, W, C]. No restore can run its convolutions
  faster, so total GFLOP / this is the ceiling's time."""
  config = pretrained.config(FLAGS.weights).model
  inputs, outputs = config.features + config.gru_features, 2 * config.gru_features
  dtype = tf.bfloat16 if engine.fast_policy() == "mixed_bfloat16" else tf.float32
  half = [1, (shape[1] + 1) // 2, (shape[2] + 1) // 2, inputs]
  x = tf.cast(tf.random.uniform(half), dtype)
  kernel = tf.cast(tf.random.uniform([3, 3, inputs, outputs]) * 0.01, dtype)
  conv = tf.function(lambda x: tf.reduce_sum(tf.cast(
      tf.nn.conv2d(x, kernel, 1, "SAME")[0, 0, 0], tf.float32)))
  conv(x)
  seconds, _ = timing.best_seconds(lambda: conv(x).numpy(), repeats)
  return 2 * 9 * inputs * outputs * half[1] * half[2] / seconds / 1e9


def _op_profile(run, image, sigma, path, rows=12):
  """Prints the self time of each op type in one call of `run`, summed over
  TensorFlow's threads (IDLE: a thread waiting)."""
  import collections  # pylint: disable=g-import-not-at-top
  import glob  # pylint: disable=g-import-not-at-top
  import json  # pylint: disable=g-import-not-at-top
  from xprof.convert import raw_to_tool_data  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as folder:
    tf.profiler.experimental.start(folder)
    np.asarray(run(image, sigma))
    tf.profiler.experimental.stop()
    traces = glob.glob(os.path.join(folder, "**", "*.xplane.pb"),
                       recursive=True)
    data, _ = raw_to_tool_data.xspace_to_tool_data(
        traces, "framework_op_stats", {})
  table = json.loads(data)[0]
  columns = [c["id"] for c in table["cols"]]
  seconds = collections.Counter()
  for row in table["rows"]:
    values = dict(zip(columns, [c.get("v") for c in row["c"]]))
    seconds[values["type"]] += values["total_self_time"] / 1e6
  total = sum(seconds.values())
  print(f"op types of one {path} restore (self time over all threads, "
        f"{total:.2f} s):")
  for kind, value in seconds.most_common(rows):
    print(f"  {kind:<32} {value:6.2f} s {100 * value / total:5.1f} %")


def _keras_path(policy, jit_compile, steps, fused=False):
  model, _ = pretrained.load(FLAGS.weights, policy)
  operator = operators.Identity((None, None, model.channels))
  # The fast path's form: fused, its steps in a graph loop (exports unroll).
  final = (fused_rim.final_estimate_fn(model, loop=True) if fused else
           model.final_estimate)
  run = tf.function(lambda y, s: final(y, operator, s, steps,
                                       _condition(model, y)),
                    jit_compile=jit_compile)
  return lambda image, sigma: run(tf.constant(image), tf.constant(sigma))


def _exported_path(fmt, steps, folder):
  module = {"savedmodel": "tensorflow", "onnx": "onnxruntime",
            "litert": "ai_edge_litert", "openvino": "openvino",
            "openvino_bf16": "openvino"}[fmt]
  if importlib.util.find_spec(module) is None:
    return None
  if fmt.startswith("openvino"):
    import openvino  # pylint: disable=g-import-not-at-top
    path = deploy.export(FLAGS.weights, "onnx",
                         os.path.join(folder, f"{fmt}.onnx"), steps)
    core = openvino.Core()
    request = core.compile_model(core.read_model(str(path)), "CPU", {
        "INFERENCE_PRECISION_HINT": "bf16" if fmt.endswith("bf16") else "f32",
        "PERFORMANCE_HINT": "LATENCY"}).create_infer_request()
    return lambda image, sigma: next(iter(request.infer(
        {"image": image, "sigma": sigma}).values()))
  path = deploy.export(FLAGS.weights, fmt, os.path.join(folder, fmt),
                       steps)
  if fmt == "savedmodel":
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    return lambda image, sigma: serve(image=tf.constant(image),
                                      sigma=tf.constant(sigma))["restored"]
  if fmt == "onnx":
    import onnxruntime  # pylint: disable=g-import-not-at-top
    session = onnxruntime.InferenceSession(str(path))
    return lambda image, sigma: session.run(None, {"image": image,
                                                   "sigma": sigma})[0]
  from ai_edge_litert import interpreter as litert  # pylint: disable=g-import-not-at-top
  runner = litert.Interpreter(model_path=str(path))

  def run(image, sigma):
    details = {d["name"]: d for d in runner.get_input_details()}
    image_in = next(d for n, d in details.items() if "image" in n)
    sigma_in = next(d for n, d in details.items() if "sigma" in n)
    runner.resize_tensor_input(image_in["index"], image.shape)
    runner.resize_tensor_input(sigma_in["index"], sigma.shape)
    runner.allocate_tensors()
    runner.set_tensor(image_in["index"], image)
    runner.set_tensor(sigma_in["index"], sigma)
    runner.invoke()
    return runner.get_tensor(runner.get_output_details()[0]["index"])
  return run


def main(argv):
  del argv
  if FLAGS.inter_op_threads:
    tf.config.threading.set_inter_op_parallelism_threads(
        FLAGS.inter_op_threads)
  if FLAGS.intra_op_threads:
    tf.config.threading.set_intra_op_parallelism_threads(
        FLAGS.intra_op_threads)
  image_id = FLAGS.image_id or bsds.BSD68[0]
  clean = bsds.load_images("test", gray=True, data_dir=FLAGS.data_dir,
                           subset=[image_id])[image_id]
  noisy = protocols.noisy_image(
      clean, FLAGS.sigma, True, protocols.noise_seed(0, FLAGS.sigma, image_id))
  height, width = clean.shape[:2]
  print(f"image {image_id} ({width}x{height}, gray), sigma {FLAGS.sigma:g}, "
        f"8-bit quantized; noisy PSNR "
        f"{metrics.psnr_255(metrics.to_uint8(noisy), clean):.2f} dB")
  shape = [1, height, width, 1]
  gflop = FLAGS.steps * _gflop(shape, 1)
  fused_gflop = _gflop(shape, FLAGS.steps, fused=True)
  peak = _conv_peak(shape)
  print(f"one RIM step: {gflop / FLAGS.steps:.1f} GFLOP; T={FLAGS.steps}: "
        f"{gflop:.0f} GFLOP (fused form: {fused_gflop:.0f} GFLOP, the zero "
        f"first state's work skipped)")
  print(f"ceiling: the largest convolution alone runs at {peak:.0f} GFLOP/s "
        f"in {engine.fast_policy()}: {fused_gflop / peak:.2f} s for the "
        f"fused form's {fused_gflop:.0f} GFLOP")
  bm3d_seconds, estimate = timing.best_seconds(
      lambda: baselines.bm3d_denoise(noisy, FLAGS.sigma), FLAGS.repeats)
  psnr = metrics.psnr_255(metrics.to_uint8(estimate), clean)
  print(f"{'method':<36} {'s/image':>8} {'PSNR dB':>8} {'/ BM3D':>7} "
        f"{'GFLOP/s':>8}")
  print(f"{'BM3D (true sigma)':<36} {bm3d_seconds:>8.2f} {psnr:>8.3f} "
        f"{1.0:>7.2f}", flush=True)
  record = {"command": experiment_flags.command_line(),
            "image": f"{image_id} ({width}x{height}, gray, sigma "
                     f"{FLAGS.sigma:g}, 8-bit quantized)",
            "weights": FLAGS.weights, "steps": FLAGS.steps,
            "gflop": gflop, "fused_gflop": fused_gflop,
            "peak_gflop_per_s": peak, "policy": engine.fast_policy(),
            "rows": [{"path": "bm3d", "seconds": bm3d_seconds,
                      "psnr": psnr}]}
  image = noisy[None].astype(np.float32)
  sigma = np.array([FLAGS.sigma / 255.0], np.float32)
  with tempfile.TemporaryDirectory() as folder:
    for path in FLAGS.paths:
      if path == "fast":
        run = _keras_path(engine.fast_policy(), False, FLAGS.steps, True)
      elif path in ("float32", "bfloat16", "xla"):
        run = _keras_path("mixed_bfloat16" if path == "bfloat16" else
                          "float32", path == "xla", FLAGS.steps)
      else:
        run = _exported_path(path, FLAGS.steps, folder)
        if run is None:
          print(f"{path}: its runtime is not installed; skipped")
          continue
      try:
        run(image, sigma)  # Compile outside the timing.
      except Exception as error:  # pylint: disable=broad-except
        # A runtime that cannot run the model says why, in one line.
        print(f"{path}: failed ({type(error).__name__}: "
              f"{' '.join(str(error).split())[:160]})")
        continue
      seconds, out = timing.best_seconds(lambda r=run: np.asarray(r(image, sigma)),
                                   FLAGS.repeats)
      psnr = metrics.psnr_255(metrics.to_uint8(out[0]), clean)
      name = f"RIM {FLAGS.weights} T={FLAGS.steps} {path}"
      # Exports and the fast path run the fused form.
      work = gflop if path in ("float32", "bfloat16", "xla") else fused_gflop
      print(f"{name:<36} {seconds:>8.2f} {psnr:>8.3f} "
            f"{seconds / bm3d_seconds:>7.2f} {work / seconds:>8.0f}",
            flush=True)
      record["rows"].append({"path": path, "seconds": seconds, "psnr": psnr,
                             "gflop_per_s": work / seconds})
      if FLAGS.profile and path in ("bfloat16", "fast"):
        _op_profile(run, image, sigma, path)
  record["load"] = os.getloadavg()
  print("load {:.2f} {:.2f} {:.2f}".format(*record["load"]))
  if FLAGS.output:
    with open(experiment_flags.output_path(FLAGS.output), "w",
              encoding="utf-8") as f:
      json.dump(record, f, indent=1)


if __name__ == "__main__":
  app.run(main)
