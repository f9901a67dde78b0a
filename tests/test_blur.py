"""Tests of the blur operator against scipy.ndimage and its adjoint."""

import numpy as np
import pytest
import tensorflow as tf

from rim_tf.operators import blur

MODES = [(b, m) for b in blur.BOUNDARIES for m in blur.METHODS]
SIZES = [(20, 17, 1), (16, 16, 3), (9, 11, 1)]


def _case(size, per_example, kernel_shape=(7, 5), seed=0):
  rng = np.random.default_rng(seed)
  kernel = rng.random(((2,) if per_example else ()) + kernel_shape)
  x = rng.random((2,) + size)
  y = rng.random((2,) + size)
  return kernel.astype(np.float32), x.astype(np.float32), y.astype(np.float32)


@pytest.mark.parametrize("boundary,method", MODES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("per_example", [False, True])
def test_blur_is_scipy_convolve(boundary, method, size, per_example):
  kernel, x, _ = _case(size, per_example)
  op = blur.Blur(kernel, size, boundary, method)
  got = op.forward(x).numpy()
  for n in range(2):
    want = blur.scipy_blur(x[n], kernel[n] if per_example else kernel,
                           boundary)
    np.testing.assert_allclose(got[n], want, atol=1e-5)


@pytest.mark.parametrize("boundary,method", MODES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("per_example", [False, True])
def test_adjoint_is_the_transpose(boundary, method, size, per_example):
  kernel, x, y = _case(size, per_example, seed=1)
  op = blur.Blur(kernel, size, boundary, method)
  lhs = np.sum(op.forward(x).numpy().astype(np.float64) * y)
  rhs = np.sum(x.astype(np.float64) * op.adjoint(y).numpy())
  assert lhs == pytest.approx(rhs, rel=1e-6)


@pytest.mark.parametrize("method", blur.METHODS)
def test_the_circular_adjoint_is_scipy_correlate(method):
  # Independent of the dot-product test: the transpose of circular blur is
  # the correlation with the kernel. (Replicate's transpose folds the
  # padding back, which no scipy mode does; the dot product covers it.)
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  kernel, _, y = _case((12, 10, 1), False, kernel_shape=(5, 3))
  got = blur.Blur(kernel, (12, 10, 1), "circular", method).adjoint(y).numpy()
  want = ndimage.correlate(y[0, ..., 0].astype(np.float64),
                           kernel.astype(np.float64), mode="wrap")
  np.testing.assert_allclose(got[0, ..., 0], want, atol=1e-5)


def test_one_graph_serves_every_image_size():
  kernel, _, _ = _case((8, 8, 1), False)

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1])])
  def both(x):
    op = blur.Blur(kernel, (None, None, 1), "replicate")
    return op.forward(x), op.adjoint(x)

  for size in ((9, 13, 1), (16, 10, 1)):
    _, x, _ = _case(size, False)
    replicate, adjoint = both(x)
    np.testing.assert_allclose(
        replicate[0].numpy(), blur.scipy_blur(x[0], kernel, "replicate"),
        atol=1e-5)
    np.testing.assert_allclose(
        adjoint.numpy(),
        blur.Blur(kernel, size, "replicate", "direct").adjoint(x).numpy(),
        atol=1e-5)


def test_a_delta_kernel_is_the_identity():
  delta = np.zeros((5, 5), np.float32)
  delta[2, 2] = 1.0
  _, x, _ = _case((10, 10, 3), False)
  for boundary, method in MODES:
    op = blur.Blur(delta, (10, 10, 3), boundary, method)
    np.testing.assert_allclose(op.forward(x).numpy(), x, atol=1e-6)
    np.testing.assert_allclose(op.adjoint(x).numpy(), x, atol=1e-6)


@pytest.mark.parametrize("kernel,shape,kwargs,message", [
    (np.ones((4, 5)), (16, 16, 1), {}, "odd sides of at most 31"),
    (np.ones((33, 33)), (40, 40, 1), {}, "odd sides of at most 31"),
    (np.ones(5), (16, 16, 1), {}, r"must be 2-D \[kh, kw\]"),
    (np.full((3, 3), np.nan), (16, 16, 1), {}, "NaN or infinite"),
    (np.ones((9, 9)), (7, 16, 1), {}, "larger than the image height 7"),
    (np.ones((3, 3)), (16, 16, 1), {"boundary": "zero"}, "boundary must be"),
    (np.ones((3, 3)), (16, 16, 1), {"method": "winograd"}, "method must be"),
    (np.ones((3, 3)), (16, 16), {}, r"image_shape must be \(H, W, C\)"),
])
def test_bad_arguments_are_refused_in_one_line(kernel, shape, kwargs,
                                                message):
  with pytest.raises(ValueError, match=message):
    blur.Blur(kernel, shape, **kwargs)


