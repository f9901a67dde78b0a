"""Tests of rim_tf.data.kernels and the blurring corruption."""

import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from rim_tf.data import corruptions
from rim_tf.data import kernels
from rim_tf.operators import blur

LEVIN_SIDES = (19, 17, 15, 27, 13, 21, 23, 23)


def _centre_of_mass(kernel):
  rows, cols = np.indices(kernel.shape)
  return (float((rows * kernel).sum()), float((cols * kernel).sum()))


def test_the_levin_kernels_ship_with_the_package():
  levin = kernels.levin09()
  assert [k.shape for k in levin] == [(s, s) for s in LEVIN_SIDES]
  for k in levin:
    assert k.dtype == np.float64 and k.min() >= 0.0
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
  levin[0][:] = 0.0  # A copy: the package's kernels are untouched.
  assert kernels.levin09()[0].sum() == pytest.approx(1.0)


def test_the_shipped_levin_kernels_are_the_mat_files():
  data = pathlib.Path(os.environ.get("RIM_DATA_DIR", "data"))
  mat = data / "kernels" / "Levin09.mat"
  if not mat.exists():
    pytest.skip(f"real-data test: {mat} is not there")
  import h5py  # pylint: disable=g-import-not-at-top
  with h5py.File(mat) as f:
    original = [np.array(f[ref]).T for ref in f["kernels"][()].ravel()]
  for shipped, want in zip(kernels.levin09(), original):
    np.testing.assert_array_equal(shipped, want)


@pytest.mark.parametrize("seed", range(20))
def test_training_kernels_are_centred_blurs(seed):
  rng = np.random.default_rng(seed)
  for kernel in (kernels.motion_kernel(rng, 2 * (seed % 10) + 5),
                 kernels.gaussian_kernel(rng, 25),
                 kernels.sample_kernel(rng, 25)):
    side = kernel.shape[0]
    assert kernel.shape == (side, side) and side % 2 == 1
    assert kernel.min() >= 0.0
    assert kernel.sum() == pytest.approx(1.0, abs=1e-6)
    centre = (side - 1) / 2
    row, col = _centre_of_mass(kernel)
    assert abs(row - centre) <= 1.0 and abs(col - centre) <= 1.0


def test_an_isotropic_gaussian_kernel_is_symmetric():
  kernel = kernels.gaussian_kernel(np.random.default_rng(0), 25,
                                   std_range=(2.0, 2.0), isotropic=True)
  np.testing.assert_allclose(kernel, kernel.T, atol=1e-12)
  np.testing.assert_allclose(kernel, kernel[::-1], atol=1e-12)
  # Its variance along a row is the std squared (6 stds fit: tiny tails).
  r = np.arange(25) - 12
  assert float((kernel.sum(axis=0) * r ** 2).sum()) == pytest.approx(
      4.0, rel=1e-3)


def test_embed_centres_and_refuses_what_does_not_fit():
  out = kernels.embed(np.ones((3, 5)), 7)
  assert out.shape == (7, 7) and out[2:5, 1:6].all() and out.sum() == 15
  with pytest.raises(ValueError, match="cannot centre a 9x9 kernel in 7x7"):
    kernels.embed(np.ones((9, 9)), 7)


def _blurring_batch(corruption, seed=(3, 4)):
  x = tf.random.stateless_uniform([4, 32, 32, 1], [1, 2])
  return x, corruption({"x": x}, tf.constant(seed, tf.int64))


def test_blurring_is_the_operator_plus_noise_and_repeats_per_seed():
  corruption = corruptions.Blurring(kernel_size=15, sigma_range_255=(5, 10),
                                    quantize=False)
  x, batch = _blurring_batch(corruption)
  _, again = _blurring_batch(corruption)
  _, other = _blurring_batch(corruption, seed=(3, 5))
  np.testing.assert_array_equal(batch["y"], again["y"])
  assert not np.allclose(batch["kernel"], other["kernel"])
  sigma = batch["sigma"].numpy()
  assert ((5 / 255 <= sigma) & (sigma <= 10 / 255)).all()
  for n in range(4):
    clean = blur.scipy_blur(x[n].numpy(), batch["kernel"][n].numpy())
    noise = batch["y"][n].numpy() - clean
    # The residual is the white noise of the example's sigma.
    assert noise.std() == pytest.approx(sigma[n], rel=0.1)
  assert corruptions.from_config(corruption.get_config()).get_config() == \
      corruption.get_config()


def test_quantized_blurring_is_on_the_8_bit_grid():
  _, batch = _blurring_batch(corruptions.Blurring(kernel_size=9))
  y = batch["y"].numpy() * 255
  np.testing.assert_allclose(y, np.round(y), atol=1e-3)
  assert y.min() >= 0 and y.max() <= 255


@pytest.mark.parametrize("kwargs,message", [
    ({"kernel_size": 24}, "kernel_size must be odd"),
    ({"kernel_size": 33}, "kernel_size must be odd"),
    ({"sigma_range_255": (5, 1)}, "low <= high"),
    ({"motion_fraction": 1.5}, "motion_fraction must be in"),
    ({"boundary": "zero"}, "boundary must be one of"),
])
def test_bad_blurring_arguments_are_refused(kwargs, message):
  with pytest.raises(ValueError, match=message):
    corruptions.Blurring(**kwargs)
