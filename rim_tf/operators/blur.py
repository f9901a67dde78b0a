"""Blur: convolution with a kernel, y = k * x (deconvolution's forward model).

The convolution is `scipy.ndimage.convolve(x, k)`'s: the kernel's centre is
k.shape // 2 and the kernel is flipped (a true convolution, not a
correlation). Two boundaries:

  "circular":  the image wraps around (`mode="wrap"`), the convention of the
               deblurring benchmarks (Levin et al.'s kernels, DPIR);
  "replicate": the edge pixels repeat beyond the image (`mode="nearest"`),
               the better model of a real photograph, whose blur does not
               wrap.

Both keep the image's size. Both are computed by FFT by default (exact up
to float32 rounding; replicate blur as circular blur of the edge-padded
image, cropped): its cost hardly grows with the kernel, and it is faster
than direct convolution, the other method, on whole images and circular
training batches; direct convolution wins only for the replicate boundary
with small kernels (`experiments/benchmarks/blur_speed.py`, measured in
docs/benchmarks.md).
"""

import numpy as np
import tensorflow as tf

from rim_tf.operators import base

BOUNDARIES = ("circular", "replicate")
METHODS = ("fft", "direct")
MAX_KERNEL = 31
# The noise std (0-255 scale) of rounding to 8 bits, 1 / sqrt(12): the
# least noise a Wiener filter of an 8-bit image may assume.
ROUNDING_SIGMA_255 = 12 ** -0.5
# Where a RIM's estimates start: the blurred measurement itself, or its
# Wiener deconvolution (`Blur.initial_estimate`).
STARTS = ("measurement", "wiener")


def check_kernel(kernel, name="kernel"):
  """`kernel` as a float32 tensor [kh, kw] or [N, kh, kw]; ValueError (one
  line) unless its sides are odd, at most MAX_KERNEL, and its entries
  finite (values known in eager mode)."""
  kernel = tf.convert_to_tensor(kernel)
  if not (kernel.dtype.is_floating or kernel.dtype.is_integer):
    raise ValueError(f"{name} must be numeric, got dtype {kernel.dtype.name}.")
  kernel = tf.cast(kernel, tf.float32)
  if kernel.shape.rank not in (2, 3):
    raise ValueError(f"{name} must be 2-D [kh, kw] (or [N, kh, kw], one per "
                     f"example), got shape {kernel.shape}.")
  sides = tuple(kernel.shape[-2:])
  if any(s is None for s in sides):
    raise ValueError(f"{name} must have a static size, got {kernel.shape}.")
  if any(s % 2 == 0 or s > MAX_KERNEL for s in sides):
    raise ValueError(f"{name} must have odd sides of at most {MAX_KERNEL} (so "
                     f"that its centre is a pixel), got {sides[0]}x{sides[1]}.")
  if tf.executing_eagerly() and not bool(
      tf.reduce_all(tf.math.is_finite(kernel))):
    raise ValueError(f"{name} has NaN or infinite entries.")
  return kernel


def _wrap_pad(x, ph, pw):
  """x [N, H, W, C] padded circularly by ph rows and pw columns each side
  (wrapping as often as needed: a kernel may be larger than the image)."""
  shape = tf.shape(x)
  x = tf.gather(x, tf.math.floormod(tf.range(-ph, shape[1] + ph), shape[1]),
                axis=1)
  return tf.gather(x, tf.math.floormod(tf.range(-pw, shape[2] + pw),
                                       shape[2]), axis=2)


def _edge_index(size, pad):
  """Indices of the replicate-padded axis: clip(-pad .. size + pad - 1)."""
  return tf.clip_by_value(tf.range(-pad, size + pad), 0, size - 1)


def _edge_pad(x, ph, pw):
  """x [N, H, W, C] with its edge rows and columns repeated ph / pw times."""
  shape = tf.shape(x)
  x = tf.gather(x, _edge_index(shape[1], ph), axis=1)
  return tf.gather(x, _edge_index(shape[2], pw), axis=2)


def _fold_axis(y, axis, size, pad):
  """The adjoint of repeating the edges along `axis`: the padding summed back
  into the edge rows (columns) it copies."""
  moved = tf.experimental.numpy.moveaxis(y, axis, 0)
  folded = tf.math.unsorted_segment_sum(moved, _edge_index(size, pad), size)
  return tf.experimental.numpy.moveaxis(folded, 0, axis)


