"""MATLAB-compatible bicubic resizing and the bicubic super-resolution operator.

`imresize` reproduces MATLAB's `imresize(image, scale, 'bicubic')` as a pair of
dense per-axis weight matrices applied with TF ops, so it runs eagerly, inside
`tf.function`, on batches, and is differentiable. `BicubicDownsample` is the
linear operator A = imresize(., 1/s) with its exact transpose.
"""

import functools
import math
import numbers

import numpy as np
import tensorflow as tf

from rim_tf.operators.base import LinearOperator, check_image_batch

BOUNDARIES = ("replicate", "symmetric")

_KERNEL_WIDTH = 4.0

# Compute dtype per input dtype; float16 is accumulated in float32 and cast
# back, uint8 in float64 so that rounding ties land exactly where MATLAB's
# double-precision arithmetic puts them.
_COMPUTE_DTYPE = {
    tf.float16: tf.float32,
    tf.float32: tf.float32,
    tf.float64: tf.float64,
    tf.uint8: tf.float64,
}


def _cubic(x):
  """MATLAB's bicubic kernel (Keys, a = -0.5) evaluated elementwise on x."""
  absx = np.abs(x)
  absx2 = absx**2
  absx3 = absx**3
  return ((1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1) +
          (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) *
          ((absx > 1) & (absx <= 2)))


def _fold_indices(indices, in_size, boundary):
  """Maps 0-based tap indices that may fall outside [0, in_size) inside it."""
  if boundary == "replicate":
    return np.clip(indices, 0, in_size - 1)
  # MATLAB's aux = [1:n, n:-1:1] indexed modulo 2n: half-sample mirroring,
  # periodic beyond twice the image.
  period = np.mod(indices, 2 * in_size)
  return np.where(period < in_size, period, 2 * in_size - 1 - period)


def output_size(in_size, scale):
  """Length of one axis of `imresize(., scale)` for an axis of `in_size`."""
  return int(math.ceil(scale * in_size))


@functools.lru_cache(maxsize=256)
def _weights(in_size, scale, boundary, dtype):
  """The [output_size(in_size, scale), in_size] resize matrix of one axis.

  Follows MATLAB's `contributions()`: built in float64, normalised per output
  sample, boundary taps folded onto in-range samples, then cast to `dtype` (a
  numpy dtype name). MATLAB's removal of all-zero tap columns is skipped: in a
  dense matrix those columns add nothing. The result is read-only because it
  is shared through the cache.
  """
  if scale < 1:
    # Antialiasing: a stretched, rescaled kernel so the downscaled image is
    # low-passed at the new sampling rate.
    kernel = lambda x: scale * _cubic(scale * x)
    width = _KERNEL_WIDTH / scale
  else:
    kernel = _cubic
    width = _KERNEL_WIDTH
  out_size = output_size(in_size, scale)
  # MATLAB's 1-based coordinates, kept verbatim so floor() ties match.
  x = np.arange(1, out_size + 1, dtype=np.float64)[:, None]
  u = x / scale + 0.5 * (1 - 1 / scale)
  left = np.floor(u - width / 2)
  taps = int(math.ceil(width)) + 2
  indices = left + np.arange(taps, dtype=np.float64)[None, :]
  weights = kernel(u - indices)
  weights = weights / weights.sum(axis=1, keepdims=True)
  columns = _fold_indices(indices.astype(np.int64) - 1, in_size, boundary)
  matrix = np.zeros((out_size, in_size), dtype=np.float64)
  rows = np.broadcast_to(np.arange(out_size)[:, None], columns.shape)
  np.add.at(matrix, (rows, columns), weights)
  matrix = matrix.astype(dtype)
  matrix.flags.writeable = False
  return matrix


def _axis_matrix(in_size, scale, boundary, dtype):
  """The resize matrix of one axis as a tf constant of `dtype`."""
  return tf.constant(_weights(in_size, scale, boundary, dtype.as_numpy_dtype))


