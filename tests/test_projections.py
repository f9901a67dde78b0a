"""Tests of the identity and random-projection operators."""

import numpy as np
import pytest
import tensorflow as tf

from rim_tf import operators
from rim_tf.operators import projections

SHAPES = [(32, 32, 1), (7, 5, 3), (9, 11, 1)]
ENSEMBLES = [operators.GaussianProjection, operators.BinaryProjection,
             operators.FourierProjection]


def _inner(a, b):
  return float(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)))


def _dot_test(op, image_shape, batch=3, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.random((batch,) + tuple(image_shape), dtype=np.float32)
  y = rng.standard_normal((batch,) + tuple(op.range_shape)).astype(np.float32)
  lhs = _inner(op.forward(x), y)
  rhs = _inner(x, op.adjoint(y))
  return abs(lhs - rhs) / max(abs(lhs), abs(rhs))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("per_example", [False, True])
@pytest.mark.parametrize("ensemble", ENSEMBLES)
def test_projection_adjoint_identity(ensemble, per_example, shape):
  op = ensemble.sample(shape, 0.3, seed=1,
                       batch_size=3 if per_example else None)
  assert _dot_test(op, shape) <= 1e-5


@pytest.mark.parametrize("shape", SHAPES)
def test_identity_adjoint_identity(shape):
  assert _dot_test(operators.Identity(shape), shape) <= 1e-6


def test_identity_starts_from_the_clipped_measurement_by_default():
  y = np.array([[[[-0.2], [0.4]], [[1.3], [0.9]]]], np.float32)
  x0 = operators.Identity((None, None, 1)).initial_estimate(y)
  np.testing.assert_array_equal(x0, np.clip(y, 0.0, 1.0))


def test_identity_flat_start_is_each_examples_mean_clipped():
  rng = np.random.default_rng(3)
  y = rng.normal(0.4, 0.3, (3, 5, 7, 3)).astype(np.float32)
  y[2] += 1.0  # its mean is above 1: the flat start clips to 1
  x0 = operators.Identity((None, None, 3), start="flat").initial_estimate(y)
  means = np.clip(y.astype(np.float64).mean(axis=(1, 2, 3)), 0.0, 1.0)
  assert x0.shape == y.shape
  np.testing.assert_allclose(
      x0, np.broadcast_to(means[:, None, None, None], y.shape), rtol=1e-5)
  assert means[2] == 1.0


def test_identity_flat_start_equals_a_projection_with_the_identity_matrix():
  x = tf.random.stateless_uniform((2, 4, 4, 1), seed=[5, 6])
  as_matrix = operators.MatrixProjection(np.eye(16, dtype=np.float32),
                                         (4, 4, 1))
  np.testing.assert_allclose(
      operators.Identity((4, 4, 1), start="flat").initial_estimate(x),
      as_matrix.initial_estimate(as_matrix.forward(x)), rtol=1e-6)


def test_identity_rejects_an_unknown_start():
  with pytest.raises(ValueError, match="start must be one of"):
    operators.Identity((4, 4, 1), start="zeros")


@pytest.mark.parametrize("ensemble", ENSEMBLES)
def test_adjoint_equals_autodiff_transpose(ensemble):
  shape = (6, 5, 1)
  op = ensemble.sample(shape, 0.5, seed=2, batch_size=2)
  x = tf.random.stateless_uniform((2,) + shape, seed=[1, 2])
  v = tf.random.stateless_normal((2,) + op.range_shape, seed=[3, 4])
  with tf.GradientTape() as tape:
    tape.watch(x)
    value = tf.reduce_sum(op.forward(x) * v)
  np.testing.assert_allclose(tape.gradient(value, x), op.adjoint(v),
                             rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("ratio, m", [(0.1, 102), (0.25, 256), (0.5, 512),
                                      (1.0, 1024)])
@pytest.mark.parametrize("ensemble", ENSEMBLES)
def test_measurement_count_follows_ratio(ensemble, ratio, m):
  op = ensemble.sample((32, 32, 1), ratio, seed=0)
  assert op.num_rows == m
  factor = 2 if ensemble is operators.FourierProjection else 1
  assert op.range_shape == (factor * m,)
  assert op.forward(tf.zeros([4, 32, 32, 1])).shape == (4, factor * m)


def test_gaussian_entries_are_standard_normal():
  matrix = operators.GaussianProjection.sample((32, 32, 1), 0.5, seed=7).matrix
  assert abs(float(tf.reduce_mean(matrix))) < 0.01
  assert abs(float(tf.math.reduce_std(matrix)) - 1.0) < 0.01


def test_binary_entries_are_plus_minus_one_with_equal_odds():
  matrix = operators.BinaryProjection.sample((32, 32, 1), 0.5, seed=7).matrix
  values = np.unique(matrix.numpy())
  np.testing.assert_array_equal(values, [-1.0, 1.0])
  assert abs(float(np.mean(matrix.numpy() == 1.0)) - 0.5) < 0.005


def test_fourier_rows_are_distinct_dft_rows():
  shape = (4, 4, 2)
  d = 32
  op = operators.FourierProjection.sample(shape, 0.5, seed=5)
  rows = op.indices.numpy()
  assert len(set(rows.tolist())) == len(rows) == 16
  dft = np.exp(-2j * np.pi * np.outer(np.arange(d), np.arange(d)) / d)
  x = np.random.default_rng(0).random((1,) + shape)
  expected = dft[rows] @ x.reshape(d)
  got = op.forward(x.astype(np.float32)).numpy()[0]
  np.testing.assert_allclose(got[:16], expected.real, atol=1e-4)
  np.testing.assert_allclose(got[16:], expected.imag, atol=1e-4)
  # Unit modulus: the same sigma means the same thing for all ensembles.
  np.testing.assert_allclose(np.abs(dft[rows]), 1.0)


def test_fourier_dense_matrix_is_the_same_map():
  shape = (8, 8, 1)
  op = operators.FourierProjection.sample(shape, 0.25, seed=9, batch_size=2)
  dense = operators.MatrixProjection(op.dense_matrix(), shape)
  x = tf.random.stateless_uniform((2,) + shape, seed=[0, 1])
  np.testing.assert_allclose(dense.forward(x), op.forward(x), atol=1e-4)
  v = tf.random.stateless_normal((2,) + op.range_shape, seed=[2, 3])
  np.testing.assert_allclose(dense.adjoint(v), op.adjoint(v), atol=1e-4)


@pytest.mark.parametrize("ensemble", ENSEMBLES)
def test_same_seed_same_operator_and_fresh_matrix_per_example(ensemble):
  a = ensemble.sample((8, 8, 1), 0.5, seed=[3, 4], batch_size=4)
  b = ensemble.sample((8, 8, 1), 0.5, seed=[3, 4], batch_size=4)
  c = ensemble.sample((8, 8, 1), 0.5, seed=[3, 5], batch_size=4)
  key = "indices" if ensemble is operators.FourierProjection else "matrix"
  pa, pb, pc = (o.parameters()[key].numpy() for o in (a, b, c))
  np.testing.assert_array_equal(pa, pb)
  assert not np.array_equal(pa, pc)
  assert not np.array_equal(pa[0], pa[1])


@pytest.mark.parametrize("ensemble", ENSEMBLES)
def test_initial_estimate_is_the_best_flat_image(ensemble):
  shape = (32, 32, 1)
  op = ensemble.sample(shape, 0.5, seed=1, batch_size=2)
  if ensemble is operators.FourierProjection:
    op = operators.FourierProjection([[0, 5, 9], [3, 0, 1]], shape)
  x = tf.concat([tf.fill((1,) + shape, 0.2), tf.fill((1,) + shape, 0.7)], 0)
  x0 = op.initial_estimate(op.forward(x)).numpy()
  assert x0.shape == (2,) + shape
  np.testing.assert_allclose(x0[0], 0.2, rtol=1e-4)
  np.testing.assert_allclose(x0[1], 0.7, rtol=1e-4)


def test_initial_estimate_without_dc_row_is_mid_grey():
  op = operators.FourierProjection([4, 5, 9], (4, 4, 1))
  x0 = op.initial_estimate(op.forward(tf.fill([1, 4, 4, 1], 0.9)))
  np.testing.assert_array_equal(x0, np.full((1, 4, 4, 1), 0.5, np.float32))


def test_from_parameters_round_trip():
  op = operators.GaussianProjection.sample((4, 4, 1), 0.5, seed=1)
  rebuilt = operators.MatrixProjection.from_parameters(op.parameters(),
                                                       (4, 4, 1))
  x = tf.random.stateless_uniform((2, 4, 4, 1), seed=[0, 0])
  np.testing.assert_array_equal(rebuilt.forward(x), op.forward(x))
  fourier = operators.FourierProjection.sample((4, 4, 1), 0.5, seed=1)
  rebuilt = operators.FourierProjection.from_parameters(
      fourier.parameters(), (4, 4, 1))
  np.testing.assert_array_equal(rebuilt.forward(x), fourier.forward(x))


@pytest.mark.parametrize("ensemble", ENSEMBLES)
def test_wrong_patch_size_is_rejected(ensemble):
  op = ensemble.sample((8, 8, 1), 0.5, seed=0)
  with pytest.raises(ValueError, match=r"x must have per-example shape"):
    op.forward(tf.zeros([2, 8, 9, 1]))
  with pytest.raises(ValueError, match=r"y must have shape"):
    op.adjoint(tf.zeros([2, 3]))


def test_bad_arguments_are_rejected():
  with pytest.raises(ValueError, match=r"ratio must be in \(0, 1\]"):
    operators.GaussianProjection.sample((8, 8, 1), 1.5, seed=0)
  with pytest.raises(ValueError, match=r"ratio must be in \(0, 1\]"):
    operators.FourierProjection.sample((8, 8, 1), 0.0, seed=0)
  with pytest.raises(ValueError, match=r"image_shape must be"):
    operators.BinaryProjection.sample((8, 8), 0.5, seed=0)
  with pytest.raises(ValueError, match=r"matrix has 10 columns"):
    operators.MatrixProjection(np.zeros((3, 10)), (3, 3, 1))
  with pytest.raises(ValueError, match=r"matrix must have shape"):
    operators.MatrixProjection(np.zeros((10,)), (10, 1, 1))
  with pytest.raises(ValueError, match=r"indices must be an integer"):
    operators.FourierProjection(np.zeros((3,), np.float32), (3, 1, 1))
  with pytest.raises(ValueError, match=r"seed must be"):
    operators.GaussianProjection.sample((4, 4, 1), 0.5, seed=[1, 2, 3])


def test_identity_checks_inputs():
  op = operators.Identity((4, 4, 1))
  with pytest.raises(ValueError, match=r"x must have shape \[N, H, W, C\]"):
    op.forward(np.zeros((4, 4, 1), np.float32))
  with pytest.raises(ValueError, match=r"x must be a floating-point"):
    op.forward(np.zeros((1, 4, 4, 1), np.uint8))
  with pytest.raises(ValueError, match=r"per-example shape \(4, 4, 1\)"):
    op.forward(np.zeros((1, 4, 4, 3), np.float32))
  with pytest.raises(ValueError, match=r"image_shape must be"):
    operators.Identity((4, 4))
  x0 = op.initial_estimate(np.full((1, 4, 4, 1), 1.7, np.float32))
  np.testing.assert_array_equal(x0, np.ones((1, 4, 4, 1)))
  any_size = operators.Identity((None, None, 1))
  assert any_size.forward(tf.zeros([1, 3, 5, 1])).shape == (1, 3, 5, 1)


def test_num_measurements_rounds():
  assert projections.num_measurements((32, 32, 1), 0.1) == 102
  assert projections.num_measurements((2, 2, 1), 0.01) == 1


def test_matrix_projection_with_run_time_row_count():
  """The multi-task pipeline's matrices have m unknown while tracing."""
  shape = (4, 4, 1)

  @tf.function(input_signature=[
      tf.TensorSpec([2, None, 16], tf.float32),
      tf.TensorSpec([2, 4, 4, 1], tf.float32)])
  def forward_adjoint(matrix, x):
    op = operators.MatrixProjection(matrix, shape)
    assert op.num_rows is None and op.ratio is None
    y = op.forward(x)
    return y, op.adjoint(y), op.initial_estimate(y)

  matrix = operators.GaussianProjection.sample(shape, 0.5, seed=0,
                                               batch_size=2).matrix
  x = tf.random.stateless_uniform((2,) + shape, seed=[5, 5])
  y, back, x0 = forward_adjoint(matrix, x)
  static = operators.MatrixProjection(matrix, shape)
  np.testing.assert_allclose(y, static.forward(x), rtol=1e-6)
  np.testing.assert_allclose(back, static.adjoint(static.forward(x)),
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(x0, static.initial_estimate(y), rtol=1e-6)


# --- normalised ensembles and the adjoint start ------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ensemble", ENSEMBLES)
def test_normalised_projection_adjoint_identity(ensemble, shape):
  op = ensemble.sample(shape, 0.3, seed=1, batch_size=3, normalize=True)
  assert _dot_test(op, shape) <= 1e-5


@pytest.mark.parametrize("ensemble", [operators.GaussianProjection,
                                      operators.BinaryProjection])
def test_normalised_matrix_entries_have_variance_one_over_m(ensemble):
  plain = ensemble.sample((32, 32, 1), 0.5, seed=7).matrix.numpy()
  scaled = ensemble.sample((32, 32, 1), 0.5, seed=7,
                           normalize=True).matrix.numpy()
  m = plain.shape[0]
  # The same draw, divided by sqrt(m): E[A^T A] = I.
  np.testing.assert_allclose(scaled, plain / np.sqrt(m), rtol=1e-6)
  gram = scaled.T @ scaled
  assert abs(float(np.mean(np.diag(gram))) - 1.0) < 0.01


@pytest.mark.parametrize("ensemble", ENSEMBLES)
def test_every_normalised_ensemble_keeps_the_energy_on_average(ensemble):
  # E[A^T A] = I: E ||A x||^2 = ||x||^2 for every ensemble alike, so the
  # likelihood gradient has one scale whatever the ensemble (and denoising,
  # A = I, is the p = 1 member of the family).
  shape = (8, 8, 1)
  op = ensemble.sample(shape, 0.25, seed=11, batch_size=512, normalize=True)
  x = np.tile(np.random.default_rng(2).random((1,) + shape), (512, 1, 1, 1))
  energy = np.sum(np.square(op.forward(x.astype(np.float32))), axis=1)
  ratio = float(np.mean(energy)) / float(np.sum(np.square(x[0])))
  assert abs(ratio - 1.0) < 0.05, ratio


def test_all_rows_of_the_unitary_dft_give_the_identity():
  shape = (4, 4, 2)
  op = operators.FourierProjection.sample(shape, 1.0, seed=5, normalize=True)
  dense = op.dense_matrix().numpy()
  np.testing.assert_allclose(dense.T @ dense, np.eye(32), atol=1e-5)
  x = np.random.default_rng(0).random((1,) + shape).astype(np.float32)
  np.testing.assert_allclose(op.adjoint(op.forward(x)), x, atol=1e-5)


def test_the_adjoint_start_is_the_clipped_back_projection():
  shape = (8, 8, 1)
  op = operators.GaussianProjection.sample(shape, 0.5, seed=3, batch_size=2,
                                           normalize=True)
  adjoint_start = operators.MatrixProjection(op.matrix, shape,
                                             start="adjoint")
  y = tf.random.stateless_normal((2,) + op.range_shape, seed=[4, 5])
  np.testing.assert_array_equal(
      adjoint_start.initial_estimate(y),
      tf.clip_by_value(op.adjoint(y), 0.0, 1.0))
  with pytest.raises(ValueError, match="start must be one of"):
    operators.MatrixProjection(op.matrix, shape, start="zero")