class Blur(base.LinearOperator):
  """y = k * x on images of shape (H, W, C), each channel blurred alike.

  Args:
    kernel: float [kh, kw], one kernel for the batch, or [N, kh, kw], one
      per example; odd sides up to MAX_KERNEL (centre at k.shape // 2).
      Not normalised here: a blur kernel should sum to 1.
    image_shape: (H, W, C); entries may be None (full images of any size).
    boundary: one of BOUNDARIES.
    method: "fft" or "direct"; None chooses FFT.
    start: the initial estimate, one of STARTS.
    sigma: the noise std of y (scalar or [N], [0, 1] units), which the
      Wiener start needs.
  """

  def __init__(self, kernel, image_shape, boundary="circular", method=None,
               start="measurement", sigma=None):
    if len(image_shape) != 3:
      raise ValueError(
          f"image_shape must be (H, W, C), got {tuple(image_shape)}.")
    if boundary not in BOUNDARIES:
      raise ValueError(f"boundary must be one of {BOUNDARIES}, got "
                       f"{boundary!r}.")
    method = method or "fft"
    if method not in METHODS:
      raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    self.kernel = check_kernel(kernel)
    self._shape = tuple(image_shape)
    kh, kw = self.kernel.shape[-2:]
    for side, k, axis in ((self._shape[0], kh, "height"),
                          (self._shape[1], kw, "width")):
      if side is not None and k > side:
        raise ValueError(f"the kernel ({kh}x{kw}) is larger than the image "
                         f"{axis} {side}.")
    if start not in STARTS:
      raise ValueError(f"start must be one of {STARTS}, got {start!r}.")
    if start == "wiener" and sigma is None:
      raise ValueError("the Wiener start needs sigma, the noise std of y.")
    self.boundary = boundary
    self.method = method
    self.start = start
    self.sigma = sigma
    self.per_example = self.kernel.shape.rank == 3

  @property
  def domain_shape(self):
    return self._shape

  @property
  def range_shape(self):
    return self._shape

  # -- direct convolution ---------------------------------------------------

  def _depthwise_filter(self, kernel, n, c):
    """[kh, kw, N*C or C, 1]: the kernel of every (example, channel)."""
    if self.per_example:
      k = tf.transpose(kernel, [1, 2, 0])  # [kh, kw, N]
      return tf.repeat(k, c, axis=2)[..., None]
    return tf.tile(kernel[:, :, None, None], [1, 1, c, 1])

  def _to_channels(self, x):
    """Per-example kernels act on x as channels of one image."""
    if not self.per_example:
      return x
    shape = tf.shape(x)
    x = tf.transpose(x, [1, 2, 0, 3])
    return tf.reshape(x, [1, shape[1], shape[2], shape[0] * shape[3]])

  def _from_channels(self, y, shape):
    if not self.per_example:
      return y
    y = tf.reshape(y, [tf.shape(y)[1], tf.shape(y)[2], shape[0], shape[3]])
    return tf.transpose(y, [2, 0, 1, 3])

  def _correlate_valid(self, padded, kernel, shape):
    """VALID correlation of each (example, channel) of `padded` with its
    kernel; `shape` is the unpadded batch's [N, H, W, C]."""
    filters = self._depthwise_filter(kernel, shape[0], shape[3])
    out = tf.nn.depthwise_conv2d(self._to_channels(padded), filters,
                                 [1, 1, 1, 1], "VALID")
    return self._from_channels(out, shape)

  # -- the operator ---------------------------------------------------------

  def _transfer(self, h, w):
    """The kernel's real FFT on an h x w grid, [N or 1, 1, h, w // 2 + 1]."""
    kh, kw = self.kernel.shape[-2:]
    kernel = self.kernel if self.per_example else self.kernel[None]
    count = tf.shape(kernel)[0]
    # The kernel on the image grid with its centre at pixel (0, 0), its
    # entries added in modulo the grid: circular blur by a kernel frame
    # larger than the image (zeros around a small kernel) stays exact.
    rows = tf.math.floormod(tf.range(kh) - kh // 2, h)
    cols = tf.math.floormod(tf.range(kw) - kw // 2, w)
    grid = tf.stack(tf.meshgrid(rows, cols, indexing="ij"), axis=-1)
    batch = tf.broadcast_to(tf.range(count)[:, None, None, None],
                            [count, kh, kw, 1])
    indices = tf.concat([batch, tf.broadcast_to(grid[None],
                                                [count, kh, kw, 2])], -1)
    psf = tf.tensor_scatter_nd_add(tf.zeros(tf.stack([count, h, w])),
                                   indices, kernel)
    return tf.signal.rfft2d(psf)[:, None]

  def _fft_blur(self, x, conjugate):
    shape = tf.shape(x)
    h, w = shape[1], shape[2]
    transfer = self._transfer(h, w)
    if conjugate:
      transfer = tf.math.conj(transfer)
    spectrum = tf.signal.rfft2d(tf.transpose(x, [0, 3, 1, 2]))
    out = tf.transpose(tf.signal.irfft2d(spectrum * transfer,
                                         fft_length=[h, w]), [0, 2, 3, 1])
    out.set_shape(x.shape)  # The inverse FFT forgets even the channels.
    return out

  def _apply(self, x, adjoint):
    """k * x (adjoint False) or its transpose, the correlation with k."""
    kh, kw = self.kernel.shape[-2:]
    ph, pw = kh // 2, kw // 2
    shape = tf.shape(x)
    if self.method == "fft":
      if self.boundary == "circular":
        return self._fft_blur(x, conjugate=adjoint)
      # Replicate: circular blur of the edge-padded image, whose wrapped
      # border is cropped away; the transpose pads with zeros (crop's
      # transpose) and folds the edges back.
      if not adjoint:
        blurred = self._fft_blur(_edge_pad(x, ph, pw), conjugate=False)
        return blurred[:, ph:ph + shape[1], pw:pw + shape[2]]
      padded = self._fft_blur(
          tf.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]]), conjugate=True)
      return _fold_axis(_fold_axis(padded, 1, shape[1], ph), 2, shape[2], pw)
    # Convolution is correlation with the flipped kernel; its transpose
    # is correlation with the kernel itself.
    kernel = self.kernel if adjoint else self.kernel[..., ::-1, ::-1]
    if self.boundary == "circular":
      return self._correlate_valid(_wrap_pad(x, ph, pw), kernel, shape)
    if not adjoint:
      return self._correlate_valid(_edge_pad(x, ph, pw), kernel, shape)
    # Transpose of (edge padding, then VALID correlation): the transposed
    # correlation back onto the padded grid, then the padding folded in.
    flipped = self.kernel[..., ::-1, ::-1]
    filters = self._depthwise_filter(flipped, shape[0], shape[3])
    y = self._to_channels(x)
    sizes = tf.stack([tf.shape(y)[0], shape[1] + 2 * ph, shape[2] + 2 * pw,
                      tf.shape(y)[3]])
    padded = tf.nn.depthwise_conv2d_backprop_input(
        sizes, filters, y, [1, 1, 1, 1], "VALID")
    padded = self._from_channels(padded, shape)
    return _fold_axis(_fold_axis(padded, 1, shape[1], ph), 2, shape[2], pw)

  def forward(self, x):
    return self._apply(base.check_image_batch(x, "x", self._shape), False)

  def adjoint(self, y):
    return self._apply(base.check_image_batch(y, "y", self._shape), True)

  def wiener(self, y):
    """The Wiener deconvolution of y, [N, H, W, C], unclipped: circular
    (for either boundary), with a constant noise-to-signal ratio per
    example, sigma^2 / (var(y) - sigma^2) (the clean image's variance
    estimated from the blurred one's), sigma (the operator's) at least the
    8-bit rounding's. The one Wiener filter of the package: the Wiener
    start, and the baseline `rim_tf.baselines.wiener_deblur`."""
    if self.sigma is None:
      raise ValueError("the Wiener filter needs sigma, the noise std of y.")
    y = base.check_image_batch(y, "y", self._shape)
    shape = tf.shape(y)
    sigma = tf.maximum(tf.reshape(tf.cast(self.sigma, tf.float32),
                                  [-1, 1, 1, 1]), ROUNDING_SIGMA_255 / 255)
    mean = tf.reduce_mean(y, axis=[1, 2], keepdims=True)
    variance = tf.reduce_mean(tf.square(y - mean), axis=[1, 2, 3],
                              keepdims=True)
    # [N or 1, 1, 1, 1] -> the ratio per example, broadcast over the
    # spectrum [N, C, H, W/2+1].
    ratio = tf.square(sigma) / tf.maximum(variance - tf.square(sigma), 1e-6)
    ratio = tf.cast(tf.reshape(ratio, [-1, 1, 1, 1]), tf.complex64)
    transfer = self._transfer(shape[1], shape[2])
    gain = tf.math.conj(transfer) / (
        tf.cast(tf.abs(transfer) ** 2, tf.complex64) + ratio)
    spectrum = tf.signal.rfft2d(tf.transpose(y - mean, [0, 3, 1, 2]))
    restored = tf.transpose(tf.signal.irfft2d(spectrum * gain,
                                              fft_length=shape[1:3]),
                            [0, 2, 3, 1]) + mean
    restored.set_shape(y.shape)  # The inverse FFT forgets the channels.
    return restored

  def initial_estimate(self, y):
    """[N, H, W, C] in [0, 1]: the blurred measurement (start
    "measurement"), or its Wiener deconvolution (start "wiener",
    `wiener`), clipped."""
    if self.start == "wiener":
      return tf.clip_by_value(self.wiener(y), 0.0, 1.0)
    return tf.clip_by_value(base.check_image_batch(y, "y", self._shape),
                            0.0, 1.0)

  def __repr__(self):
    return (f"Blur(kernel {tuple(self.kernel.shape)}, image_shape="
            f"{self._shape}, boundary={self.boundary!r}, "
            f"method={self.method!r}, start={self.start!r})")


def scipy_blur(image, kernel, boundary="circular"):
  """The reference: `scipy.ndimage.convolve` of each channel of a float
  [H, W, C] image (float64 [H, W, C])."""
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  mode = {"circular": "wrap", "replicate": "nearest"}[boundary]
  image = np.asarray(image, np.float64)
  return np.stack([ndimage.convolve(image[..., c], np.asarray(kernel,
                                                              np.float64),
                                    mode=mode)
                   for c in range(image.shape[-1])], axis=-1)