def _check_scale(scale, name="scale"):
  if (isinstance(scale, bool) or not isinstance(scale, numbers.Real) or
      not math.isfinite(scale) or scale <= 0):
    raise ValueError(
        f"{name} must be a finite positive number, got {scale!r}.")
  return float(scale)


def _check_spatial_size(shape, scale, name):
  """Validates the static spatial size (H, W) of an image of `shape`.

  Rule: every side needs at least 2 pixels (a 1-pixel side has nothing to
  interpolate between and is almost always a layout mistake), and must not be
  shrunk below one pixel (scale * side >= 1); beyond that the antialiasing
  support would wrap around the whole image more than once.
  """
  spatial = tuple(shape[-3:-1])
  if any(n is None for n in spatial):
    raise ValueError(
        f"{name} must have statically known height and width, got shape "
        f"{shape}.")
  for axis, n in zip(("height", "width"), spatial):
    if n < 2:
      raise ValueError(
          f"{name} {axis} must be at least 2 pixels, got {n} (shape {shape}).")
    # The tolerance keeps e.g. 49 * (1 / 49) = 0.999... admissible.
    if scale * n < 1 - 1e-9:
      raise ValueError(
          f"{name} {axis} {n} times scale {scale} is below one pixel; scale "
          f"must be at least 1/{n}.")
  return spatial


def _apply(x, matrix_h, matrix_w):
  """Applies per-axis matrices [h', H] and [w', W] to x [N, H, W, C]."""
  x = tf.einsum("oh,nhwc->nowc", matrix_h, x)
  return tf.einsum("pw,nowc->nopc", matrix_w, x)


