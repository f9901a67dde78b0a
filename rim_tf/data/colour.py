"""An opponent colour space in which white RGB noise stays white.

CBM3D denoises colour images in a luminance–chrominance space: there the
channels of a natural image are far less correlated than R, G and B, and
white RGB noise of std s stays white, with a known std per channel. This
module's space is that one (Dabov et al.'s opponent transform): rows
(mean, red − blue, red − 2 green + blue), mutually orthogonal, each scaled
and offset so that every channel of an RGB image on [0, 1] lies on [0, 1]
too — the range a RIM's estimates live on.

    opponent = to_opponent(rgb)          # [..., 3] -> [..., 3], on [0, 1]
    rgb = from_opponent(opponent)
    sigmas = sigma * NOISE_GAIN          # each channel's noise std
"""

import numpy as np

# Orthogonal rows; row r scaled so that its channel spans [0, 1] after
# OFFSET[r] over the RGB cube.
MATRIX = np.array([[1 / 3, 1 / 3, 1 / 3],
                   [1 / 2, 0.0, -1 / 2],
                   [1 / 4, -1 / 2, 1 / 4]], np.float32)
OFFSET = np.array([0.0, 0.5, 0.5], np.float32)
# White RGB noise of std s has std s * NOISE_GAIN[r] in channel r, and the
# channels' noises are independent (MATRIX @ MATRIX.T is diagonal).
NOISE_GAIN = np.sqrt((MATRIX.astype(np.float64) ** 2).sum(axis=1)).astype(
    np.float32)
_INVERSE = np.linalg.inv(MATRIX.astype(np.float64)).astype(np.float32)


def _check(image, name):
  image = np.asarray(image)
  if image.shape[-1:] != (3,):
    raise ValueError(f"{name} must have 3 channels in its last axis, got "
                     f"shape {image.shape}.")
  return image.astype(np.float32, copy=False)


def to_opponent(rgb):
  """float32 [..., 3] opponent channels of an RGB image (any range; [0, 1]
  maps into [0, 1])."""
  return _check(rgb, "rgb") @ MATRIX.T + OFFSET


def from_opponent(opponent):
  """The RGB image [..., 3] of opponent channels; inverts `to_opponent`."""
  return (_check(opponent, "opponent") - OFFSET) @ _INVERSE.T
