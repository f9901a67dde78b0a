"""Seconds per RGB image of a colour denoising RIM and of CBM3D, side by side.

  python experiments/benchmarks/color_speed.py --data_dir=DIR \
      --weights=denoise_color --sigma=25 [--quantized] [--output=OUT.json]

One BSDS300 test image (default: the first of CBSD68, 481 x 321) with the
evaluation's Gaussian noise (`rim_tf.evaluation.protocols.noisy_image`,
unclipped unless --quantized), restored in one process: CBM3D with the
true sigma first, then the RIM (whole image, compiled before timing) as
the float32 Keras model and on `rim_tf.restore`'s fast path. Prints per
method seconds (best of --repeats), PSNR and the ratio to CBM3D's time,
then the load average (2 cores: above 2 means other jobs shared the CPU).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

import timing  # pylint: disable=g-bad-import-order
from rim_tf import baselines
from rim_tf import experiment_flags
from rim_tf import metrics
from rim_tf.data import bsds
from rim_tf.evaluation import protocols

FLAGS = flags.FLAGS
flags.DEFINE_string("weights", "denoise_color", "Shipped name or "
                    ".weights.h5 of a denoising RIM (colour, or gray in "
                    "opponent space).")
experiment_flags.define_data_dir()
flags.DEFINE_string("image_id", None, "BSDS300 test id (default: the first "
                    "CBSD68 image).")
flags.DEFINE_float("sigma", 25.0, "Noise std on the 0-255 scale.")
flags.DEFINE_bool("quantized", False, "8-bit quantized noisy input instead "
                  "of unclipped.")
flags.DEFINE_integer("repeats", 3, "Timed runs per method (best is kept).")
flags.DEFINE_string("output", None, "Also write the figures as JSON here.")


def main(argv):
  del argv
  if not FLAGS.sigma > 0:
    raise app.UsageError(f"--sigma must be > 0, got {FLAGS.sigma}.")
  image_id = FLAGS.image_id or bsds.BSD68[0]
  clean = bsds.load_images("test", gray=False, data_dir=FLAGS.data_dir,
                           subset=[image_id])[image_id]
  noisy = protocols.noisy_image(
      clean, FLAGS.sigma, FLAGS.quantized,
      protocols.noise_seed(0, FLAGS.sigma, image_id))
  height, width = clean.shape[:2]
  print(f"image {image_id} ({width}x{height}, RGB), sigma {FLAGS.sigma:g} "
        f"{'8-bit quantized' if FLAGS.quantized else 'unclipped'}; noisy "
        f"PSNR {metrics.psnr_255(metrics.to_uint8(noisy), clean):.2f} dB")
  methods = [("CBM3D", lambda: baselines.cbm3d_denoise(noisy, FLAGS.sigma))]
  methods += timing.rim_paths(
      FLAGS.weights, lambda restorer: restorer.denoise(noisy, FLAGS.sigma))
  rows = timing.compare(methods, clean, FLAGS.repeats)
  timing.report(rows, FLAGS.output, image=image_id, sigma=FLAGS.sigma,
                quantized=FLAGS.quantized)


if __name__ == "__main__":
  app.run(main)
