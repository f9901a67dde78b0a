"""Bicubic super-resolution (paper Table 3).
"""

import dataclasses

from rim_tf import operators
from rim_tf.data import corruptions
from rim_tf.tasks import base


@dataclasses.dataclass(frozen=True)
class SuperResolution(base.Task):
  """Bicubic super-resolution, one model for all scales (paper section 4.6).

  The scales alternate step by step, one input stream each, so that every
  stream has a static measurement shape.

  Args:
    scales: the downsampling factors.
    patch: training patch side, divisible by every scale (36 in the paper).
    noise_sigma_255: optional noise added to the low-resolution patches.
    color: RGB (the paper's protocol measures on Y of RGB) or gray.
  """

  scales: tuple = (2, 3, 4)
  patch: int = 36
  noise_sigma_255: float = 0.0
  color: bool = False

  name = "superres"

  @property
  def channels(self):
    return 3 if self.color else 1

  def corruption(self):
    return corruptions.BicubicDownsampling(self.scales, self.noise_sigma_255)

  def stream_keys(self):
    return tuple(self.scales)

  def stream_corruption(self, key):
    return self.corruption().for_scale(key)

  def operator(self, batch):
    return operators.BicubicDownsample(
        _scale_of(batch), tuple(batch["x"].shape[1:]))


def _scale_of(batch):
  """The integer scale that maps the static x shape to the static y shape."""
  high, low = batch["x"].shape[1], batch["y"].shape[1]
  if high is None or low is None or high % low:
    raise ValueError(
        f"cannot infer the scale from x {batch['x'].shape} and y "
        f"{batch['y'].shape}; super-resolution streams need static shapes.")
  return high // low
