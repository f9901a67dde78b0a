"""The Gaussian likelihood of paper eq. 14-15 with a learnable stabiliser."""

import math

import keras
import tensorflow as tf

from rim_tf.operators import base


def _broadcast_sigma(sigma, like):
  """sigma (scalar or [N]) reshaped to broadcast against `like` ([N, ...])."""
  sigma = tf.cast(tf.convert_to_tensor(sigma), tf.float32)
  if sigma.shape.rank not in (0, 1):
    raise ValueError(
        f"sigma must be a scalar or have shape [N], got shape {sigma.shape}.")
  rank = like.shape.rank
  if sigma.shape.rank == 0:
    return tf.reshape(sigma, [1] * rank)
  return tf.reshape(sigma, [-1] + [1] * (rank - 1))


class GaussianLikelihood(keras.layers.Layer):
  """log p(y | A, x) = -||y - A x||^2 / (2 (sigma^2 + eps)) with eps = softplus(phi).

  sigma is the noise standard deviation in the units of y ([0, 1] images for
  denoising, so sigma_255 / 255). The additive eps keeps the gradient finite
  for sigma -> 0 (paper eq. 15); phi is trained with the rest of the RIM.
  Always computed in float32, whatever the global dtype policy: the gradient
  is the one signal of the measurement the cell sees, and bf16's 8-bit
  mantissa would swamp small residuals.

  `operator` is either a `rim_tf.operators.LinearOperator`, whose explicit
  adjoint gives the gradient, or any differentiable callable x -> A(x)
  (linear or not), whose gradient comes from automatic differentiation.

  Args:
    epsilon_init: initial value of eps = softplus(phi), > 0.
  """

  def __init__(self, epsilon_init=1e-3, **kwargs):
    kwargs["dtype"] = "float32"
    super().__init__(**kwargs)
    if not epsilon_init > 0:
      raise ValueError(f"epsilon_init must be > 0, got {epsilon_init}.")
    self.epsilon_init = float(epsilon_init)
    # softplus^-1(e) = log(exp(e) - 1), written stably for small e.
    phi0 = math.log(math.expm1(self.epsilon_init))
    self.phi = self.add_weight(
        name="phi", shape=(),
        initializer=keras.initializers.Constant(phi0), trainable=True)

  def reset(self):
    """Sets eps back to `epsilon_init` (phi to its initial value)."""
    self.phi.assign(math.log(math.expm1(self.epsilon_init)))

  @property
  def epsilon(self):
    """eps = softplus(phi), a float32 scalar tensor."""
    return tf.nn.softplus(tf.convert_to_tensor(self.phi))

  def _variance(self, sigma, y):
    return tf.square(_broadcast_sigma(sigma, y)) + self.epsilon

  def log_likelihood(self, x, y, operator, sigma):
    """Per-example log p(y | A, x) up to its x-independent constant.

    Args:
      x: [N, H, W, C] images.
      y: [N, ...] measurements, shaped like `operator(x)`.
      operator: LinearOperator or callable x -> A(x).
      sigma: noise std, scalar or [N].

    Returns:
      [N] float32.
    """
    y = tf.cast(y, tf.float32)
    residual = y - operator(tf.cast(x, tf.float32))
    per_entry = tf.square(residual) / (2.0 * self._variance(sigma, y))
    return -tf.reduce_sum(
        tf.reshape(per_entry, [tf.shape(y)[0], -1]), axis=1)

  def grad_x(self, x, y, operator, sigma):
    """d log p / dx = A^T (y - A x) / (sigma^2 + eps), shape of x."""
    x = tf.cast(x, tf.float32)
    y = tf.cast(y, tf.float32)
    if isinstance(operator, base.LinearOperator):
      residual = (y - operator.forward(x)) / self._variance(sigma, y)
      return operator.adjoint(residual)
    with tf.GradientTape() as tape:
      tape.watch(x)
      value = tf.reduce_sum(self.log_likelihood(x, y, operator, sigma))
    return tape.gradient(value, x)

  def grad_eta(self, eta, y, operator, sigma):
    """d log p / d eta for x = sigmoid(eta): grad_x * x (1 - x), shape of eta."""
    x = tf.sigmoid(tf.cast(eta, tf.float32))
    return self.grad_x(x, y, operator, sigma) * x * (1.0 - x)

  def call(self, eta, y, operator, sigma):
    return self.grad_eta(eta, y, operator, sigma)

  def get_config(self):
    config = super().get_config()
    config.pop("dtype", None)
    config.update({"epsilon_init": self.epsilon_init})
    return config
