"""The identity forward model: denoising, y = x + n."""

import tensorflow as tf

from rim_tf.operators import base


class Identity(base.LinearOperator):
  """A = I on images of shape (H, W, C); the forward model of denoising.

  Args:
    image_shape: (H, W, C) of the images. An entry may be None when the
      operator should accept any size along that axis (full-image inference).
  """

  def __init__(self, image_shape):
    if len(image_shape) != 3:
      raise ValueError(
          f"image_shape must be (H, W, C), got {tuple(image_shape)}.")
    self._shape = tuple(image_shape)

  @property
  def domain_shape(self):
    return self._shape

  @property
  def range_shape(self):
    return self._shape

  def forward(self, x):
    return base.check_image_batch(x, "x", self._shape)

  def adjoint(self, y):
    return base.check_image_batch(y, "y", self._shape)

  def initial_estimate(self, y):
    """The measurement itself, clipped to [0, 1]."""
    return tf.clip_by_value(self.adjoint(y), 0.0, 1.0)

  def __repr__(self):
    return f"Identity(image_shape={self._shape})"
