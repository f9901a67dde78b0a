"""Tests of rim_tf.baselines: BM3D / CBM3D denoise, bicubic is imresize."""

import numpy as np
import pytest

from rim_tf import baselines
from rim_tf import metrics
from rim_tf import operators


def gradient_image(size=48, channels=1):
  """A smooth uint8 image: ramps in x and y (one direction per channel)."""
  yy, xx = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
  planes = [40 + 3 * xx + 1 * yy, 200 - 2 * yy - xx, 60 + 2 * xx + 2 * yy]
  return np.stack(planes[:channels], -1).clip(0, 255).astype(np.uint8)


def noisy_version(clean_uint8, sigma_255, seed=0):
  rng = np.random.default_rng(seed)
  return metrics.add_gaussian_noise(clean_uint8 / 255.0, sigma_255, rng)


def test_bm3d_denoise_improves_psnr_clearly():
  clean = gradient_image(48, 1)
  noisy = noisy_version(clean, 25)
  out = baselines.bm3d_denoise(noisy, 25)
  assert out.shape == (48, 48, 1) and out.dtype == np.float32
  before = metrics.psnr_255(metrics.to_uint8(noisy), clean)
  after = metrics.psnr_255(metrics.to_uint8(out), clean)
  assert before == pytest.approx(20.4, abs=0.6)
  assert after > before + 8, (before, after)
  # [H, W] input gives the same [H, W, 1] estimate (to a few float32 steps:
  # bm3d's threaded transforms do not always sum in one order).
  np.testing.assert_allclose(baselines.bm3d_denoise(noisy[..., 0], 25), out,
                             atol=1e-5)


def test_cbm3d_denoise_improves_psnr_clearly():
  clean = gradient_image(48, 3)
  noisy = noisy_version(clean, 25, seed=1)
  out = baselines.cbm3d_denoise(noisy, 25)
  assert out.shape == (48, 48, 3) and out.dtype == np.float32
  before = metrics.psnr_255(metrics.to_uint8(noisy), clean)
  after = metrics.psnr_255(metrics.to_uint8(out), clean)
  assert after > before + 8, (before, after)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_upscale_uint8_is_matlab_imresize(scale):
  low = gradient_image(13, 3)[:13, :11]
  up = baselines.bicubic_upscale_uint8(low, scale)
  assert up.dtype == np.uint8 and up.shape == (13 * scale, 11 * scale, 3)
  np.testing.assert_array_equal(up, operators.imresize(low, scale))


@pytest.mark.parametrize("bad, match", [
    (np.zeros((16, 16, 3), np.float32), r"gray image.*\(16, 16, 3\)"),
    (np.zeros((16,), np.float32), "gray image"),
    (np.zeros((16, 16, 1), np.uint8), "float image.*uint8"),
])
def test_bm3d_denoise_rejects_wrong_images(bad, match):
  with pytest.raises(ValueError, match=match):
    baselines.bm3d_denoise(bad, 25)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((16, 16, 1), np.float32), r"RGB image.*\(16, 16, 1\)"),
    (np.zeros((16, 16), np.float32), "RGB image"),
    (np.zeros((16, 16, 3), np.uint8), "float image.*uint8"),
])
def test_cbm3d_denoise_rejects_wrong_images(bad, match):
  with pytest.raises(ValueError, match=match):
    baselines.cbm3d_denoise(bad, 25)


@pytest.mark.parametrize("sigma", [0, -5, float("nan")])
def test_bm3d_and_cbm3d_reject_non_positive_sigma(sigma):
  with pytest.raises(ValueError, match="sigma_255 must be > 0"):
    baselines.bm3d_denoise(np.zeros((16, 16, 1), np.float32), sigma)
  with pytest.raises(ValueError, match="sigma_255 must be > 0"):
    baselines.cbm3d_denoise(np.zeros((16, 16, 3), np.float32), sigma)


def test_bicubic_upscale_uint8_rejects_float_input():
  with pytest.raises(ValueError, match="low_uint8 must be uint8, got float32"):
    baselines.bicubic_upscale_uint8(np.zeros((8, 8, 3), np.float32), 2)


def _blurred_case(sigma_255=2.55, size=64):
  from rim_tf.data import kernels  # pylint: disable=g-import-not-at-top
  from rim_tf.evaluation import protocols  # pylint: disable=g-import-not-at-top
  rows, cols = np.mgrid[:size, :size]
  clean = (128 + 80 * np.sign(np.sin(rows / 5.0)) * np.cos(cols / 7.0))
  clean = np.round(clean).astype(np.uint8)[..., None]
  kernel = kernels.levin09()[4]  # 13 x 13
  return clean, kernel, protocols.blurred_image(clean, kernel, sigma_255)


@pytest.mark.parametrize("name", ["bm3d_deblur", "wiener_deblur"])
def test_deblurring_baselines_improve_on_the_blurred_image(name):
  clean, kernel, blurred = _blurred_case()
  out = getattr(baselines, name)(blurred, kernel, 2.55)
  assert out.shape == clean.shape and out.dtype == np.float32
  before = metrics.psnr_255(metrics.to_uint8(blurred), clean)
  after = metrics.psnr_255(metrics.to_uint8(out), clean)
  assert after > before + 2.0, (before, after)


def test_bm3d_deblur_runs_without_numpy_trapz_and_leaves_numpy_alone():
  clean, kernel, blurred = _blurred_case()
  had = hasattr(np, "trapz")
  baselines.bm3d_deblur(blurred, kernel, 2.55)
  assert hasattr(np, "trapz") == had


@pytest.mark.parametrize("kwargs,match", [
    ({"blurred01": np.zeros((8, 8, 3), np.float32)}, "gray image"),
    ({"blurred01": np.zeros((8, 8), np.uint8)}, "float image"),
    ({"kernel": np.ones((4, 4))}, "odd sides"),
    ({"sigma_255": -1.0}, "sigma_255 must be >= 0"),
])
def test_deblurring_baselines_reject_wrong_inputs(kwargs, match):
  args = {"blurred01": np.zeros((8, 8), np.float32),
          "kernel": np.ones((3, 3)) / 9, "sigma_255": 2.55, **kwargs}
  with pytest.raises(ValueError, match=match):
    baselines.wiener_deblur(**args)
