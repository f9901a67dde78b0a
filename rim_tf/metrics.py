"""Evaluation conventions of rim_tf: the one home of PSNR, SSIM, Y/gray and noise.

Everything here is plain numpy on single images (except `psnr_tf`, which is
TensorFlow for training summaries) and imports nothing else from rim_tf.
Names say the value range: `*_uint8` takes or returns uint8 arrays on
[0, 255], `*_255` takes any dtype on the [0, 255] scale, `*01` is float on
[0, 1].

Conventions (see DESIGN.md, "Contracts"):

* Super-resolution (Huang et al. 2015 protocol, the paper's Table 3): uint8
  RGB in, Y channel as MATLAB `rgb2ycbcr` on uint8, `scale` pixels shaved from
  every side, PSNR with peak 255, SSIM of Wang et al. 2004 on the same Y.
* Denoising: PSNR on [0, 255] of the clipped, rounded estimate against the
  clean uint8 image. "Not quantized" noisy input = clean + sigma/255 N(0, 1),
  unclipped; "8-bit quantized" = that, clipped to [0, 1] and rounded to the
  1/255 grid. Gray images are MATLAB `rgb2gray` of the uint8 RGB image.
* All rounding to integers is half away from zero, as MATLAB's `round` and
  its uint8 conversions do (numpy's `np.round` is half to even).
"""

import numpy as np

# MATLAB rgb2gray: first row of inv(origT) of rgb2ycbcr.
_GRAY_COEFFS = (0.298936021293775, 0.587043074451121, 0.114020904255103)
# MATLAB rgb2ycbcr, Y row of origT (ITU-R BT.601, Poynton eq. 9.6) and offset.
_Y_COEFFS = (65.481, 128.553, 24.966)
_Y_OFFSET = 16.0
# MATLAB rgb2ycbcr: all of origT and origOffset (R, G, B on [0, 1] -> 0-255).
_YCBCR_MATRIX = np.array([_Y_COEFFS, (-37.797, -74.203, 112.0),
                          (112.0, -93.786, -18.214)])
_YCBCR_OFFSET = np.array([_Y_OFFSET, 128.0, 128.0])
# The span of Y on [0, 1] (black to white).
Y_RANGE_01 = (_Y_OFFSET / 255.0, (_Y_OFFSET + sum(_Y_COEFFS)) / 255.0)

_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03
_PEAK_255 = 255.0


# ----------------------------------------------------------------------------
# Input checks and rounding.


def _as_uint8_image(name, image, channels=None):
  """Returns `image` as an ndarray after checking dtype uint8 (and channels)."""
  image = np.asarray(image)
  if image.dtype != np.uint8:
    raise ValueError(
        f"{name}: expected dtype uint8 (values on [0, 255]), got {image.dtype}")
  if channels is not None:
    if image.ndim != 3 or image.shape[-1] != channels:
      raise ValueError(
          f"{name}: expected shape [H, W, {channels}], got {image.shape}")
  return image


def _check_same_shape(estimate, reference, estimate_name="estimate",
                      reference_name="reference"):
  if estimate.shape != reference.shape:
    raise ValueError(
        f"{estimate_name} and {reference_name}: expected equal shapes, got "
        f"{estimate.shape} and {reference.shape}")
  if estimate.size == 0:
    raise ValueError(
        f"{estimate_name}: expected a non-empty array, got shape "
        f"{estimate.shape}")


def _round_half_away(x):
  """Rounds float64 `x` to integers, ties away from zero (MATLAB `round`).

  Written with `trunc` rather than `floor(x + 0.5)` because x - trunc(x) is
  exact in floating point while x + 0.5 may round up (0.49999999999999994).
  """
  x = np.asarray(x, dtype=np.float64)
  whole = np.trunc(x)
  return whole + np.sign(x) * (np.abs(x - whole) >= 0.5)


