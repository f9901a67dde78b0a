"""Corruptions: the statistics and shapes of what each task's sampler draws."""

import numpy as np
import pytest
import tensorflow as tf

from rim_tf.data import builtin
from rim_tf.data import colour
from rim_tf.data import corruptions
from rim_tf.data import patches
from rim_tf import metrics
from rim_tf.operators import BicubicDownsample
from rim_tf.operators import FourierProjection
from rim_tf.operators import MatrixProjection


def _batch(shape, seed=0):
  x = np.random.default_rng(seed).uniform(0.0, 1.0, shape).astype(np.float32)
  return {"x": tf.constant(x)}


def _seed(a, b=0):
  return tf.constant([a, b], tf.int64)


@pytest.fixture(scope="module")
def natural():
  """Patches of the built-in photos, for statistics over many patches."""
  return patches.PatchDataset(builtin.builtin_images(gray=True), 32, 16,
                              num_validation=10)


# --- Gaussian noise -------------------------------------------------------------


def test_fixed_sigma_noise_std_within_one_percent(natural):
  noise = corruptions.GaussianNoise((25, 25))
  residual = np.concatenate([
      (b["y"] - b["x"]).numpy().ravel()
      for b in natural.train_dataset(64, noise, num_batches=12)])
  assert residual.size > 700_000
  assert abs(residual.std() / (25 / 255) - 1) < 0.01
  assert abs(residual.mean()) < 0.01 * 25 / 255


def test_sigma_range_noise_std_within_one_percent(natural):
  noise = corruptions.GaussianNoise((15, 50))
  sigmas, normalised = [], []
  for b in natural.train_dataset(64, noise, num_batches=12):
    sigma = b["sigma"].numpy()
    sigmas.append(sigma)
    normalised.append(((b["y"] - b["x"]).numpy()
                       / sigma[:, None, None, None]).ravel())
  sigmas, normalised = np.concatenate(sigmas), np.concatenate(normalised)
  assert abs(normalised.std() - 1) < 0.01
  assert 15 / 255 <= sigmas.min() and sigmas.max() <= 50 / 255
  # Uniform on [15, 50]: mean 32.5, and both ends of the range are reached.
  assert abs(sigmas.mean() * 255 - 32.5) < 2.0
  assert sigmas.min() * 255 < 18 and sigmas.max() * 255 > 47


def test_unquantised_noise_is_unclipped():
  out = corruptions.GaussianNoise((50, 50))(_batch([8, 16, 16, 1]), _seed(1))
  y = out["y"].numpy()
  assert y.min() < 0 and y.max() > 1


def test_quantised_values_are_on_the_1_255_grid():
  batch = _batch([16, 16, 16, 3])
  plain = corruptions.GaussianNoise((15, 50))(batch, _seed(2))
  quantised = corruptions.GaussianNoise((15, 50), quantize=True)(batch,
                                                                 _seed(2))
  y = quantised["y"].numpy()
  assert y.dtype == np.float32 and 0 <= y.min() and y.max() <= 1
  levels = y * 255
  np.testing.assert_allclose(levels, np.round(levels), atol=1e-4)
  np.testing.assert_array_equal(y, metrics.quantize_8bit(plain["y"].numpy()))
  np.testing.assert_array_equal(quantised["sigma"], plain["sigma"])


def test_a_fraction_quantizes_that_share_and_leaves_the_rest_as_drawn():
  batch = _batch([400, 8, 8, 1])
  plain = corruptions.GaussianNoise((15, 50))(batch, _seed(3))["y"].numpy()
  mixed = corruptions.GaussianNoise((15, 50), quantize=0.25)(batch, _seed(3))
  y = mixed["y"].numpy()
  quantised = np.array([np.array_equal(a, metrics.quantize_8bit(b))
                        for a, b in zip(y, plain)])
  unchanged = np.array([np.array_equal(a, b) for a, b in zip(y, plain)])
  # Every example is one or the other (none is both: sigma >= 15 leaves
  # values off the grid), and about a quarter is quantized.
  assert np.all(quantised ^ unchanged)
  assert 70 <= quantised.sum() <= 130
  # The batch says which: read off y, it agrees with how y was made.
  np.testing.assert_array_equal(mixed["quantized"], quantised.astype(
      np.float32))


