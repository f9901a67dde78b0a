"""The classical baselines: BM3D, CBM3D, bicubic (the paper's), and for
deblurring BM3D-deblurring and the Wiener filter."""

import contextlib

import bm3d
import numpy as np

from rim_tf.operators import bicubic
from rim_tf.operators import blur


def _as_float64(name, image01):
  """A float image on [0, 1] as float64; integer images are refused (a uint8
  image on [0, 255] would be denoised at 1/255 of its noise level)."""
  image = np.asarray(image01)
  if not np.issubdtype(image.dtype, np.floating):
    raise ValueError(f"{name} must be a float image on [0, 1], got dtype "
                     f"{image.dtype}.")
  return image.astype(np.float64)


def _as_gray(name, image01):
  """A gray float image [H, W] or [H, W, 1] on [0, 1] as float64 [H, W]."""
  image = _as_float64(name, image01)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.ndim != 2:
    raise ValueError(f"{name} must be a gray image [H, W] or [H, W, 1], got "
                     f"shape {np.shape(image01)}.")
  return image


def bm3d_denoise(noisy01, sigma_255):
  """BM3D (Dabov et al. 2007) of a gray image with the true noise level.

  Args:
    noisy01: float [H, W] or [H, W, 1], the noisy image on the [0, 1] scale.
    sigma_255: noise std on the [0, 255] scale.

  Returns:
    float32 [H, W, 1] estimate on the [0, 1] scale (unclipped).
  """
  noisy = _as_gray("noisy01", noisy01)
  if not sigma_255 > 0:
    raise ValueError(f"sigma_255 must be > 0, got {sigma_255}.")
  out = bm3d.bm3d(noisy, sigma_psd=sigma_255 / 255.0)
  return np.asarray(out, np.float32)[..., None]


def cbm3d_denoise(noisy01, sigma_255):
  """CBM3D (Dabov et al. 2007b) of an RGB image [H, W, 3] on [0, 1].

  Returns float32 [H, W, 3] on [0, 1] (unclipped).
  """
  noisy = _as_float64("noisy01", noisy01)
  if noisy.ndim != 3 or noisy.shape[-1] != 3:
    raise ValueError(f"noisy01 must be an RGB image [H, W, 3], got shape "
                     f"{noisy.shape}.")
  if not sigma_255 > 0:
    raise ValueError(f"sigma_255 must be > 0, got {sigma_255}.")
  out = bm3d.bm3d_rgb(noisy, sigma_psd=sigma_255 / 255.0)
  return np.asarray(out, np.float32)


def bicubic_upscale(low01, scale):
  """MATLAB imresize(LR, scale, 'bicubic') on float [H, W, C] -> float32."""
  low = _as_float64("low01", low01).astype(np.float32)
  return np.asarray(bicubic.imresize(low, scale), np.float32)


def bicubic_upscale_uint8(low_uint8, scale):
  """MATLAB imresize(LR, scale, 'bicubic') on uint8 [H, W, C] -> uint8."""
  low = np.asarray(low_uint8)
  if low.dtype != np.uint8:
    raise ValueError(f"low_uint8 must be uint8, got {low.dtype}.")
  return bicubic.imresize(low, scale)


def _gray_and_kernel(blurred01, kernel, sigma_255):
  """(float64 [H, W], float64 kernel) of a deblurring baseline's inputs."""
  blurred = _as_gray("blurred01", blurred01)
  kernel = np.asarray(kernel, np.float64)
  if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
    raise ValueError(f"kernel must be 2-D with odd sides, got shape "
                     f"{kernel.shape}.")
  if not sigma_255 >= 0:
    raise ValueError(f"sigma_255 must be >= 0, got {sigma_255}.")
  return blurred, kernel


@contextlib.contextmanager
def _numpy_trapz():
  """bm3d's deblurring calls numpy.trapz (through bm4d), which NumPy 2
  removed: lend it numpy.trapezoid (the same function) for the call,
  without pinning NumPy. It patches the numpy module for the call's
  duration: not for threads that call it at the same time."""
  if hasattr(np, "trapz"):
    yield
    return
  np.trapz = np.trapezoid
  try:
    yield
  finally:
    del np.trapz


def bm3d_deblur(blurred01, kernel, sigma_255):
  """BM3D deblurring (Dabov et al. 2008, regularised inversion then BM3D,
  `bm3d.bm3d_deblurring`) of a gray image blurred circularly by `kernel`
  (centre at kernel.shape // 2), with the true kernel and noise level.

  Returns float32 [H, W, 1] on [0, 1] (unclipped).
  """
  blurred, kernel = _gray_and_kernel(blurred01, kernel, sigma_255)
  # The 8-bit rounding of a noise-free input is noise too.
  sigma = max(sigma_255, blur.ROUNDING_SIGMA_255) / 255.0
  with _numpy_trapz():
    out = bm3d.bm3d_deblurring(blurred[..., None], sigma, kernel)
  return np.asarray(out, np.float32).reshape(blurred.shape + (1,))


def wiener_deblur(blurred01, kernel, sigma_255):
  """The Wiener filter of a gray image blurred circularly by `kernel`, with
  a constant signal-to-noise ratio: X = conj(K) Y / (|K|^2 + sigma^2 /
  var(image)), var(image) estimated as var(y) - sigma^2
  (`rim_tf.operators.Blur.wiener`, which the Wiener start uses too).

  Returns float32 [H, W, 1] on [0, 1] (unclipped).
  """
  blurred, kernel = _gray_and_kernel(blurred01, kernel, sigma_255)
  operator = blur.Blur(kernel.astype(np.float32), blurred.shape + (1,),
                       sigma=sigma_255 / 255.0)
  return operator.wiener(blurred[None, ..., None].astype(np.float32))[
      0].numpy()