def _numpy_wiener(y, kernel, sigma):
  """An independent reference: numpy's complex FFT, the kernel rolled to
  the origin, the constant noise-to-signal ratio sigma^2 / var(y)."""
  psf = np.zeros(y.shape)
  psf[:kernel.shape[0], :kernel.shape[1]] = kernel
  transfer = np.fft.fft2(np.roll(psf, (-(kernel.shape[0] // 2),
                                       -(kernel.shape[1] // 2)), (0, 1)))
  ratio = sigma ** 2 / max(float(np.var(y)) - sigma ** 2, 1e-6)
  spectrum = np.fft.fft2(y - y.mean())
  return np.real(np.fft.ifft2(np.conj(transfer) * spectrum /
                              (np.abs(transfer) ** 2 + ratio))) + y.mean()


def test_the_wiener_filter_is_numpys_and_the_start_clips_it():
  from rim_tf import baselines  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(3)
  kernel = rng.random((7, 7)).astype(np.float32)
  kernel /= kernel.sum()
  x = rng.random((2, 24, 20, 1)).astype(np.float32)
  sigmas = np.array([0.0, 10.0], np.float32)  # 0: the rounding floor.
  y = blur.Blur(kernel, (24, 20, 1)).forward(x).numpy()
  y += sigmas[:, None, None, None] / 255 * rng.standard_normal(y.shape)
  op = blur.Blur(np.stack([kernel, kernel]), (None, None, 1),
                 start="wiener", sigma=sigmas / 255)
  start = op.initial_estimate(y).numpy()
  for n in range(2):
    want = _numpy_wiener(y[n, ..., 0].astype(np.float64), kernel,
                         max(sigmas[n], blur.ROUNDING_SIGMA_255) / 255)
    np.testing.assert_allclose(start[n, ..., 0], np.clip(want, 0, 1),
                               atol=1e-5)
    np.testing.assert_allclose(
        baselines.wiener_deblur(y[n], kernel, sigmas[n])[..., 0], want,
        atol=1e-5)
  plain = blur.Blur(kernel, (24, 20, 1)).initial_estimate(y).numpy()
  np.testing.assert_array_equal(plain, np.clip(y, 0, 1))


def test_the_wiener_start_needs_sigma():
  with pytest.raises(ValueError, match="needs sigma"):
    blur.Blur(np.ones((3, 3)), (8, 8, 1), start="wiener")
  with pytest.raises(ValueError, match="start must be one of"):
    blur.Blur(np.ones((3, 3)), (8, 8, 1), start="flat")


def test_a_kernel_frame_larger_than_the_image_blurs_as_its_kernel():
  # The engine and the exports centre every kernel in one 31 x 31 frame;
  # on a smaller image circular blur must not change.
  from rim_tf.data import kernels  # pylint: disable=g-import-not-at-top
  kernel, x, _ = _case((12, 20, 1), False, kernel_shape=(5, 3))
  framed = kernels.embed(kernel, 31)

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1])])
  def both(x):
    op = blur.Blur(framed, (None, None, 1))
    return op.forward(x), op.adjoint(x)

  forward, adjoint = both(x)
  small = blur.Blur(kernel, (12, 20, 1), "circular", "direct")
  np.testing.assert_allclose(forward.numpy(), small.forward(x).numpy(),
                             atol=1e-5)
  np.testing.assert_allclose(adjoint.numpy(), small.adjoint(x).numpy(),
                             atol=1e-5)


def test_direct_circular_blur_wraps_a_kernel_larger_than_the_image():
  kernel, x, _ = _case((6, 5, 1), False, kernel_shape=(9, 7))

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1])])
  def direct(x):
    op = blur.Blur(kernel, (None, None, 1), "circular", "direct")
    return op.forward(x)

  np.testing.assert_allclose(
      direct(x).numpy(),
      blur.Blur(kernel, (None, None, 1), "circular", "fft").forward(x).numpy(),
      atol=1e-5)
