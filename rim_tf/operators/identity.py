"""The identity forward model: denoising, y = x + n."""

import tensorflow as tf

from rim_tf.operators import base


# Where a RIM's estimates start: the measurement itself, or the flat image
# at its mean (what a RIM trained on random projections starts from).
STARTS = ("measurement", "flat")


class Identity(base.LinearOperator):
  """A = I on images of shape (H, W, C); the forward model of denoising.

  Args:
    image_shape: (H, W, C) of the images. An entry may be None when the
      operator should accept any size along that axis (full-image inference).
    start: the initial estimate, one of `STARTS` (see `initial_estimate`).
  """

  def __init__(self, image_shape, start="measurement"):
    if len(image_shape) != 3:
      raise ValueError(
          f"image_shape must be (H, W, C), got {tuple(image_shape)}.")
    if start not in STARTS:
      raise ValueError(f"start must be one of {STARTS}, got {start!r}.")
    self._shape = tuple(image_shape)
    self.start = start

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
    """[N, H, W, C] in [0, 1]: y clipped (start "measurement"), or the flat
    image at y's mean over each example (start "flat"; `base.flat_estimate`
    with A = I)."""
    y = self.adjoint(y)
    if self.start == "flat":
      return base.flat_estimate(self, y, tf.ones_like(y))
    return tf.clip_by_value(y, 0.0, 1.0)

  def __repr__(self):
    return f"Identity(image_shape={self._shape}, start={self.start!r})"
