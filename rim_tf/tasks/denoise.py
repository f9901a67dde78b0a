"""Gaussian denoising, gray and colour (paper Tables 1 and 2).
"""

import dataclasses

import tensorflow as tf

from rim_tf import operators
from rim_tf.data import corruptions
from rim_tf.tasks import base


@dataclasses.dataclass(frozen=True)
class Denoise(base.Task):
  """Gray (or colour) Gaussian denoising, A = I, one model for a sigma range.

  Args:
    sigma_range_255: training noise std range on the [0, 255] scale.
    quantize: train on 8-bit quantized noisy images; a fraction in (0, 1)
      quantizes that share of the examples and leaves the rest unclipped
      (`rim_tf.data.corruptions.GaussianNoise`).
    color: RGB instead of gray.
    patch: training patch side (32 in the paper).
    loss_sigma_power: p >= 0; each example's MSE is weighted by sigma^-p,
      normalised to mean 1 over the batch. 0 is the paper's plain MSE.
  """

  sigma_range_255: tuple = (15.0, 50.0)
  quantize: bool | float = False
  color: bool = False
  patch: int = 32
  loss_sigma_power: float = 0.0

  name = "denoise"

  def __post_init__(self):
    if not self.loss_sigma_power >= 0.0:
      raise ValueError(f"loss_sigma_power must be >= 0, got "
                       f"{self.loss_sigma_power!r}.")
    if self.loss_sigma_power and not min(self.sigma_range_255) > 0.0:
      raise ValueError(f"loss_sigma_power > 0 weighs examples by sigma^-p and "
                       f"needs sigma > 0, got sigma_range_255 "
                       f"{self.sigma_range_255!r}.")

  @property
  def channels(self):
    return 3 if self.color else 1

  def corruption(self):
    return corruptions.GaussianNoise(self.sigma_range_255, self.quantize)

  def operator(self, batch):
    return operators.Identity((None, None, self.channels))

  def example_weights(self, batch):
    # The test metric, mean PSNR over images, weighs each image's error by
    # 1 / MSE, and a denoiser's MSE grows about like sigma (ours: 0.9
    # power between sigma 15 and 50), so plain MSE spends most of the
    # training on the noisiest examples; p = 1 evens that out.
    if not self.loss_sigma_power:
      return None
    weights = tf.pow(tf.cast(batch["sigma"], tf.float32),
                     -self.loss_sigma_power)
    return weights / tf.reduce_mean(weights)


@dataclasses.dataclass(frozen=True)
class DenoiseColor(Denoise):
  """Colour denoising (paper Table 1: sigma 25, 8-bit quantized)."""

  sigma_range_255: tuple = (25.0, 25.0)
  quantize: bool = True
  color: bool = True

  name = "denoise_color"
