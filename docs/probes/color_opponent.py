"""Probe: is the colour RIM held back by what it learned, or by its task?

Scores, on the first CBSD68 images with unclipped (or 8-bit quantized)
white Gaussian noise at sigma 15 / 25 / 50, on the same noisy images:

  - `denoise_color`, the shipped colour RIM;
  - the gray RIM `denoise_gray` run on each channel of the opponent colour
    space of `rim_tf.data.colour` (the noise stays white there, with a
    known sigma per channel), the way CBM3D decorrelates;
  - the mean of the two estimates;
  - CBM3D with the true sigma (cached with --baseline_cache).

Prints and writes (--output) the mean PSNRs.

  RIM_DATA_DIR=DATA python docs/probes/color_opponent.py --num_images=10 \
      --baseline_cache=CACHE --output=docs/results/color_opponent_first10.json
"""

import itertools
import json

from absl import app
from absl import flags
import numpy as np

from rim_tf import baselines
from rim_tf import experiment_flags
from rim_tf import metrics
from rim_tf.data import bsds
from rim_tf.data import colour
from rim_tf.data import degrade
from rim_tf.evaluation import baseline_cache
from rim_tf.inference import engine

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_images", 10, "First CBSD68 images.")
flags.DEFINE_list("sigmas", ["15", "25", "50"], "Noise levels, 0-255.")
flags.DEFINE_bool("quantized", False, "8-bit quantized noisy images.")
flags.DEFINE_string("baseline_cache", None, "Folder of cached baselines.")
flags.DEFINE_string("output", None, "JSON of the mean PSNRs.")
experiment_flags.define_data_dir()

def gray_in_opponent_space(restorer, noisy, sigma_255):
  """The gray restorer on each opponent channel of `noisy` [H, W, 3]."""
  channels = colour.to_opponent(noisy)
  out = np.stack([
      restorer.denoise(channels[..., c:c + 1],
                       sigma_255 * colour.NOISE_GAIN[c])[..., 0]
      for c in range(3)], axis=-1)
  return colour.from_opponent(out)


def main(argv):
  del argv
  images = bsds.load_images("test", gray=False, data_dir=FLAGS.data_dir,
                            subset="bsd68")
  images = dict(itertools.islice(images.items(), FLAGS.num_images))
  gray, _ = engine.Restorer.from_weights("denoise_gray")
  color, _ = engine.Restorer.from_weights("denoise_color")
  # The evaluation's name for it: entries are shared with evaluate.py.
  cbm3d = baseline_cache.cached({"cbm3d": baselines.cbm3d_denoise},
                                FLAGS.baseline_cache)["cbm3d"]
  found = {}
  for sigma in (float(s) for s in FLAGS.sigmas):
    scores = {}
    for image_id, clean in images.items():
      noisy = degrade.noisy_image(clean, sigma, FLAGS.quantized,
                                  degrade.noise_seed(0, sigma, image_id))
      rim = color.denoise(noisy, sigma)
      opponent = gray_in_opponent_space(gray, noisy, sigma)
      for name, estimate in (("denoise_color", rim),
                             ("denoise_gray, opponent space", opponent),
                             ("mean of the two", (rim + opponent) / 2),
                             ("CBM3D", cbm3d(noisy, sigma))):
        scores.setdefault(name, []).append(
            metrics.psnr_255(metrics.to_uint8(estimate), clean))
    setting = f"sigma{sigma:g}" + ("_q8" if FLAGS.quantized else "")
    found[setting] = {name: float(np.mean(s)) for name, s in scores.items()}
    print(setting, {n: round(v, 2) for n, v in found[setting].items()},
          flush=True)
  if FLAGS.output:
    with open(FLAGS.output, "w", encoding="utf-8") as f:
      json.dump({"images": len(images), "psnr": found,
                 "command": experiment_flags.command_line()}, f, indent=1)
      f.write("\n")


if __name__ == "__main__":
  app.run(main)