def _to_uint8_saturate(x):
  """MATLAB double -> uint8 cast: round half away from zero, then clip."""
  return np.clip(_round_half_away(x), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------
# Colour conversions (MATLAB, uint8 in / uint8 out).


def rgb2gray_uint8(rgb_uint8, keepdims=False):
  """MATLAB `rgb2gray` of a uint8 RGB image.

  round(0.298936021293775 R + 0.587043074451121 G + 0.114020904255103 B),
  computed in float64, rounded half away from zero and saturated to uint8.

  Args:
    rgb_uint8: uint8 array [H, W, 3].
    keepdims: if True, return [H, W, 1] instead of [H, W].

  Returns:
    uint8 array [H, W] (or [H, W, 1]).
  """
  rgb = _as_uint8_image("rgb_uint8", rgb_uint8, channels=3)
  gray = _to_uint8_saturate(rgb2gray_float64(rgb))
  return gray[..., None] if keepdims else gray


def rgb2gray_float64(rgb):
  """MATLAB `rgb2gray`'s weighted sum of [..., 3] RGB samples, unrounded.

  Any dtype and scale in (uint8, uint16, float); float64 [...] out on the
  input's scale. `rgb2gray_uint8` rounds it for uint8 images.
  """
  rgb = np.asarray(rgb)
  if rgb.shape[-1:] != (3,):
    raise ValueError(f"rgb: expected [..., 3] RGB samples, got shape "
                     f"{rgb.shape}")
  rgb = rgb.astype(np.float64)
  c_r, c_g, c_b = _GRAY_COEFFS
  return c_r * rgb[..., 0] + c_g * rgb[..., 1] + c_b * rgb[..., 2]


def rgb2y_uint8(rgb_uint8):
  """Y channel of MATLAB `rgb2ycbcr` on a uint8 RGB image.

  Mathematically round(16 + (65.481 R + 128.553 G + 24.966 B) / 255). MATLAB
  evaluates it in double as T(1,1) R + T(1,2) G + T(1,3) B + 16 with the
  coefficients T = (1/255) * [65.481 128.553 24.966] (imlincomb, one
  row of the colour matrix product), then rounds half away from zero. We
  evaluate it in that same order. This matters only at the 194 of the 2^24
  colours where the exact value lies on a .5 tie (e.g. (0, 204, 68)); there
  the float64 result, and so the rounding, depends on the evaluation order.

  Args:
    rgb_uint8: uint8 array [H, W, 3].

  Returns:
    uint8 array [H, W], values in [16, 235].
  """
  rgb = _as_uint8_image("rgb_uint8", rgb_uint8, channels=3).astype(np.float64)
  t_r, t_g, t_b = (c * (1.0 / 255.0) for c in _Y_COEFFS)
  y = t_r * rgb[..., 0] + t_g * rgb[..., 1] + t_b * rgb[..., 2] + _Y_OFFSET
  return _to_uint8_saturate(y)


def rgb2ycbcr01(rgb01):
  """MATLAB `rgb2ycbcr` of a float RGB image on [0, 1], unrounded.

  Y on [16, 235] / 255 and Cb, Cr on [16, 240] / 255 (ITU-R BT.601), the
  Y of `rgb2y_uint8` before its rounding.

  Args:
    rgb01: float [..., 3] RGB on [0, 1].

  Returns:
    float64 [..., 3] (Y, Cb, Cr) on [0, 1].
  """
  rgb = np.asarray(rgb01, np.float64)
  if rgb.shape[-1:] != (3,):
    raise ValueError(f"rgb01: expected [..., 3] RGB samples, got shape "
                     f"{rgb.shape}")
  return (rgb @ _YCBCR_MATRIX.T + _YCBCR_OFFSET) / 255.0


def ycbcr2rgb01(ycbcr01):
  """MATLAB `ycbcr2rgb` of float (Y, Cb, Cr) on [0, 1] without its final
  clip to [0, 1]: the exact inverse of `rgb2ycbcr01`. float [..., 3] in,
  float64 [..., 3] out."""
  ycbcr = np.asarray(ycbcr01, np.float64)
  if ycbcr.shape[-1:] != (3,):
    raise ValueError(f"ycbcr01: expected [..., 3] (Y, Cb, Cr) samples, got "
                     f"shape {ycbcr.shape}")
  return (255.0 * ycbcr - _YCBCR_OFFSET) @ np.linalg.inv(_YCBCR_MATRIX).T


# ----------------------------------------------------------------------------
# Cropping, PSNR, SSIM.


def shave(image, border):
  """Crops `border` pixels from every side of an [H, W] or [H, W, C] image.

  Args:
    image: array [H, W] or [H, W, C], any dtype.
    border: int >= 0; 0 returns the image unchanged.

  Returns:
    array [H - 2 border, W - 2 border(, C)], same dtype (a view).
  """
  image = np.asarray(image)
  if isinstance(border, bool) or not isinstance(border, (int, np.integer)):
    raise ValueError(f"border: expected a non-negative int, got {border!r}")
  if border < 0:
    raise ValueError(f"border: expected a non-negative int, got {border}")
  if image.ndim not in (2, 3):
    raise ValueError(
        f"image: expected shape [H, W] or [H, W, C], got {image.shape}")
  height, width = image.shape[:2]
  if height <= 2 * border or width <= 2 * border:
    raise ValueError(
        f"image: shape {image.shape} is too small to shave border={border} "
        f"(need H and W > {2 * border})")
  if border == 0:
    return image
  return image[border:-border, border:-border]


def psnr_255(estimate, reference):
  """PSNR in dB with peak 255: 10 log10(255^2 / MSE), computed in float64.

  Args:
    estimate: array on the [0, 255] scale, any dtype and shape.
    reference: array of the same shape on the [0, 255] scale.

  Returns:
    float; inf when the two arrays are identical.
  """
  estimate = np.asarray(estimate)
  reference = np.asarray(reference)
  _check_same_shape(estimate, reference)
  diff = estimate.astype(np.float64) - reference.astype(np.float64)
  mse = np.mean(np.square(diff))
  if mse == 0.0:
    return float("inf")
  return float(10.0 * np.log10(_PEAK_255 ** 2 / mse))


def _gaussian_window_1d(size=_SSIM_WINDOW, sigma=_SSIM_SIGMA):
  """Normalised 1-D Gaussian; its outer product is fspecial('gaussian')."""
  x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
  g = np.exp(-0.5 * np.square(x) / sigma ** 2)
  return g / g.sum()


def _filter_valid(image, window_1d):
  """2-D 'valid' correlation with the separable window outer(w, w)."""
  size = window_1d.shape[0]
  view = np.lib.stride_tricks.sliding_window_view(image, size, axis=0)
  rows = view @ window_1d                       # [H - size + 1, W]
  view = np.lib.stride_tricks.sliding_window_view(rows, size, axis=1)
  return view @ window_1d                       # [H - size + 1, W - size + 1]


def ssim_255(estimate, reference):
  """Mean SSIM (Wang et al. 2004, `ssim_index.m`) of two [0, 255] gray images.

  11x11 Gaussian window, sigma 1.5, normalised to sum 1; K1 = 0.01,
  K2 = 0.03, L = 255; local statistics from 'valid' filtering (population
  variances), so the SSIM map is [H - 10, W - 10] and its mean is returned.
  Equals `skimage.metrics.structural_similarity(a, b, data_range=255,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False)` on float64
  input: skimage filters with 'reflect' padding but then crops the 5-pixel
  window radius from every side before averaging, which leaves exactly the
  valid region.

  Args:
    estimate: 2-D array [H, W] on [0, 255], any dtype, H, W >= 11.
    reference: 2-D array of the same shape.

  Returns:
    float, the mean of the SSIM map.
  """
  estimate = np.asarray(estimate)
  reference = np.asarray(reference)
  _check_same_shape(estimate, reference)
  if estimate.ndim != 2:
    raise ValueError(
        f"estimate: expected a 2-D gray image [H, W], got shape "
        f"{estimate.shape}")
  if min(estimate.shape) < _SSIM_WINDOW:
    raise ValueError(
        f"estimate: expected H, W >= {_SSIM_WINDOW} (the SSIM window), got "
        f"shape {estimate.shape}")
  x = estimate.astype(np.float64)
  y = reference.astype(np.float64)
  window = _gaussian_window_1d()
  mu_x = _filter_valid(x, window)
  mu_y = _filter_valid(y, window)
  var_x = _filter_valid(x * x, window) - mu_x * mu_x
  var_y = _filter_valid(y * y, window) - mu_y * mu_y
  cov_xy = _filter_valid(x * y, window) - mu_x * mu_y
  c1 = (_SSIM_K1 * _PEAK_255) ** 2
  c2 = (_SSIM_K2 * _PEAK_255) ** 2
  ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / (
      (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))
  return float(np.mean(ssim_map))


# ----------------------------------------------------------------------------
# Denoising conventions.


def to_uint8(image01):
  """Float image on [0, 1] -> uint8: clip, then round(255 x) half away from 0.

  This is the "clipped, rounded output" the denoising PSNR is taken on.

  Args:
    image01: float array, any shape, nominally in [0, 1].

  Returns:
    uint8 array of the same shape.
  """
  image01 = np.asarray(image01)
  if not np.issubdtype(image01.dtype, np.floating):
    raise ValueError(
        f"image01: expected a float array on [0, 1], got dtype "
        f"{image01.dtype}")
  scaled = 255.0 * np.clip(image01.astype(np.float64), 0.0, 1.0)
  return _to_uint8_saturate(scaled)


def quantize_8bit(noisy01):
  """The "8-bit quantized" noisy input: clip to [0, 1], round to k / 255.

  Args:
    noisy01: float array, any shape.

  Returns:
    float32 array of the same shape with values float32(k / 255), k in 0..255.
  """
  levels = to_uint8(noisy01)
  return (levels.astype(np.float64) / 255.0).astype(np.float32)


def add_gaussian_noise(clean01, sigma_255, rng):
  """The "not quantized" noisy input: clean + sigma/255 N(0, 1), unclipped.

  Args:
    clean01: float array on [0, 1], any shape.
    sigma_255: noise standard deviation on the [0, 255] scale, >= 0.
    rng: a `numpy.random.Generator` (fixed seed for reproducible tables).

  Returns:
    float32 array of the shape of `clean01`.
  """
  clean01 = np.asarray(clean01)
  if not np.issubdtype(clean01.dtype, np.floating):
    raise ValueError(
        f"clean01: expected a float array on [0, 1], got dtype "
        f"{clean01.dtype}")
  if not np.isfinite(sigma_255) or sigma_255 < 0:
    raise ValueError(f"sigma_255: expected a finite value >= 0, got "
                     f"{sigma_255}")
  if not isinstance(rng, np.random.Generator):
    raise ValueError(
        f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
  noise = rng.standard_normal(clean01.shape)
  noisy = clean01.astype(np.float64) + (sigma_255 / 255.0) * noise
  return noisy.astype(np.float32)


# ----------------------------------------------------------------------------
# Super-resolution convention.


def _luma_uint8(name, image_uint8):
  image = _as_uint8_image(name, image_uint8)
  if image.ndim == 2:
    return image
  if image.ndim == 3 and image.shape[-1] == 3:
    return rgb2y_uint8(image)
  if image.ndim == 3 and image.shape[-1] == 1:
    return image[..., 0]
  raise ValueError(
      f"{name}: expected [H, W, 3] RGB or [H, W] / [H, W, 1] gray, got shape "
      f"{image.shape}")


def superres_metrics(estimate_uint8_rgb, reference_uint8_rgb, scale):
  """(PSNR, SSIM) of the Huang et al. 2015 super-resolution protocol.

  Both images are converted to MATLAB's Y channel (`rgb2y_uint8`; a gray
  image is its own Y), `scale` pixels are shaved from every side, then PSNR
  (peak 255) and SSIM (`ssim_255`) are taken on the shaved Y.

  Args:
    estimate_uint8_rgb: uint8 [H, W, 3] (or gray [H, W] / [H, W, 1]).
    reference_uint8_rgb: uint8 array of the same shape.
    scale: the integer magnification factor, >= 1 (also the border shaved).

  Returns:
    (psnr, ssim) as floats.
  """
  estimate = np.asarray(estimate_uint8_rgb)
  reference = np.asarray(reference_uint8_rgb)
  _check_same_shape(estimate, reference, "estimate_uint8_rgb",
                    "reference_uint8_rgb")
  if (isinstance(scale, bool) or not isinstance(scale, (int, np.integer))
      or scale < 1):
    raise ValueError(f"scale: expected an int >= 1, got {scale!r}")
  y_est = shave(_luma_uint8("estimate_uint8_rgb", estimate), int(scale))
  y_ref = shave(_luma_uint8("reference_uint8_rgb", reference), int(scale))
  return psnr_255(y_est, y_ref), ssim_255(y_est, y_ref)


# ----------------------------------------------------------------------------
# TensorFlow PSNR for training summaries.


def psnr_tf(estimate01, reference01):
  """Per-example PSNR (peak 1.0) of [N, H, W, C] float tensors -> [N].

  Computed in the input's float dtype (float32 unless given float64);
  identical examples give inf. Works inside `tf.function`.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  estimate = tf.convert_to_tensor(estimate01)
  reference = tf.convert_to_tensor(reference01)
  if not estimate.dtype.is_floating:
    raise ValueError(
        f"estimate01: expected a float tensor on [0, 1], got {estimate.dtype}")
  reference = tf.cast(reference, estimate.dtype)
  if estimate.shape.rank is not None and estimate.shape.rank != 4:
    raise ValueError(
        f"estimate01: expected shape [N, H, W, C], got {estimate.shape}")
  if not estimate.shape.is_compatible_with(reference.shape):
    raise ValueError(
        f"estimate01 and reference01: expected equal shapes, got "
        f"{estimate.shape} and {reference.shape}")
  mse = tf.reduce_mean(tf.square(estimate - reference), axis=[1, 2, 3])
  return -10.0 * tf.math.log(mse) / tf.math.log(
      tf.constant(10.0, dtype=mse.dtype))


# ----------------------------------------------------------------------------
# Error bars.


def bootstrap_sem(values, num_resamples=10000, seed=0):
  """Standard error of the mean by bootstrap (the paper's Table 3 error bars).

  Draws `num_resamples` resamples of len(values) with replacement and returns
  the standard deviation of their means.

  Args:
    values: 1-D sequence of finite numbers (e.g. per-image PSNRs), length >= 1.
    num_resamples: number of bootstrap resamples, >= 2.
    seed: seed of the numpy Generator (fixed for reproducible tables).

  Returns:
    float.
  """
  values = np.asarray(values, dtype=np.float64)
  if values.ndim != 1 or values.size == 0:
    raise ValueError(
        f"values: expected a non-empty 1-D sequence, got shape {values.shape}")
  if not np.all(np.isfinite(values)):
    raise ValueError("values: expected finite numbers, got inf or nan")
  if (isinstance(num_resamples, bool)
      or not isinstance(num_resamples, (int, np.integer)) or num_resamples < 2):
    raise ValueError(
        f"num_resamples: expected an int >= 2, got {num_resamples!r}")
  rng = np.random.default_rng(seed)
  n = values.size
  chunk = max(1, 2 ** 22 // n)                  # bound memory to ~32 MB
  means = []
  for start in range(0, num_resamples, chunk):
    rows = min(chunk, num_resamples - start)
    means.append(values[rng.integers(0, n, size=(rows, n))].mean(axis=1))
  return float(np.std(np.concatenate(means)))
