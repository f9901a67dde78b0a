"""Seconds per image of a shipped RIM and of BM3D, side by side, and PSNR vs T.

  python experiments/benchmarks/inference_speed.py --data_dir=DIR
  python experiments/benchmarks/inference_speed.py --weights=denoise_gray \
      --image_id=3096 --sigma=25 --steps=5,10,20,50

Restores one BSDS300 test image (481 x 321, gray) with 8-bit quantized
Gaussian noise of the evaluation's seed (`rim_tf.evaluation.protocols.noisy_image`):
the RIM (whole image, one pass, compiled once before timing) at every T of
--steps, and BM3D with the true sigma, in the same process. Prints seconds
per image (best of --repeats) and PSNR for each, and the machine's load
average (2 cores: a load above 2 means other jobs shared the CPU).
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from rim_tf import baselines
from rim_tf.data import bsds
from rim_tf.evaluation import protocols
from rim_tf import experiment_flags
from rim_tf.inference import engine
from rim_tf import metrics


FLAGS = flags.FLAGS
flags.DEFINE_string("weights", "denoise_gray", "Shipped name or .weights.h5.")
experiment_flags.define_data_dir()
flags.DEFINE_string("image_id", None, "BSDS300 test id (default: the first "
                    "BSD68 image).")
flags.DEFINE_float("sigma", 25.0, "Noise std on the 0-255 scale.")
flags.DEFINE_list("steps", ["5", "10", "20", "50"], "RIM steps T to time.")
flags.DEFINE_integer("repeats", 2, "Timed runs per method (best is kept).")


def _best_seconds(function, repeats):
  best, result = float("inf"), None
  for _ in range(repeats):
    start = time.perf_counter()
    result = function()
    best = min(best, time.perf_counter() - start)
  return best, result


def main(argv):
  del argv
  image_id = FLAGS.image_id or bsds.BSD68[0]
  clean = bsds.load_images("test", gray=True, data_dir=FLAGS.data_dir,
                           subset=[image_id])[image_id]
  noisy = protocols.noisy_image(
      clean, FLAGS.sigma, True, protocols.noise_seed(0, FLAGS.sigma, image_id))
  height, width = clean.shape[:2]
  print(f"image {image_id} ({width}x{height}, gray), sigma {FLAGS.sigma:g}, "
        f"8-bit quantized; noisy PSNR "
        f"{metrics.psnr_255(metrics.to_uint8(noisy), clean):.2f} dB")
  print(f"{'method':<24} {'s/image':>8} {'PSNR dB':>8}")
  for steps in (int(s) for s in FLAGS.steps):
    rim, _ = engine.Restorer.from_weights(FLAGS.weights, steps)
    rim.denoise(noisy, FLAGS.sigma)  # compile outside the timing
    seconds, estimate = _best_seconds(
        lambda r=rim: r.denoise(noisy, FLAGS.sigma), FLAGS.repeats)
    psnr = metrics.psnr_255(metrics.to_uint8(estimate), clean)
    print(f"{f'RIM {FLAGS.weights} T={steps}':<24} {seconds:>8.2f} "
          f"{psnr:>8.2f}", flush=True)
  seconds, estimate = _best_seconds(
      lambda: baselines.bm3d_denoise(noisy, FLAGS.sigma), FLAGS.repeats)
  psnr = metrics.psnr_255(metrics.to_uint8(estimate), clean)
  print(f"{'BM3D (true sigma)':<24} {seconds:>8.2f} {psnr:>8.2f}")
  print("load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
  app.run(main)
