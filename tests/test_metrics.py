"""Tests of rim_tf.metrics: the evaluation conventions of DESIGN.md "Contracts"."""

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio
from skimage.metrics import structural_similarity

from rim_tf import metrics


def _skimage_ssim(a, b):
  """skimage's SSIM under the settings that make it Wang et al. 2004."""
  return structural_similarity(
      np.asarray(a, np.float64), np.asarray(b, np.float64), data_range=255,
      gaussian_weights=True, sigma=1.5, use_sample_covariance=False)


def _structured_pair(height, width, seed):
  """A smooth-plus-edges image on [0, 255] and a degraded copy of it."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
  clean = (127.5 + 60 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
           + 50 * (xx > width / 2) - 25 * (yy > height / 3))
  clean = np.clip(clean, 0, 255)
  degraded = np.clip(clean + rng.normal(0, 12, clean.shape), 0, 255)
  return degraded, clean


def _all_colours_in_chunks():
  """Yields (R, G, B) int64 arrays covering all 2^24 colours, one R at a time."""
  g, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
  g, b = g.ravel().astype(np.int64), b.ravel().astype(np.int64)
  for r in range(256):
    yield np.full_like(g, r), g, b


def _as_image(r, g, b):
  return np.stack([r, g, b], axis=-1).astype(np.uint8)[None]  # [1, P, 3]


def _round_half_away_test(x):
  """Half-away-from-zero rounding written independently of the library."""
  return np.where(x >= 0, np.floor(x + 0.5), np.ceil(x - 0.5))


def _y_exact_times_255000(r, g, b):
  """255000 * (16 + (65.481 R + 128.553 G + 24.966 B) / 255), in integers."""
  return 255000 * 16 + 65481 * r + 128553 * g + 24966 * b


# -----------------------------------------------------------------------------
# Colour conversions.


def test_rgb2y_known_colours():
  colours = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0],
                       [0, 0, 255]]], np.uint8)
  # 16 + 65.481, 16 + 128.553, 16 + 24.966 -> 81.481, 144.553, 40.966.
  np.testing.assert_array_equal(metrics.rgb2y_uint8(colours),
                                [[16, 235, 81, 145, 41]])


def test_rgb2gray_known_colours():
  colours = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0],
                       [0, 0, 255], [7, 7, 7]]], np.uint8)
  # 76.2287, 149.696, 29.075; coefficients sum to 1 - 1e-15 so gray stays gray.
  np.testing.assert_array_equal(metrics.rgb2gray_uint8(colours),
                                [[0, 255, 76, 150, 29, 7]])


def test_rgb2y_matches_exact_arithmetic_on_all_colours_off_ties():
  num_ties = 0
  for r, g, b in _all_colours_in_chunks():
    exact = _y_exact_times_255000(r, g, b)
    tie = exact % 255000 == 127500
    num_ties += int(tie.sum())
    expected = (exact + 127500) // 255000            # exact, off ties
    got = metrics.rgb2y_uint8(_as_image(r, g, b))[0].astype(np.int64)
    np.testing.assert_array_equal(got[~tie], expected[~tie])
    # On an exact .5 tie float64 lands just below or just above it.
    assert np.all((got[tie] == expected[tie]) | (got[tie] == expected[tie] - 1))
  assert num_ties == 194


def test_rgb2y_on_ties_follows_matlab_evaluation_order():
  # MATLAB rgb2ycbcr(uint8): T = (1/255) * origT; Y = T1 R + T2 G + T3 B + 16.
  ties = []
  for r, g, b in _all_colours_in_chunks():
    tie = _y_exact_times_255000(r, g, b) % 255000 == 127500
    ties.append(np.stack([r[tie], g[tie], b[tie]], axis=-1))
  ties = np.concatenate(ties)
  assert [0, 204, 68] in ties.tolist()               # exactly 125.5
  rf, gf, bf = (ties[:, i].astype(np.float64) for i in range(3))
  matlab = ((1 / 255) * 65.481 * rf + (1 / 255) * 128.553 * gf
            + (1 / 255) * 24.966 * bf + 16)
  got = metrics.rgb2y_uint8(ties[None].astype(np.uint8))[0]
  np.testing.assert_array_equal(got, _round_half_away_test(matlab))


def test_rgb2y_matches_formula_on_random_sample_and_edges():
  rng = np.random.default_rng(0)
  rgb = rng.integers(0, 256, size=(500, 400, 3)).astype(np.uint8)
  rgb[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0],
                [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255]]
  r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
  formula = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
  tie = _y_exact_times_255000(*(rgb[..., i].astype(np.int64)
                                for i in range(3))) % 255000 == 127500
  got = metrics.rgb2y_uint8(rgb)
  assert got.dtype == np.uint8 and got.shape == (500, 400)
  np.testing.assert_array_equal(got[~tie], _round_half_away_test(formula)[~tie])
  assert got.min() >= 16 and got.max() <= 235


def test_rgb2ycbcr01_known_colours_and_round_trip():
  # MATLAB rgb2ycbcr on doubles: (offset + origT row . rgb) / 255.
  red = metrics.rgb2ycbcr01([1.0, 0.0, 0.0])
  np.testing.assert_allclose(
      red, [(16 + 65.481) / 255, (128 - 37.797) / 255, (128 + 112) / 255],
      rtol=0, atol=1e-15)
  np.testing.assert_allclose(metrics.rgb2ycbcr01([0.0, 0.0, 0.0]),
                             [16 / 255, 128 / 255, 128 / 255], atol=1e-15)
  np.testing.assert_allclose(metrics.rgb2ycbcr01([1.0, 1.0, 1.0]),
                             [235 / 255, 128 / 255, 128 / 255], atol=1e-12)
  rng = np.random.default_rng(2)
  rgb = rng.random((40, 30, 3))
  np.testing.assert_allclose(metrics.ycbcr2rgb01(metrics.rgb2ycbcr01(rgb)),
                             rgb, atol=1e-12)
  # Its Y, rounded on the 0-255 scale, is rgb2y_uint8 (off the rare ties).
  rgb_uint8 = rng.integers(0, 256, size=(200, 100, 3)).astype(np.uint8)
  luma = 255 * metrics.rgb2ycbcr01(rgb_uint8 / 255.0)[..., 0]
  off_tie = np.abs(luma - np.trunc(luma) - 0.5) > 1e-9
  np.testing.assert_array_equal(
      _round_half_away_test(luma)[off_tie],
      metrics.rgb2y_uint8(rgb_uint8)[off_tie])


def test_rgb2gray_matches_exact_arithmetic_on_all_colours():
  coeffs = (298936021293775, 587043074451121, 114020904255103)   # * 1e-15
  for r, g, b in _all_colours_in_chunks():
    exact = coeffs[0] * r + coeffs[1] * g + coeffs[2] * b
    assert not np.any(exact % 10**15 == 5 * 10**14)   # no exact .5 ties
    expected = (exact + 5 * 10**14) // 10**15
    got = metrics.rgb2gray_uint8(_as_image(r, g, b))[0]
    np.testing.assert_array_equal(got, expected)


def test_rgb2gray_matches_formula_near_half_boundaries():
  # The colours whose gray value lies closest to a .5 boundary: 210.5000046,
  # 209.5000046, ... (exact decimal arithmetic), so they round up.
  near_half = np.array([[[255, 206, 117], [254, 205, 116], [253, 204, 115],
                         [252, 203, 114], [251, 202, 113]]], np.uint8)
  rng = np.random.default_rng(1)
  sample = rng.integers(0, 256, size=(300, 300, 3)).astype(np.uint8)
  for rgb in (near_half, sample):
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    formula = (0.298936021293775 * r + 0.587043074451121 * g
               + 0.114020904255103 * b)
    np.testing.assert_array_equal(metrics.rgb2gray_uint8(rgb),
                                  _round_half_away_test(formula))
  np.testing.assert_array_equal(metrics.rgb2gray_uint8(near_half)[0],
                                [211, 210, 209, 208, 207])


def test_rgb2gray_keepdims():
  rgb = np.zeros((5, 7, 3), np.uint8)
  assert metrics.rgb2gray_uint8(rgb).shape == (5, 7)
  assert metrics.rgb2gray_uint8(rgb, keepdims=True).shape == (5, 7, 1)


# -----------------------------------------------------------------------------
# Shave, PSNR, SSIM.


@pytest.mark.parametrize("shape, border, expected", [
    ((10, 12), 0, (10, 12)),
    ((10, 12), 2, (6, 8)),
    ((10, 12, 3), 4, (2, 4, 3)),
])
def test_shave_shapes(shape, border, expected):
  image = np.arange(np.prod(shape)).reshape(shape)
  shaved = metrics.shave(image, border)
  assert shaved.shape == expected
  np.testing.assert_array_equal(
      shaved, image[border:shape[0] - border, border:shape[1] - border])


def test_psnr_known_value():
  reference = np.zeros((10, 10), np.uint8)
  estimate = reference.copy()
  estimate[0, :] = 10                   # MSE = 10 * 100 / 100 = 10
  assert metrics.psnr_255(estimate, reference) == pytest.approx(
      10 * np.log10(255**2 / 10), abs=1e-12)
  assert metrics.psnr_255(reference, reference) == float("inf")


def test_psnr_does_not_wrap_uint8():
  a = np.zeros((4, 4), np.uint8)
  b = np.full((4, 4), 255, np.uint8)
  assert metrics.psnr_255(a, b) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_psnr_matches_skimage(seed):
  rng = np.random.default_rng(seed)
  reference = rng.integers(0, 256, size=(40, 33)).astype(np.uint8)
  estimate = np.clip(reference + rng.normal(0, 9, reference.shape), 0, 255)
  expected = peak_signal_noise_ratio(reference.astype(np.float64), estimate,
                                     data_range=255)
  assert metrics.psnr_255(estimate, reference) == pytest.approx(expected,
                                                                abs=1e-6)
  degraded, clean = _structured_pair(48, 64, seed)
  expected = peak_signal_noise_ratio(clean, degraded, data_range=255)
  assert metrics.psnr_255(degraded, clean) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("height, width", [(11, 11), (37, 53), (64, 48)])
def test_ssim_matches_skimage_on_random_images(height, width):
  rng = np.random.default_rng(height * width)
  a = rng.integers(0, 256, size=(height, width)).astype(np.uint8)
  b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).round().astype(np.uint8)
  assert metrics.ssim_255(b, a) == pytest.approx(_skimage_ssim(b, a), abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_matches_skimage_on_structured_images(seed):
  degraded, clean = _structured_pair(45 + seed, 70, seed)
  assert metrics.ssim_255(degraded, clean) == pytest.approx(
      _skimage_ssim(degraded, clean), abs=1e-6)


def test_ssim_uses_only_the_valid_region():
  # skimage crops (win_size - 1) // 2 = 5 pixels of its full SSIM map: the
  # mean of that crop is ours; the uncropped mean (reflect-padded) is not.
  degraded, clean = _structured_pair(30, 40, 3)
  _, full_map = structural_similarity(
      degraded, clean, data_range=255, gaussian_weights=True, sigma=1.5,
      use_sample_covariance=False, full=True)
  ours = metrics.ssim_255(degraded, clean)
  assert ours == pytest.approx(full_map[5:-5, 5:-5].mean(), abs=1e-12)
  assert abs(ours - full_map.mean()) > 1e-4


def test_ssim_known_values():
  rng = np.random.default_rng(5)
  a = rng.integers(0, 256, size=(20, 20)).astype(np.float64)
  assert metrics.ssim_255(a, a) == pytest.approx(1.0, abs=1e-12)
  # Constant images: SSIM = (2 m1 m2 + C1) / (m1^2 + m2^2 + C1), C1 = 2.55^2.
  c1 = 2.55**2
  expected = (2 * 100 * 50 + c1) / (100**2 + 50**2 + c1)
  assert metrics.ssim_255(np.full((15, 15), 100.0),
                          np.full((15, 15), 50.0)) == pytest.approx(
                              expected, abs=1e-12)


# -----------------------------------------------------------------------------
# Super-resolution metric.


def test_superres_metrics_rgb_matches_independent_pipeline():
  rng = np.random.default_rng(7)
  reference = rng.integers(0, 256, size=(36, 42, 3)).astype(np.uint8)
  estimate = np.clip(reference + rng.normal(0, 10, reference.shape), 0,
                     255).round().astype(np.uint8)
  scale = 3

  def y_channel(rgb):
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    return _round_half_away_test(16 + (65.481 * r + 128.553 * g
                                       + 24.966 * b) / 255)

  y_est = y_channel(estimate)[scale:-scale, scale:-scale]
  y_ref = y_channel(reference)[scale:-scale, scale:-scale]
  psnr, ssim = metrics.superres_metrics(estimate, reference, scale)
  assert psnr == pytest.approx(
      peak_signal_noise_ratio(y_ref, y_est, data_range=255), abs=1e-6)
  assert ssim == pytest.approx(_skimage_ssim(y_est, y_ref), abs=1e-6)


def test_superres_metrics_gray_uses_image_itself():
  rng = np.random.default_rng(8)
  reference = rng.integers(0, 256, size=(30, 31)).astype(np.uint8)
  estimate = np.clip(reference.astype(int) + rng.integers(-3, 4, size=(30, 31)),
                     0, 255).astype(np.uint8)
  psnr, ssim = metrics.superres_metrics(estimate, reference, 2)
  assert psnr == pytest.approx(
      metrics.psnr_255(estimate[2:-2, 2:-2], reference[2:-2, 2:-2]), abs=1e-12)
  assert ssim == pytest.approx(
      _skimage_ssim(estimate[2:-2, 2:-2], reference[2:-2, 2:-2]), abs=1e-6)
  psnr1, ssim1 = metrics.superres_metrics(estimate[..., None],
                                          reference[..., None], 2)
  assert (psnr1, ssim1) == (psnr, ssim)


# -----------------------------------------------------------------------------
# Denoising conventions.


def test_to_uint8_clips_and_rounds_half_away_from_zero():
  got = metrics.to_uint8(np.array([-0.3, 0.0, 0.2, 0.5, 1.0, 1.7]))
  np.testing.assert_array_equal(got, [0, 0, 51, 128, 255, 255])
  assert got.dtype == np.uint8
  # x with 255 x exactly k + 0.5 for even k: numpy's half-to-even gives k.
  k = np.arange(0, 254, 2, dtype=np.float64)
  x = (k + 0.5) / 255
  exact = 255 * x == k + 0.5
  assert exact.sum() > 10
  np.testing.assert_array_equal(metrics.to_uint8(x[exact]), k[exact] + 1)


def test_quantize_8bit_lies_on_grid_in_unit_interval():
  rng = np.random.default_rng(9)
  noisy = rng.uniform(-0.5, 1.5, size=(64, 64)).astype(np.float32)
  q = metrics.quantize_8bit(noisy)
  assert q.dtype == np.float32 and q.shape == noisy.shape
  assert q.min() == 0.0 and q.max() == 1.0
  levels = np.round(q.astype(np.float64) * 255)
  np.testing.assert_array_equal(q, (levels / 255).astype(np.float32))
  inside = (noisy >= 0) & (noisy <= 1)
  assert np.all(np.abs(q[inside] - noisy[inside]) <= 0.5 / 255 + 1e-7)


def test_add_gaussian_noise_statistics():
  clean = np.full((1000, 1000), 0.3, np.float32)
  noisy = metrics.add_gaussian_noise(clean, 25, np.random.default_rng(0))
  assert noisy.dtype == np.float32 and noisy.shape == clean.shape
  noise = noisy.astype(np.float64) - 0.3
  assert noise.std() == pytest.approx(25 / 255, rel=0.01)
  assert abs(noise.mean()) < 5 * (25 / 255) / 1000
  assert noisy.min() < 0.0                  # unclipped
  again = metrics.add_gaussian_noise(clean, 25, np.random.default_rng(0))
  np.testing.assert_array_equal(noisy, again)


def test_psnr_tf_matches_psnr_255():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(10)
  reference = rng.uniform(size=(3, 16, 12, 3))
  estimate = np.clip(reference + rng.normal(0, 0.05, reference.shape), 0, 1)
  estimate[2] = reference[2]
  expected = [metrics.psnr_255(255 * e, 255 * r)
              for e, r in zip(estimate, reference)]
  got64 = metrics.psnr_tf(tf.constant(estimate), tf.constant(reference))
  assert got64.shape == (3,) and np.isinf(got64[2])
  np.testing.assert_allclose(got64.numpy()[:2], expected[:2], atol=1e-9)
  got32 = tf.function(metrics.psnr_tf)(estimate.astype(np.float32),
                                       reference.astype(np.float32))
  np.testing.assert_allclose(got32.numpy()[:2], expected[:2], atol=1e-4)


def test_bootstrap_sem_close_to_analytic():
  values = np.random.default_rng(11).normal(30.0, 2.0, size=2000)
  sem = metrics.bootstrap_sem(values)
  assert sem == pytest.approx(values.std() / np.sqrt(values.size), rel=0.05)
  assert metrics.bootstrap_sem(values) == sem          # fixed seed
  assert metrics.bootstrap_sem(np.full(10, 3.0)) == 0.0


# -----------------------------------------------------------------------------
# Input validation.

_U8 = np.zeros((16, 16, 3), np.uint8)


@pytest.mark.parametrize("call, match", [
    (lambda: metrics.rgb2gray_uint8(_U8.astype(np.float32)), "rgb_uint8.*uint8"),
    (lambda: metrics.rgb2gray_uint8(_U8[..., :2]), r"rgb_uint8.*\[H, W, 3\]"),
    (lambda: metrics.rgb2y_uint8(_U8.astype(np.int64)), "rgb_uint8.*uint8"),
    (lambda: metrics.rgb2y_uint8(_U8[..., 0]), r"rgb_uint8.*\[H, W, 3\]"),
    (lambda: metrics.rgb2ycbcr01(np.zeros((4, 4, 2))), r"rgb01.*\[\.\.\., 3\]"),
    (lambda: metrics.ycbcr2rgb01(np.zeros(4)), r"ycbcr01.*\[\.\.\., 3\]"),
    (lambda: metrics.shave(_U8, -1), "border.*non-negative"),
    (lambda: metrics.shave(_U8, 1.5), "border.*int"),
    (lambda: metrics.shave(_U8, 8), "image.*too small"),
    (lambda: metrics.shave(np.zeros(5), 1), r"image.*\[H, W\]"),
    (lambda: metrics.psnr_255(np.zeros((4, 4)), np.zeros((4, 5))),
     "estimate and reference.*equal shapes"),
    (lambda: metrics.ssim_255(np.zeros((12, 12)), np.zeros((12, 13))),
     "estimate and reference.*equal shapes"),
    (lambda: metrics.ssim_255(np.zeros((12, 12, 1)), np.zeros((12, 12, 1))),
     "estimate.*2-D"),
    (lambda: metrics.ssim_255(np.zeros((10, 12)), np.zeros((10, 12))),
     "estimate.*>= 11"),
    (lambda: metrics.to_uint8(_U8), "image01.*float"),
    (lambda: metrics.quantize_8bit(np.zeros(3, np.int32)), "image01.*float"),
    (lambda: metrics.add_gaussian_noise(np.zeros(3), -1.0,
                                        np.random.default_rng(0)),
     "sigma_255"),
    (lambda: metrics.add_gaussian_noise(np.zeros(3), 1.0, 0), "rng.*Generator"),
    (lambda: metrics.add_gaussian_noise(_U8, 1.0, np.random.default_rng(0)),
     "clean01.*float"),
    (lambda: metrics.superres_metrics(_U8, _U8[:15], 2),
     "estimate_uint8_rgb and reference_uint8_rgb.*equal shapes"),
    (lambda: metrics.superres_metrics(_U8.astype(np.float64), _U8, 2),
     "estimate_uint8_rgb.*uint8"),
    (lambda: metrics.superres_metrics(_U8, _U8.astype(np.float32), 2),
     "reference_uint8_rgb.*uint8"),
    (lambda: metrics.superres_metrics(_U8[..., :2], _U8[..., :2], 2),
     "estimate_uint8_rgb.*RGB"),
    (lambda: metrics.superres_metrics(_U8, _U8, 0), "scale.*>= 1"),
    (lambda: metrics.bootstrap_sem([]), "values.*non-empty"),
    (lambda: metrics.bootstrap_sem([1.0, np.nan]), "values.*finite"),
    (lambda: metrics.bootstrap_sem([1.0, 2.0], num_resamples=1),
     "num_resamples"),
])
def test_invalid_inputs_raise_value_error(call, match):
  with pytest.raises(ValueError, match=match):
    call()


def test_psnr_tf_invalid_inputs_raise_value_error():
  with pytest.raises(ValueError, match=r"estimate01.*\[N, H, W, C\]"):
    metrics.psnr_tf(np.zeros((4, 4, 3), np.float32),
                    np.zeros((4, 4, 3), np.float32))
  with pytest.raises(ValueError, match="estimate01 and reference01"):
    metrics.psnr_tf(np.zeros((1, 4, 4, 3), np.float32),
                    np.zeros((1, 4, 5, 3), np.float32))
  with pytest.raises(ValueError, match="estimate01.*float"):
    metrics.psnr_tf(np.zeros((1, 4, 4, 3), np.int32),
                    np.zeros((1, 4, 4, 3), np.int32))
