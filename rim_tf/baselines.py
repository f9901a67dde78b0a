"""The classical baselines the paper compares against: BM3D, CBM3D, bicubic."""

import bm3d
import numpy as np

from rim_tf.operators import bicubic


def _as_float64(name, image01):
  """A float image on [0, 1] as float64; integer images are refused (a uint8
  image on [0, 255] would be denoised at 1/255 of its noise level)."""
  image = np.asarray(image01)
  if not np.issubdtype(image.dtype, np.floating):
    raise ValueError(f"{name} must be a float image on [0, 1], got dtype "
                     f"{image.dtype}.")
  return image.astype(np.float64)


def bm3d_denoise(noisy01, sigma_255):
  """BM3D (Dabov et al. 2007) of a gray image with the true noise level.

  Args:
    noisy01: float [H, W] or [H, W, 1], the noisy image on the [0, 1] scale.
    sigma_255: noise std on the [0, 255] scale.

  Returns:
    float32 [H, W, 1] estimate on the [0, 1] scale (unclipped).
  """
  noisy = _as_float64("noisy01", noisy01)
  if noisy.ndim == 3 and noisy.shape[-1] == 1:
    noisy = noisy[..., 0]
  if noisy.ndim != 2:
    raise ValueError(f"noisy01 must be a gray image [H, W] or [H, W, 1], got "
                     f"shape {np.shape(noisy01)}.")
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
