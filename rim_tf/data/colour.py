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

A gray RIM restores the three channels as three gray images:
`channels_to_batch` turns [N, H, W, 3] into [3N, H, W, 1] (example i's
channel c at 3i + c) and `batch_to_channels` turns it back.
"""

import numpy as np
import tensorflow as tf

# Where a colour image is restored: R, G and B, or this module's space.
SPACES = ("rgb", "opponent")
SPACE_NAMES = " or ".join(repr(space) for space in SPACES)

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


def to_opponent_tf(rgb):
  """`to_opponent` of a float32 tensor [..., 3]."""
  return tf.tensordot(rgb, tf.constant(MATRIX.T), axes=1) + OFFSET


def from_opponent_tf(opponent):
  """`from_opponent` of a float32 tensor [..., 3]."""
  return tf.tensordot(opponent - OFFSET, tf.constant(_INVERSE.T), axes=1)


def _shape(images):
  """The static sizes where known (so patches keep a static shape), else
  the dynamic ones."""
  dynamic = tf.shape(images)
  return [dynamic[i] if size is None else size
          for i, size in enumerate(images.shape)]


def channels_to_batch(images):
  """[N, H, W, C] -> [C N, H, W, 1], example i's channel c at C i + c."""
  shape = _shape(images)
  stacked = tf.transpose(images, [0, 3, 1, 2])
  return tf.reshape(stacked, [shape[0] * shape[3], shape[1], shape[2], 1])


def batch_to_channels(images, channels=3):
  """Inverts `channels_to_batch`: [C N, H, W, 1] -> [N, H, W, C]."""
  shape = _shape(images)
  grouped = tf.reshape(images, [-1, channels, shape[1], shape[2]])
  return tf.transpose(grouped, [0, 2, 3, 1])
