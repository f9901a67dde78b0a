"""Probe: where in colour does a RIM lose to CBM3D — luminance or chroma?

Restores the first CBSD68 images (white Gaussian noise, unclipped or 8-bit
quantized, the evaluation's noisy images) with each RIM of --weights and
with CBM3D (true sigma; cached with --baseline_cache), and splits each
method's RGB error over the three channels of the opponent colour space of
`rim_tf.data.colour` (orthogonal, so the RGB MSE is the sum of the
channels' MSEs / (3 NOISE_GAIN[c]^2)). Prints and writes (--output) per
method and channel the mean PSNR over the images and the mean share of
the RGB MSE.

  RIM_DATA_DIR=DATA python docs/probes/color_channels.py --num_images=3 \
      --weights=CTX_CAL.weights.h5 --names=context --sigmas=15 --baseline_cache=CACHE \
      --output=docs/results/color_channels_first3.json
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
flags.DEFINE_integer("num_images", 3, "First CBSD68 images.")
flags.DEFINE_list("weights", ["denoise_color"], "RIMs: shipped names or "
                  ".weights.h5 paths.")
flags.DEFINE_list("names", None, "Their names in the tables (default: the "
                  "--weights entries).")
flags.DEFINE_list("sigmas", ["15"], "Noise levels, 0-255.")
flags.DEFINE_bool("quantized", False, "8-bit quantized noisy images.")
flags.DEFINE_string("baseline_cache", None, "Folder of cached baselines.")
flags.DEFINE_string("output", None, "JSON of the per-channel scores.")
experiment_flags.define_data_dir()

CHANNELS = ("luminance", "chroma 1", "chroma 2")


def channel_errors(estimate01, clean_uint8):
  """MSE per opponent channel of the clipped, rounded `estimate01` [H, W, 3]
  against `clean_uint8`, each in its channel's own units ([3])."""
  estimate = metrics.to_uint8(estimate01).astype(np.float64) / 255.0
  clean = np.asarray(clean_uint8, np.float64) / 255.0
  difference = colour.to_opponent(estimate) - colour.to_opponent(clean)
  return np.mean(difference ** 2, axis=(0, 1))


def main(argv):
  del argv
  images = bsds.load_images("test", gray=False, data_dir=FLAGS.data_dir,
                            subset="bsd68")
  images = dict(itertools.islice(images.items(), FLAGS.num_images))
  names = FLAGS.names or FLAGS.weights
  if len(names) != len(FLAGS.weights):
    raise app.UsageError(f"--names has {len(names)} entries for "
                         f"{len(FLAGS.weights)} --weights.")
  rims = {name: engine.Restorer.from_weights(path)[0]
          for name, path in zip(names, FLAGS.weights)}
  # The evaluation's name for it: entries are shared with evaluate.py.
  cbm3d = baseline_cache.cached({"cbm3d": baselines.cbm3d_denoise},
                                FLAGS.baseline_cache)["cbm3d"]
  gains = np.asarray(colour.NOISE_GAIN, np.float64)
  found = {}
  for sigma in (float(s) for s in FLAGS.sigmas):
    errors = {}
    for image_id, clean in images.items():
      noisy = degrade.noisy_image(clean, sigma, FLAGS.quantized,
                                  degrade.noise_seed(0, sigma, image_id))
      estimates = {name: rim.denoise(noisy, sigma)
                   for name, rim in rims.items()}
      estimates["CBM3D"] = cbm3d(noisy, sigma)
      for name, estimate in estimates.items():
        errors.setdefault(name, []).append(channel_errors(estimate, clean))
    setting = f"sigma{sigma:g}" + ("_q8" if FLAGS.quantized else "")
    found[setting] = {}
    for name, per_image in errors.items():
      per_image = np.array(per_image)  # [images, 3]
      rgb = per_image / (3 * gains ** 2)
      found[setting][name] = {
          "psnr": dict(zip(CHANNELS, np.mean(
              -10 * np.log10(per_image), axis=0).round(4).tolist())),
          "share_of_rgb_mse": dict(zip(CHANNELS, np.mean(
              rgb / rgb.sum(axis=1, keepdims=True), axis=0).round(4)
                                       .tolist())),
          "rgb_psnr": float(np.mean(-10 * np.log10(rgb.sum(axis=1))))}
      print(setting, name, {k: round(v, 2) for k, v in
                            found[setting][name]["psnr"].items()},
            "RGB %.2f" % found[setting][name]["rgb_psnr"], flush=True)
  if FLAGS.output:
    with open(FLAGS.output, "w", encoding="utf-8") as f:
      json.dump({"images": len(images), "channels": found,
                 "command": experiment_flags.command_line()}, f, indent=1)
      f.write("\n")


if __name__ == "__main__":
  app.run(main)