def test_the_8bit_flag_tells_8bit_images_from_unclipped_noise():
  rng = np.random.default_rng(0)
  pixels = rng.integers(0, 256, (3, 9, 7, 3))
  eight_bit = pixels.astype(np.float32) / np.float32(255)
  noisy = eight_bit + np.float32(10 / 255) * rng.standard_normal(
      eight_bit.shape).astype(np.float32)
  # Divided in float64 and cast to float32: still 8 bit.
  as_float64 = (pixels / 255.0).astype(np.float32)
  one_off = eight_bit.copy()
  one_off[1, 4, 3, 2] += np.float32(0.01 / 255)  # one value off the grid
  outside = eight_bit.copy()
  outside[2, 0, 0, 0] = np.float32(256 / 255)  # on the grid, past 1
  flags = corruptions.quantized_8bit_flag(np.concatenate(
      [eight_bit, noisy, as_float64, one_off, outside]))
  np.testing.assert_array_equal(
      flags, [1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0])
  # Quantizing makes any input 8 bit.
  np.testing.assert_array_equal(corruptions.quantized_8bit_flag(
      corruptions.quantize_8bit_tf(tf.constant(noisy))), [1, 1, 1])


@pytest.mark.parametrize("quantize", [-0.1, 1.5, "yes", float("nan")])
def test_a_quantize_that_is_no_fraction_is_refused(quantize):
  with pytest.raises(ValueError, match="quantize must be a bool or a fraction"):
    corruptions.GaussianNoise((15, 50), quantize=quantize)


def test_same_seed_same_noise_other_seed_other_noise():
  noise = corruptions.GaussianNoise()
  batch = _batch([4, 8, 8, 1])
  a, b, c = noise(batch, _seed(3, 9)), noise(batch, _seed(3, 9)), noise(
      batch, _seed(3, 10))
  np.testing.assert_array_equal(a["y"], b["y"])
  assert not np.array_equal(a["y"], c["y"])


# --- random projections ---------------------------------------------------------


@pytest.mark.parametrize("kind", corruptions.PROJECTION_KINDS)
@pytest.mark.parametrize("ratio", [0.1, 0.5])
def test_projection_shapes_ratios_and_measurements(kind, ratio):
  shape = (6, 8, 8, 1)
  d = 64
  rp = corruptions.RandomProjections(kinds=(kind,), ratios=(ratio,),
                                     noise_sigma=0.0)
  out = rp(_batch(shape), _seed(4))
  rows = round(ratio * d) * (2 if kind == "fourier" else 1)
  matrix = out["matrix"].numpy()
  assert matrix.shape == (6, rows, d)
  assert int(out["kind"]) == 0 and float(out["ratio"]) == pytest.approx(ratio)
  np.testing.assert_array_equal(out["sigma"], np.zeros(6, np.float32))
  operator = MatrixProjection(out["matrix"], shape[1:])
  np.testing.assert_allclose(out["y"], operator.forward(out["x"]),
                             rtol=1e-5, atol=1e-5)
  if kind == "binary":
    assert set(np.unique(matrix)) == {-1.0, 1.0}
  if kind == "fourier":  # [Re F_S; Im F_S]: unit-modulus DFT entries.
    half = rows // 2
    np.testing.assert_allclose(
        matrix[:, :half] ** 2 + matrix[:, half:] ** 2, 1.0, atol=1e-5)
  # A fresh matrix per example.
  assert not np.array_equal(matrix[0], matrix[1])


def test_projection_noise_and_gaussian_entries_have_the_stated_statistics():
  rp = corruptions.RandomProjections(kinds=("gaussian",), ratios=(0.5,),
                                     noise_sigma=1.0)
  out = rp(_batch((64, 16, 16, 1)), _seed(5))
  matrix = out["matrix"].numpy()
  assert abs(matrix.std() - 1) < 0.01 and abs(matrix.mean()) < 0.01
  residual = out["y"] - MatrixProjection(out["matrix"], (16, 16, 1)).forward(
      out["x"])
  assert abs(np.std(residual) - 1) < 0.03  # 8192 samples: 4 std errors.
  np.testing.assert_array_equal(out["sigma"], np.ones(64, np.float32))


