"""How closely tiled restoration matches one whole-image pass, and its cost.

  python experiments/benchmarks/tiling_agreement.py --data_dir=DIR
  python experiments/benchmarks/tiling_agreement.py --tiles=128,256 \
      --overlaps=16,32,48 --steps=10,20

Denoises one BSDS300 test image (481 x 321, gray, sigma 25, the evaluation's
noise) with a shipped RIM in one pass and in overlapping tiles
(`rim_tf.inference.engine.Restorer.denoise(..., tile=, overlap=)`), and prints
for every tile size, overlap and T the largest absolute difference (on the
0-255 scale), how many pixels differ after rounding to uint8, and seconds.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np

from rim_tf.data import bsds
from rim_tf.evaluation import protocols
from rim_tf import experiment_flags
from rim_tf.inference import engine
from rim_tf import metrics


FLAGS = flags.FLAGS
flags.DEFINE_string("weights", "denoise_gray", "Shipped name or .weights.h5.")
experiment_flags.define_data_dir()
flags.DEFINE_string("image_id", None, "Test id (default: first BSD68 image).")
flags.DEFINE_list("tiles", ["128", "256"], "Tile sides in pixels.")
flags.DEFINE_list("overlaps", ["16", "32", "48"], "Overlaps in pixels.")
flags.DEFINE_list("steps", ["10", "20"], "RIM steps T.")


def main(argv):
  del argv
  image_id = FLAGS.image_id or bsds.BSD68[0]
  clean = bsds.load_images("test", gray=True, data_dir=FLAGS.data_dir,
                           subset=[image_id])[image_id]
  noisy = protocols.noisy_image(clean, 25, False,
                                protocols.noise_seed(0, 25, image_id))
  print(f"image {image_id} {clean.shape[1]}x{clean.shape[0]}, sigma 25, "
        f"weights {FLAGS.weights}")
  print(f"{'T':>3} {'tile':>5} {'overlap':>7} {'max|diff|*255':>13} "
        f"{'uint8 px differ':>15} {'seconds':>8}")
  for steps in (int(s) for s in FLAGS.steps):
    rim, _ = engine.Restorer.from_weights(FLAGS.weights, steps)
    start = time.perf_counter()
    whole = rim.denoise(noisy, 25)
    print(f"{steps:>3} {'whole':>5} {'':>7} {'':>13} {'':>15} "
          f"{time.perf_counter() - start:>8.1f}   PSNR "
          f"{metrics.psnr_255(metrics.to_uint8(whole), clean):.2f} dB",
          flush=True)
    for tile in (int(t) for t in FLAGS.tiles):
      for overlap in (int(o) for o in FLAGS.overlaps):
        start = time.perf_counter()
        tiled = rim.denoise(noisy, 25, tile=tile, overlap=overlap)
        seconds = time.perf_counter() - start
        differ = int(np.sum(metrics.to_uint8(tiled) !=
                            metrics.to_uint8(whole)))
        print(f"{steps:>3} {tile:>5} {overlap:>7} "
              f"{255 * np.abs(tiled - whole).max():>13.4f} {differ:>15d} "
              f"{seconds:>8.1f}", flush=True)


if __name__ == "__main__":
  app.run(main)