@functools.lru_cache(maxsize=16)
def _periodic_taps(scale, up):
  """The integer-`scale` resize of an axis as taps, read off interior rows
  of `_weights` (MATLAB-exact) of an axis long enough to have them: one
  phase when downscaling, y[j] = sum_k w_k x[j * scale + o_k] (the axis a
  multiple of `scale`), `scale` phases when upscaling,
  y[scale * i + r] = sum_k w_rk x[i + o_rk]. ((offsets, weights), ...).
  Taps beyond the axis are clamped to its edge, as the replicate boundary
  folds them."""
  low = 8 * scale
  if up:
    matrix = _weights(low, float(scale), "replicate", "float64")
    rows = [(scale * (low // 2) + r, low // 2) for r in range(scale)]
  else:
    matrix = _weights(scale * low, 1.0 / scale, "replicate", "float64")
    rows = [(low // 2, scale * (low // 2))]
  phases = []
  for row, origin in rows:
    columns = np.nonzero(matrix[row])[0]
    phases.append((tuple(int(c) - origin for c in columns),
                   tuple(float(matrix[row, c]) for c in columns)))
  return tuple(phases)


def _taps_index(count, step, offset, length):
  return tf.clip_by_value(tf.range(count) * step + offset, 0, length - 1)


def downscale_axis(x, axis, scale, transpose=False):
  """imresize(., 1/scale) of x along `axis` (1 or 2) whose length is a
  multiple of `scale`, for lengths known only at run time; `transpose`:
  the adjoint, from the downscaled length back up."""
  moved = tf.experimental.numpy.moveaxis(x, axis, 0)
  (offsets, weights), = _periodic_taps(scale, up=False)
  if not transpose:
    length = tf.shape(moved)[0]
    out = sum(w * tf.gather(moved, _taps_index(length // scale, scale, o,
                                               length))
              for o, w in zip(offsets, weights))
  else:
    count = tf.shape(moved)[0]
    length = count * scale
    out = sum(tf.math.unsorted_segment_sum(
        w * moved, _taps_index(count, scale, o, length), length)
              for o, w in zip(offsets, weights))
  return tf.experimental.numpy.moveaxis(out, 0, axis)


def upscale_axis(x, axis, scale):
  """imresize(., scale) of x along `axis` (1 or 2), any length known only at
  run time: the `scale` phases interleaved."""
  moved = tf.experimental.numpy.moveaxis(x, axis, 0)
  length = tf.shape(moved)[0]
  phases = [sum(w * tf.gather(moved, _taps_index(length, 1, o, length))
                for o, w in zip(offsets, weights))
            for offsets, weights in _periodic_taps(scale, up=True)]
  out = tf.stack(phases, axis=1)
  shape = tf.concat([[length * scale], tf.shape(moved)[1:]], 0)
  return tf.experimental.numpy.moveaxis(tf.reshape(out, shape), 0, axis)


def _round_uint8(x):
  """MATLAB's saturating cast to uint8 (round half away from zero), as float."""
  return tf.floor(tf.clip_by_value(x, 0.0, 255.0) + 0.5)


def imresize(image, scale, boundary="replicate"):
  """MATLAB `imresize(image, scale, 'bicubic')` of an HWC or NHWC image.

  Args:
    image: numpy array or tf.Tensor of shape [H, W, C] or [N, H, W, C] with
      statically known H, W >= 2; dtype float16, float32, float64 or uint8.
    scale: finite positive number, the same for both spatial axes; scale * H
      and scale * W must be at least 1.
    boundary: "replicate" clamps out-of-range taps to the edge sample (the
      MATLAB behaviour behind the Huang et al. 2015 test images);
      "symmetric" mirrors them (newer MATLAB).

  Returns:
    The resized image, shape [..., ceil(scale * H), ceil(scale * W), C], the
    same dtype as `image`; a numpy array for numpy input (when executing
    eagerly), a tf.Tensor otherwise. Float input is not rounded or clipped;
    uint8 input is rounded half away from zero and clipped to [0, 255] after
    each 1-D pass, rows (height) first, as MATLAB does.

  Raises:
    ValueError: on a bad rank, dtype, scale, boundary or spatial size.
  """
  as_numpy = isinstance(image, np.ndarray) and tf.executing_eagerly()
  x = tf.convert_to_tensor(image)
  if x.shape.rank not in (3, 4):
    raise ValueError(
        f"image must have shape [H, W, C] or [N, H, W, C], got shape "
        f"{x.shape}.")
  if x.dtype not in _COMPUTE_DTYPE:
    raise ValueError(
        f"image must have dtype float16, float32, float64 or uint8, got "
        f"{x.dtype.name}.")
  scale = _check_scale(scale)
  if boundary not in BOUNDARIES:
    raise ValueError(
        f"boundary must be one of {BOUNDARIES}, got {boundary!r}.")
  height, width = _check_spatial_size(x.shape, scale, "image")

  compute = _COMPUTE_DTYPE[x.dtype]
  matrix_h = _axis_matrix(height, scale, boundary, compute)
  matrix_w = _axis_matrix(width, scale, boundary, compute)
  batched = x if x.shape.rank == 4 else x[None]
  y = tf.cast(batched, compute)
  if x.dtype == tf.uint8:
    y = _round_uint8(tf.einsum("oh,nhwc->nowc", matrix_h, y))
    y = _round_uint8(tf.einsum("pw,nowc->nopc", matrix_w, y))
  else:
    y = _apply(y, matrix_h, matrix_w)
  y = tf.cast(y, x.dtype)
  if x.shape.rank == 3:
    y = y[0]
  return y.numpy() if as_numpy else y


class BicubicDownsample(LinearOperator):
  """Bicubic downsampling A x = imresize(x, 1/scale) on float32 NHWC batches.

  Maps [N, H, W, C] to [N, ceil(H/scale), ceil(W/scale), C]; the adjoint is the
  exact transpose of that map, built from the transposed per-axis matrices.
  With H and W None (one graph for every size; an exported RIM's), H and W
  must be multiples of the scale at run time, and the same map is applied
  by taps taken from those matrices (`downscale_axis`).
  """

  def __init__(self, scale, image_shape):
    """Creates the operator.

    Args:
      scale: integer downsampling factor >= 2 (an integral float is accepted).
      image_shape: (H, W, C) of the high-resolution image; odd sizes are
        fine; (None, None, C) for any multiple of the scale.

    Raises:
      ValueError: if `scale` or `image_shape` is invalid.
    """
    if (isinstance(scale, bool) or not isinstance(scale, numbers.Real) or
        not math.isfinite(scale) or scale != int(scale) or scale < 2):
      raise ValueError(f"scale must be an integer >= 2, got {scale!r}.")
    self._scale = int(scale)
    image_shape = tuple(image_shape)
    self._dynamic = (len(image_shape) == 3 and image_shape[0] is None and
                     image_shape[1] is None)
    if self._dynamic:
      channels = image_shape[2]
      if not (isinstance(channels, numbers.Integral) and channels > 0):
        raise ValueError(f"image_shape must be (None, None, C) with C a "
                         f"positive integer, got {image_shape!r}.")
      self._image_shape = (None, None, int(channels))
      self._range_shape = self._image_shape
      return
    if len(image_shape) != 3 or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0
        for d in image_shape):
      raise ValueError(
          f"image_shape must be (H, W, C) with positive integers, got "
          f"{image_shape!r}.")
    self._image_shape = tuple(int(d) for d in image_shape)
    height, width, channels = self._image_shape
    _check_spatial_size((height, width, channels), 1 / self._scale,
                        "image_shape")
    self._range_shape = (output_size(height, 1 / self._scale),
                         output_size(width, 1 / self._scale), channels)
    self._matrix_h = _axis_matrix(height, 1 / self._scale, "replicate",
                                  tf.float32)
    self._matrix_w = _axis_matrix(width, 1 / self._scale, "replicate",
                                  tf.float32)

  @property
  def scale(self):
    """The integer downsampling factor."""
    return self._scale

  @property
  def domain_shape(self):
    """(H, W, C) of the high-resolution image."""
    return self._image_shape

  @property
  def range_shape(self):
    """(ceil(H/scale), ceil(W/scale), C) of the low-resolution image."""
    return self._range_shape

  def forward(self, x):
    """imresize(x, 1/scale): [N, H, W, C] float -> [N] + range_shape float32."""
    x = check_image_batch(x, "x", self._image_shape)
    if self._dynamic:
      tf.debugging.assert_equal(
          tf.shape(x)[1:3] % self._scale, 0, message=(
              f"x: height and width must be multiples of the scale "
              f"{self._scale} for an operator of any size"))
      return downscale_axis(downscale_axis(x, 1, self._scale), 2, self._scale)
    return _apply(x, self._matrix_h, self._matrix_w)

  def adjoint(self, y):
    """A^T y: [N] + range_shape float -> [N, H, W, C] float32."""
    y = check_image_batch(y, "y", self._range_shape)
    if self._dynamic:
      return downscale_axis(downscale_axis(y, 1, self._scale, True), 2,
                            self._scale, True)
    return _apply(y, tf.transpose(self._matrix_h), tf.transpose(self._matrix_w))

  def initial_estimate(self, y):
    """Bicubic upsampling of y, cropped to (H, W) and clipped to [0, 1].

    Args:
      y: [N] + range_shape float low-resolution batch.

    Returns:
      float32 [N, H, W, C]. ceil(H/scale) * scale can exceed H, hence the crop.
    """
    y = check_image_batch(y, "y", self._range_shape)
    if self._dynamic:
      x = upscale_axis(upscale_axis(y, 1, self._scale), 2, self._scale)
      return tf.clip_by_value(x, 0.0, 1.0)
    height, width, _ = self._image_shape
    x = imresize(y, self._scale)[:, :height, :width, :]
    return tf.clip_by_value(x, 0.0, 1.0)

  def __repr__(self):
    return (f"BicubicDownsample(scale={self._scale}, "
            f"image_shape={self._image_shape})")
