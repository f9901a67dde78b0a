"""Probe: would the 3-task RIM transfer to denoising if its batch norms
normalised with each test image's own statistics (training mode, as TF1
code of the paper's time often ran at test time) instead of the moving
statistics gathered on random-projection patches?

Denoises the first 10 BSD68 images (gray, not quantized) at sigma 15 / 25
/ 50 from the start its task gives a denoiser (`Task.denoise_start`), 20
steps, both ways, each from a fresh load of the weights (training mode
updates the moving statistics). Prints and writes the mean PSNRs.

  RIM_DATA_DIR=DATA python docs/probes/rim3task_batch_stats.py \
      --output=docs/results/rp_hypotheses/batch_stats.json
"""

import itertools
import json

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from rim_tf import experiment_flags
from rim_tf import metrics
from rim_tf import operators
from rim_tf import pretrained
from rim_tf import tasks
from rim_tf.data import bsds
from rim_tf.data import degrade

FLAGS = flags.FLAGS
flags.DEFINE_string("weights", "random_projections", "The 3-task RIM.")
flags.DEFINE_integer("num_images", 10, "First BSD68 images.")
flags.DEFINE_integer("steps", 20, "RIM steps.")
flags.DEFINE_string("output", None, "JSON of the mean PSNRs.")
experiment_flags.define_data_dir()

SIGMAS_255 = (15, 25, 50)


def mean_psnr(images, training):
  model, config = pretrained.load(FLAGS.weights)
  operator = operators.Identity((None, None, 1),
                                tasks.from_config(config).denoise_start)
  found = {}
  for sigma in SIGMAS_255:
    scores = []
    for image_id, clean in images.items():
      noisy = degrade.noisy_image(clean, sigma, False,
                                  degrade.noise_seed(0, sigma, image_id))
      _, estimate = model(noisy[None], operator=operator,
                          sigma=tf.constant([sigma / 255.0]),
                          steps=FLAGS.steps, training=training)
      scores.append(metrics.psnr_255(metrics.to_uint8(estimate[0].numpy()),
                                     clean))
    found[f"sigma{sigma}"] = float(np.mean(scores))
    print(f"training={training} sigma {sigma}: {found[f'sigma{sigma}']:.2f}",
          flush=True)
  return found


def main(argv):
  del argv
  images = bsds.load_images("test", gray=True, data_dir=FLAGS.data_dir,
                            subset="bsd68")
  images = dict(itertools.islice(images.items(), FLAGS.num_images))
  row = {"weights": pretrained.weights_name(FLAGS.weights),
         "images": len(images), "steps": FLAGS.steps,
         "moving_statistics": mean_psnr(images, training=False),
         "image_statistics": mean_psnr(images, training=True),
         "command": experiment_flags.command_line()}
  if FLAGS.output:
    with open(FLAGS.output, "w", encoding="utf-8") as f:
      json.dump(row, f, indent=1)
      f.write("\n")


if __name__ == "__main__":
  app.run(main)