def test_fourier_matrix_is_the_operators_dense_matrix():
  shape = (3, 4, 4, 1)
  rp = corruptions.RandomProjections(kinds=("fourier",), ratios=(0.25,),
                                     noise_sigma=0.0)
  out = rp(_batch(shape), _seed(6))
  # The same real map as the FFT-based operator on some row set: check that
  # each carried row pair is one DFT row k, and compare with FourierProjection.
  matrix = out["matrix"].numpy()
  d, m = 16, 4
  j = np.arange(d)
  for n in range(3):
    indices = []
    for real, imag in zip(matrix[n, :m], matrix[n, m:]):
      angle = -2 * np.pi * ((np.arange(d)[:, None] * j) % d) / d
      match = np.nonzero(np.all(np.abs(real - np.cos(angle)) < 1e-6, 1) &
                         np.all(np.abs(imag - np.sin(angle)) < 1e-6, 1))[0]
      assert len(match) == 1
      indices.append(match[0])
    operator = FourierProjection(np.array(indices, np.int32), shape[1:])
    np.testing.assert_allclose(out["y"][n:n + 1],
                               operator.forward(out["x"][n:n + 1]),
                               atol=1e-5)


def test_one_kind_and_ratio_per_batch_all_drawn():
  rp = corruptions.RandomProjections(ratios=(0.25, 0.5), noise_sigma=0.0)
  seen = set()
  for b in range(60):
    out = rp(_batch((2, 4, 4, 1)), _seed(7, b))
    kind, ratio = int(out["kind"]), float(out["ratio"])
    rows = round(ratio * 16) * (2 if rp.kinds[kind] == "fourier" else 1)
    assert out["matrix"].shape == (2, rows, 16)
    seen.add((kind, ratio))
  assert seen == {(k, r) for k in range(3) for r in (0.25, 0.5)}


def test_projection_element_spec_and_shared_matrix(natural):
  ds = natural.train_dataset(4, corruptions.RandomProjections(ratios=(0.1,)))
  assert ds.element_spec["matrix"].shape.as_list() == [4, None, 1024]
  assert ds.element_spec["y"].shape.as_list() == [4, None]
  shared = corruptions.RandomProjections(kinds=("binary",), ratios=(0.25,),
                                         per_example=False, noise_sigma=0.0)
  out = shared(_batch((5, 8, 8, 1)), _seed(8))
  assert out["matrix"].shape == (16, 64)
  np.testing.assert_allclose(
      out["y"], MatrixProjection(out["matrix"], (8, 8, 1)).forward(out["x"]),
      atol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"ratios": (0.0,)}, "ratios must be"),
    ({"ratios": (1.5,)}, "ratios must be"),
    ({"ratios": ()}, "ratios must be"),
    ({"kinds": ("uniform",)}, "kinds must be"),
    ({"noise_sigma": -1.0}, "noise_sigma must be"),
])
def test_bad_projection_arguments_are_named(kwargs, message):
  with pytest.raises(ValueError, match=message):
    corruptions.RandomProjections(**kwargs)


