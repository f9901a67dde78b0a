"""Probe: how many steps the 3-task RIM should denoise for,
chosen on training images, not test ones. The shipped `random_projections`
denoises the first 5 BSDS300 training images (gray, not quantized) at sigma
15 / 25 / 50 from the noisy image and from the flat start its task uses
(`Task.denoise_start`); prints the mean PSNR after 1, 5, 10, 20, 30, 50
steps.

  RIM_DATA_DIR=DATA python docs/probes/rim3task_steps.py
"""

import numpy as np
import tensorflow as tf

from rim_tf.data import bsds
from rim_tf.evaluation import protocols
from rim_tf.inference import engine
from rim_tf import metrics
from rim_tf import operators

NUM_IMAGES = 5
SIGMAS_255 = (15.0, 25.0, 50.0)
REPORTED_STEPS = (1, 5, 10, 20, 30, 50)


def main():
  rim, _ = engine.Restorer.from_weights("random_projections")
  images = list(bsds.load_images("train", gray=True).items())[:NUM_IMAGES]
  starts = {"measurement": operators.Identity((None, None, 1)),
            "flat": rim.denoise_operator}
  for sigma_255 in SIGMAS_255:
    sigma = tf.constant([sigma_255 / 255.0])
    rows = {name: [] for name in starts}
    for image_id, clean in images:
      noisy = protocols.noisy_image(
          clean, sigma_255, False, protocols.noise_seed(0, sigma_255,
                                                        image_id))
      y = tf.constant(noisy[None])
      x = tf.constant(clean[None].astype(np.float32) / 255.0)
      for name, operator in starts.items():
        estimates = rim.model(y, operator=operator, sigma=sigma,
                              steps=max(REPORTED_STEPS))[0]
        rows[name].append([float(metrics.psnr_tf(estimates[t - 1], x)[0])
                           for t in REPORTED_STEPS])
    print(f"sigma {sigma_255:g}, steps {REPORTED_STEPS}", flush=True)
    for name, values in rows.items():
      print(f"  from {name:11s}", np.round(np.mean(values, axis=0), 2),
            flush=True)


if __name__ == "__main__":
  main()
