"""Probe: a deblurring RIM on photographs' blur, which does not wrap around.

The benchmark blurs circularly; a camera does not. This blurs the first
BSD68 images with Levin et al.'s 8 kernels and the replicate boundary
(`degrade.blurred_image(..., boundary="replicate")`, the benchmark's noise
and 8-bit rounding otherwise) and restores each with the RIM told either
boundary (`Restorer.deblur(boundary=...)`) and with the Wiener filter
(circular); as the reference, the RIM on the benchmark's circular blur of
the same images. Prints and writes (--output) the mean PSNR over images and
kernels, on the whole image and without a --border band, where a wrong
boundary does its harm.

  RIM_DATA_DIR=DATA python docs/probes/deblur_boundary.py --num_images=5 \
      --weights=deblur --output=docs/results/deblur_boundary_first5.json
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
from rim_tf.data import degrade
from rim_tf.data import kernels
from rim_tf.inference import engine

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_images", 5, "First BSD68 images.")
flags.DEFINE_string("weights", "deblur", "The deblurring RIM: a shipped name "
                    "or a .weights.h5 path.")
flags.DEFINE_list("sigmas", ["2.55", "7.65"], "Noise levels, 0-255.")
flags.DEFINE_integer("border", 20, "Band (pixels) left out of the interior "
                     "PSNR.")
flags.DEFINE_string("output", None, "JSON of the scores.")
experiment_flags.define_data_dir()


def _psnr(estimate01, clean_uint8, border=0):
  return metrics.psnr_255(metrics.shave(metrics.to_uint8(estimate01), border),
                          metrics.shave(clean_uint8, border))


def main(argv):
  del argv
  images = bsds.load_images("test", gray=True, data_dir=FLAGS.data_dir,
                            subset="bsd68")
  images = dict(itertools.islice(images.items(), FLAGS.num_images))
  rim, _ = engine.Restorer.from_weights(FLAGS.weights)
  methods = {
      "RIM, replicate": lambda y, k, s: rim.deblur(y, k, s, "replicate"),
      "RIM, circular": lambda y, k, s: rim.deblur(y, k, s, "circular"),
      "Wiener (circular)": baselines.wiener_deblur,
  }
  reference = "RIM on circular blur"
  found = {}
  for sigma in (float(s) for s in FLAGS.sigmas):
    scores = {name: {"whole": [], "interior": []}
              for name in (*methods, reference)}
    for image_id, clean in images.items():
      for kernel in kernels.levin09():
        blurred = degrade.blurred_image(clean, kernel, sigma,
                                        boundary="replicate")
        estimates = {name: method(blurred, kernel, sigma)
                     for name, method in methods.items()}
        estimates[reference] = rim.deblur(
            degrade.blurred_image(clean, kernel, sigma), kernel, sigma,
            "circular")
        for name, estimate in estimates.items():
          scores[name]["whole"].append(_psnr(estimate, clean))
          scores[name]["interior"].append(_psnr(estimate, clean,
                                                FLAGS.border))
    found[f"sigma{sigma:g}"] = {
        name: {part: round(float(np.mean(values)), 4)
               for part, values in parts.items()}
        for name, parts in scores.items()}
    for name, parts in found[f"sigma{sigma:g}"].items():
      print(f"sigma {sigma:g}  {name:20s}  whole {parts['whole']:.2f}  "
            f"interior {parts['interior']:.2f}", flush=True)
  if FLAGS.output:
    with open(FLAGS.output, "w", encoding="utf-8") as f:
      json.dump({"images": len(images), "kernels": 8, "border": FLAGS.border,
                 "weights": FLAGS.weights, "psnr": found,
                 "command": experiment_flags.command_line()}, f, indent=1)
      f.write("\n")


if __name__ == "__main__":
  app.run(main)
