"""Tests of the Gaussian likelihood and its gradients (paper eq. 14-15)."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from rim_tf import likelihood
from rim_tf import operators


def _problem(op, image_shape, batch=2, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.random((batch,) + image_shape).astype(np.float32)
  y = op.forward(rng.random((batch,) + image_shape).astype(np.float32))
  return x, y


OPERATORS = [
    (operators.Identity((6, 5, 3)), (6, 5, 3)),
    (operators.GaussianProjection.sample((6, 5, 1), 0.4, seed=1), (6, 5, 1)),
    (operators.FourierProjection.sample((6, 5, 1), 0.4, seed=1, batch_size=2),
     (6, 5, 1)),
]


@pytest.mark.parametrize("op, shape", OPERATORS)
def test_grad_x_equals_gradient_tape(op, shape):
  lik = likelihood.GaussianLikelihood(epsilon_init=0.01)
  x, y = _problem(op, shape)
  sigma = tf.constant([0.1, 0.3])
  x = tf.constant(x)
  with tf.GradientTape() as tape:
    tape.watch(x)
    value = tf.reduce_sum(lik.log_likelihood(x, y, op, sigma))
  np.testing.assert_allclose(lik.grad_x(x, y, op, sigma),
                             tape.gradient(value, x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("op, shape", OPERATORS)
def test_grad_eta_equals_gradient_tape_through_sigmoid(op, shape):
  lik = likelihood.GaussianLikelihood(epsilon_init=0.01)
  _, y = _problem(op, shape)
  eta = tf.random.stateless_normal((2,) + shape, seed=[1, 1])
  with tf.GradientTape() as tape:
    tape.watch(eta)
    value = tf.reduce_sum(lik.log_likelihood(tf.sigmoid(eta), y, op, 0.2))
  np.testing.assert_allclose(lik.grad_eta(eta, y, op, 0.2),
                             tape.gradient(value, eta), rtol=1e-4, atol=1e-4)


def test_value_and_gradient_match_the_formula():
  lik = likelihood.GaussianLikelihood(epsilon_init=0.5)
  op = operators.Identity((1, 2, 1))
  x = np.array([[[[0.25], [0.5]]]], np.float32)
  y = np.array([[[[1.0], [0.0]]]], np.float32)
  variance = 0.3**2 + 0.5
  expected = -((0.75**2 + 0.5**2) / (2 * variance))
  np.testing.assert_allclose(lik.log_likelihood(x, y, op, 0.3), [expected],
                             rtol=1e-6)
  np.testing.assert_allclose(lik.grad_x(x, y, op, 0.3),
                             (y - x) / variance, rtol=1e-6)
  np.testing.assert_allclose(float(lik.epsilon), 0.5, rtol=1e-6)


def test_nonlinear_forward_uses_autodiff():
  lik = likelihood.GaussianLikelihood(epsilon_init=0.1)
  forward = lambda x: tf.square(x) * 2.0
  x = tf.constant(np.full((1, 2, 2, 1), 0.5, np.float32))
  y = tf.ones((1, 2, 2, 1))
  # d/dx of -(y - 2x^2)^2 / (2 v) = (y - 2x^2) * 4x / v
  v = 0.2**2 + 0.1
  np.testing.assert_allclose(lik.grad_x(x, y, forward, 0.2),
                             np.full((1, 2, 2, 1), 0.5 * 2.0 / v), rtol=1e-5)


def test_phi_is_trainable_and_receives_gradient():
  lik = likelihood.GaussianLikelihood()
  assert [w.name for w in lik.trainable_weights] == ["phi"]
  op = operators.Identity((3, 3, 1))
  x, y = _problem(op, (3, 3, 1))
  with tf.GradientTape() as tape:
    value = tf.reduce_sum(lik.grad_x(x, y, op, 0.1))
  grad = tape.gradient(value, lik.trainable_weights)[0]
  assert grad is not None and float(grad) != 0.0
  np.testing.assert_allclose(float(lik.epsilon), 1e-3, rtol=1e-5)


def test_stays_float32_under_mixed_precision():
  keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    lik = likelihood.GaussianLikelihood()
    op = operators.Identity((3, 3, 1))
    eta = tf.zeros((1, 3, 3, 1), tf.bfloat16)
    grad = lik.grad_eta(eta, tf.ones((1, 3, 3, 1)), op, 0.1)
    assert grad.dtype == tf.float32
    assert lik.phi.dtype == "float32"
  finally:
    keras.mixed_precision.set_global_policy("float32")


def test_config_round_trip():
  lik = likelihood.GaussianLikelihood(epsilon_init=0.02, name="lik")
  clone = likelihood.GaussianLikelihood.from_config(lik.get_config())
  assert clone.epsilon_init == 0.02 and clone.name == "lik"
  np.testing.assert_allclose(float(clone.epsilon), 0.02, rtol=1e-5)


def test_bad_arguments_are_rejected():
  with pytest.raises(ValueError, match=r"epsilon_init must be > 0"):
    likelihood.GaussianLikelihood(epsilon_init=0.0)
  lik = likelihood.GaussianLikelihood()
  op = operators.Identity((3, 3, 1))
  with pytest.raises(ValueError, match=r"sigma must be a scalar or have shape"):
    lik.grad_x(tf.zeros((1, 3, 3, 1)), tf.zeros((1, 3, 3, 1)), op,
               tf.zeros((1, 1)))
  assert math.isfinite(float(lik.epsilon))
