"""Probe (session 15): the 3-task RIM on denoising from the noisy image
against a flat start at the mean of y, on the first 5 BSD68 images at
sigma 25, not quantized. Prints each start's PSNR per image and the mean.

  RIM_DATA_DIR=/work/shared/data python docs/probes/rim3task_flat_start.py

Outside the package until a flat start is built into it (docs/results.md).
"""

import numpy as np
import tensorflow as tf

from rim_tf import evaluate
from rim_tf import metrics
from rim_tf import operators
from rim_tf import pretrained
from rim_tf.data import bsds

SIGMA_255 = 25.0


class FlatStart(operators.Identity):
  """The identity operator starting from the flat image at the mean of y,
  what a random projection with A = I would start from."""

  def initial_estimate(self, y):
    return tf.ones_like(y) * tf.reduce_mean(y, axis=[1, 2, 3], keepdims=True)


def main():
  model, _ = pretrained.load("random_projections")
  images = bsds.load_images("test", gray=True, subset="bsd68")
  sigma = tf.constant([SIGMA_255 / 255.0])
  rows = {}
  for image_id, clean in list(images.items())[:5]:
    noisy = evaluate.noisy_image(clean, SIGMA_255, False,
                                 evaluate.noise_seed(0, SIGMA_255, image_id))
    y = tf.constant(noisy[None])
    x = tf.constant(clean[None].astype(np.float32) / 255.0)
    rows.setdefault("noisy input", []).append(
        float(metrics.psnr_tf(y, x)[0]))
    for start, operator in (("noisy start", operators.Identity),
                            ("flat start", FlatStart)):
      for steps in (10, 20):
        estimates = model(y, operator=operator(tuple(y.shape[1:])),
                          sigma=sigma, steps=steps)[0]
        rows.setdefault(f"{start}, T = {steps}", []).append(
            float(metrics.psnr_tf(estimates[-1], x)[0]))
  for name, values in rows.items():
    print(f"{name:20s}", np.round(values, 2), f"mean {np.mean(values):.2f}")


if __name__ == "__main__":
  main()