# --- super-resolution -----------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_sr_y_is_bicubic_downsampling_of_x(scale):
  sr = corruptions.BicubicDownsampling(scales=(scale,))
  out = sr(_batch((3, 36, 36, 3)), _seed(9))
  expected = BicubicDownsample(scale, (36, 36, 3)).forward(out["x"])
  assert out["y"].shape == (3, 36 // scale, 36 // scale, 3)
  np.testing.assert_array_equal(out["y"], expected)
  assert int(out["scale"]) == scale
  np.testing.assert_array_equal(out["sigma"], np.zeros(3, np.float32))


def test_sr_draws_every_scale_and_patches_are_divisible():
  sr = corruptions.BicubicDownsampling()
  dataset = patches.PatchDataset(builtin.builtin_images(gray=False,
                                                        names=["coffee"]),
                                 36, 12, num_validation=5)
  ds = dataset.train_dataset(2, sr, num_batches=30)
  assert ds.element_spec["y"].shape.as_list() == [2, None, None, 3]
  seen = set()
  for batch in ds:
    scale = int(batch["scale"])
    seen.add(scale)
    assert 36 % scale == 0
    np.testing.assert_array_equal(
        batch["y"], BicubicDownsample(scale, (36, 36, 3)).forward(batch["x"]))
  assert seen == {2, 3, 4}


def test_sr_noise_has_the_stated_std():
  sr = corruptions.BicubicDownsampling(scales=(2,), noise_sigma_255=10.0)
  out = sr(_batch((64, 36, 36, 1)), _seed(10))
  clean = BicubicDownsample(2, (36, 36, 1)).forward(out["x"])
  assert abs(np.std(out["y"] - clean) / (10 / 255) - 1) < 0.02
  np.testing.assert_allclose(out["sigma"], 10 / 255)


def test_sr_rejects_patches_the_scales_do_not_divide():
  with pytest.raises(ValueError, match="not divisible by the scales"):
    corruptions.BicubicDownsampling()(_batch((2, 32, 32, 1)), _seed(0))
  with pytest.raises(ValueError, match="scales must be integers >= 2"):
    corruptions.BicubicDownsampling(scales=(1, 2))
  with pytest.raises(ValueError, match="scale must be one of"):
    corruptions.BicubicDownsampling().for_scale(5)


# --- opponent noise -----------------------------------------------------------


def test_opponent_noise_hands_each_colour_channel_over_as_a_gray_example():
  batch = _batch((4, 16, 16, 3))
  rgb = corruptions.GaussianNoise((5, 55), quantize=0.5)(batch, _seed(3))
  out = corruptions.OpponentNoise((5, 55), quantize=0.5)(batch, _seed(3))
  assert out["x"].shape == out["y"].shape == (12, 16, 16, 1)
  assert out["sigma"].shape == (12,)
  # Example i's channel c at 3 i + c: the RGB corruption's noisy image and
  # sigma with the same seed, seen in the opponent space.
  for name in ("x", "y"):
    expected = colour.to_opponent(rgb[name].numpy())
    np.testing.assert_allclose(out[name].numpy()[7, ..., 0],
                               expected[2, ..., 1], atol=1e-6)
  np.testing.assert_allclose(
      out["sigma"].numpy().reshape(4, 3),
      rgb["sigma"].numpy()[:, None] * colour.NOISE_GAIN[None, :], rtol=1e-6)


def test_opponent_noise_has_each_channels_stated_std():
  x = np.full((256, 32, 32, 3), 0.5, np.float32)
  out = corruptions.OpponentNoise((25, 25))({"x": tf.constant(x)}, _seed(1))
  residual = (out["y"] - out["x"]).numpy().reshape(256, 3, -1)
  for c in range(3):
    expected = 25 / 255 * colour.NOISE_GAIN[c]
    assert abs(residual[:, c].std() / expected - 1) < 0.01
  np.testing.assert_allclose(out["sigma"].numpy()[:3] * 255,
                             25 * np.sqrt([1 / 3, 1 / 2, 3 / 8]), rtol=1e-5)


def test_opponent_noise_refuses_gray_patches(natural):
  with pytest.raises(ValueError, match="RGB patches"):
    natural.train_dataset(4, corruptions.OpponentNoise((25, 25)),
                          num_batches=1)


# --- configs ------------------------------------------------------------------


@pytest.mark.parametrize("corruption", [
    corruptions.GaussianNoise((25, 25), quantize=True),
    corruptions.GaussianNoise((5, 55), quantize=0.5),
    corruptions.OpponentNoise((5, 55), quantize=0.5),
    corruptions.RandomProjections(kinds=("fourier",), ratios=(0.3,),
                                  noise_sigma=0.5, per_example=False),
    corruptions.BicubicDownsampling((2, 4), noise_sigma_255=1.0),
])
def test_get_config_round_trip(corruption):
  config = corruption.get_config()
  rebuilt = corruptions.from_config(config)
  assert type(rebuilt) is type(corruption)
  assert rebuilt.get_config() == config


def test_bad_noise_arguments_are_named():
  with pytest.raises(ValueError, match="0 <= low <= high"):
    corruptions.GaussianNoise((50, 15))
  with pytest.raises(ValueError, match="pair"):
    corruptions.GaussianNoise(25)
  with pytest.raises(ValueError, match="Unknown corruption"):
    corruptions.from_config({"name": "blur"})


def test_projection_noise_range_draws_a_std_per_example():
  def draw(noise_sigma):
    rp = corruptions.RandomProjections(kinds=("gaussian",), ratios=(0.5,),
                                       noise_sigma=noise_sigma)
    out = rp(_batch((32, 16, 16, 1)), _seed(9))
    residual = out["y"] - MatrixProjection(
        out["matrix"], (16, 16, 1)).forward(out["x"])
    return out["sigma"].numpy(), residual.numpy()

  sigma, residual = draw((0.5, 8.0))
  assert sigma.shape == (32,) and np.all((sigma >= 0.5) & (sigma <= 8.0))
  assert sigma.std() > 1.0  # drawn per example, not one for the batch
  # Each example's noise is its own std times one shared standard normal
  # draw: another range rescales it example by example, exactly.
  other_sigma, other_residual = draw((1.0, 2.0))
  np.testing.assert_allclose(residual / sigma[:, None],
                             other_residual / other_sigma[:, None],
                             rtol=1e-3, atol=1e-3)
  # 128 entries per example: the std of the residual is sigma within 4
  # standard errors.
  np.testing.assert_allclose(residual.std(1) / sigma, 1.0, atol=0.25)
  # One std keeps the stream it always had: sigma times the normal draw
  # of the third split of the batch's seed.
  rp = corruptions.RandomProjections(kinds=("gaussian",), ratios=(0.5,),
                                     noise_sigma=2.0)
  out = rp(_batch((32, 16, 16, 1)), _seed(9))
  np.testing.assert_array_equal(out["sigma"], np.full(32, 2.0, np.float32))
  seed_noise = tf.random.experimental.stateless_split(_seed(9), 3)[2]
  expected = 2.0 * tf.random.stateless_normal((32, 128), seed_noise)
  np.testing.assert_allclose(
      out["y"] - MatrixProjection(out["matrix"], (16, 16, 1)).forward(
          out["x"]), expected, atol=1e-4)
  assert rp.get_config()["noise_sigma"] == 2.0
  assert corruptions.RandomProjections(noise_sigma=(0.5, 8)).get_config()[
      "noise_sigma"] == [0.5, 8.0]


def test_projection_noise_range_drawn_log_uniformly():
  def sigma(spacing):
    rp = corruptions.RandomProjections(kinds=("gaussian",), ratios=(0.5,),
                                       noise_sigma=(0.5, 8.0),
                                       noise_spacing=spacing)
    return rp(_batch((4096, 4, 4, 1)), _seed(5))["sigma"].numpy()

  log, linear = sigma("log"), sigma("linear")
  assert np.all((log >= 0.5) & (log <= 8.0))
  # The same uniform draw, mapped through exp over [log lo, log hi]
  # instead of over [lo, hi]: u is recovered from the linear draw.
  u = (linear - 0.5) / 7.5
  np.testing.assert_allclose(log, 0.5 * 16.0 ** u, rtol=1e-5)
  # Log-uniform: each octave of [0.5, 8] holds a quarter of the draws; a
  # uniform draw puts 1/15 of them in [0.5, 1].
  in_first_octave = np.mean(log < 1.0)
  assert abs(in_first_octave - 0.25) < 0.03
  assert abs(np.mean(linear < 1.0) - 1 / 15) < 0.02
  assert corruptions.from_config(corruptions.RandomProjections(
      noise_sigma=(0.5, 8.0), noise_spacing="log").get_config(
      )).noise_spacing == "log"


@pytest.mark.parametrize("noise_sigma,spacing,message", [
    ((0.0, 8.0), "log", "needs a range with lo > 0"),
    (2.0, "log", "needs a range with lo > 0"),
    ((0.5, 8.0), "octaves", "noise_spacing must be one of"),
])
def test_projection_noise_spacing_is_checked(noise_sigma, spacing, message):
  with pytest.raises(ValueError, match=message):
    corruptions.RandomProjections(noise_sigma=noise_sigma,
                                  noise_spacing=spacing)


@pytest.mark.parametrize("bad", [(2.0, 1.0), (-1.0, 1.0), (1.0,),
                                 (0.5, 1.0, 2.0)])
def test_projection_noise_range_is_checked(bad):
  with pytest.raises(ValueError, match="noise_sigma must be"):
    corruptions.RandomProjections(noise_sigma=bad)
