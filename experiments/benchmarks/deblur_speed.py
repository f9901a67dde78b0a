"""Seconds per image of a deblurring RIM, BM3D-deblurring and Wiener, side by side.

  python experiments/benchmarks/deblur_speed.py --data_dir=DIR \
      --weights=deblur --kernel=1 --sigma=2.55 [--output=OUT.json]

One BSDS300 test image (default: the first of BSD68), blurred circularly by
one of Levin et al.'s kernels with the benchmark's noise
(`rim_tf.data.degrade.blurred_image`), restored in one process: BM3D-
deblurring and the Wiener filter with the true kernel and sigma, then the
RIM (whole image, compiled before timing) as the float32 Keras model and
on `rim_tf.restore`'s fast path. Prints per method seconds (best of
--repeats), PSNR and the ratio to BM3D-deblurring's time, then the load
average (2 cores: above 2 means other jobs shared the CPU).
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
from rim_tf.data import degrade
from rim_tf.data import kernels

FLAGS = flags.FLAGS
flags.DEFINE_string("weights", "deblur", "Shipped name or .weights.h5 of a "
                    "deblurring RIM.")
experiment_flags.define_data_dir()
flags.DEFINE_string("image_id", None, "BSDS300 test id (default: the first "
                    "BSD68 image).")
flags.DEFINE_integer("kernel", 1, "Levin et al.'s kernel, 1 to 8.")
flags.DEFINE_float("sigma", 2.55, "Noise std on the 0-255 scale.")
flags.DEFINE_integer("repeats", 3, "Timed runs per method (best is kept).")
flags.DEFINE_string("output", None, "Also write the figures as JSON here.")


def main(argv):
  del argv
  if not 1 <= FLAGS.kernel <= 8:
    raise app.UsageError(f"--kernel must be 1 to 8, got {FLAGS.kernel}.")
  image_id = FLAGS.image_id or bsds.BSD68[0]
  clean = bsds.load_images("test", gray=True, data_dir=FLAGS.data_dir,
                           subset=[image_id])[image_id]
  kernel = kernels.levin09()[FLAGS.kernel - 1]
  blurred = degrade.blurred_image(clean, kernel, FLAGS.sigma)
  height, width = clean.shape[:2]
  print(f"image {image_id} ({width}x{height}, gray), Levin kernel "
        f"{FLAGS.kernel} ({kernel.shape[0]}x{kernel.shape[1]}), sigma "
        f"{FLAGS.sigma:g}; blurred PSNR "
        f"{metrics.psnr_255(metrics.to_uint8(blurred), clean):.2f} dB")
  methods = [("BM3D-deblurring", lambda: baselines.bm3d_deblur(
      blurred, kernel, FLAGS.sigma)),
             ("Wiener", lambda: baselines.wiener_deblur(
                 blurred, kernel, FLAGS.sigma))]
  methods += timing.rim_paths(
      FLAGS.weights,
      lambda restorer: restorer.deblur(blurred, kernel, FLAGS.sigma))
  rows = timing.compare(methods, clean, FLAGS.repeats)
  timing.report(rows, FLAGS.output, image=image_id, kernel=FLAGS.kernel,
                sigma=FLAGS.sigma)


if __name__ == "__main__":
  app.run(main)
