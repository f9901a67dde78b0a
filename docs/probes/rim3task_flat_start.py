"""Probe: the 3-task RIM on denoising from the noisy image vs a flat start (mean of y)."""
import numpy as np, tensorflow as tf
from rim_tf import pretrained, operators, metrics, evaluate
from rim_tf.data import bsds
model, config = pretrained.load("random_projections")
images = bsds.load_images("test", gray=True, subset="bsd68")
class Flat(operators.Identity):
  def initial_estimate(self, y):
    return tf.ones_like(y) * tf.reduce_mean(y, axis=[1, 2, 3], keepdims=True)
rows = {}
for image_id, clean in list(images.items())[:5]:
  noisy = evaluate.noisy_image(clean, 25, False, evaluate.noise_seed(0, 25, image_id))
  y = tf.constant(noisy[None].astype(np.float32))
  x = tf.constant(clean[None].astype(np.float32) / 255.0)
  for name, op_cls in (("noisy start", operators.Identity), ("flat start", Flat)):
    for steps in (10, 20):
      est = model(y, operator=op_cls(tuple(y.shape[1:])), sigma=tf.constant([25 / 255.0]), steps=steps)[0][-1]
      rows.setdefault((name, steps), []).append(float(metrics.psnr_tf(est, x)[0]))
  rows.setdefault(("noisy input", 0), []).append(float(metrics.psnr_tf(y, x)[0]))
for k, v in rows.items():
  print(k, np.round(v, 2), round(float(np.mean(v)), 2))
