"""The interface every forward model y = A x of rim_tf implements."""

import abc

import tensorflow as tf


class LinearOperator(abc.ABC):
  """A linear measurement operator A acting on batches of NHWC images.

  `forward` maps images x of shape [N, H, W, C] (float32, nominally in [0, 1])
  to measurements y of shape [N] + `range_shape`; `adjoint` is the exact
  transpose A^T, written explicitly, mapping [N] + `range_shape` back to
  [N, H, W, C]. Subclasses check their inputs where they enter and raise
  `ValueError` naming the argument and what was expected.

  Example: a blur, and the identity <A x, y> = <x, A^T y> every operator
  keeps (`tests/test_projections.py` checks it for each):

  >>> import tensorflow as tf
  >>> from rim_tf import operators
  >>> A = operators.Blur(tf.ones([3, 3]) / 9.0, (16, 16, 1))
  >>> x = tf.random.stateless_uniform([2, 16, 16, 1], seed=(0, 1))
  >>> y = tf.random.stateless_uniform([2, 16, 16, 1], seed=(0, 2))
  >>> A.forward(x).shape
  TensorShape([2, 16, 16, 1])
  >>> lhs = float(tf.reduce_sum(A.forward(x) * y))
  >>> rhs = float(tf.reduce_sum(x * A.adjoint(y)))
  >>> abs(lhs - rhs) < 1e-3 * abs(lhs)
  True
  """

  @property
  @abc.abstractmethod
  def domain_shape(self):
    """Per-example image shape (H, W, C) that `forward` accepts."""

  @property
  @abc.abstractmethod
  def range_shape(self):
    """Per-example measurement shape that `forward` returns."""

  @abc.abstractmethod
  def forward(self, x):
    """A x: [N, H, W, C] -> [N] + range_shape."""

  @abc.abstractmethod
  def adjoint(self, y):
    """A^T y: [N] + range_shape -> [N, H, W, C]."""

  @abc.abstractmethod
  def initial_estimate(self, y):
    """A sensible starting image x0 in [0, 1], shape [N, H, W, C], from y."""

  def __call__(self, x):
    return self.forward(x)

  def normal(self, x):
    """A^T A x: [N, H, W, C] -> [N, H, W, C]."""
    return self.adjoint(self.forward(x))


def flat_estimate(operator, y, ones):
  """The flat image that best explains y: c 1 with c = <A 1, y> / ||A 1||^2.

  One least-squares parameter per example, so it is stable however noisy or
  few the measurements, and exact for flat images. Where A does not see
  flat images at all (||A 1|| ~ 0) the level is 0.5.

  Args:
    operator: the LinearOperator A.
    y: measurements [N] + A's range shape.
    ones: float32 [N, H, W, C] of ones, the images' batch shape.

  Returns:
    float32 [N, H, W, C] in [0, 1], constant per example.
  """
  a_ones = operator.forward(ones)
  axes = list(range(1, a_ones.shape.rank))
  energy = tf.reduce_sum(a_ones * a_ones, axis=axes)
  pixels = tf.cast(tf.reduce_prod(tf.shape(ones)[1:]), tf.float32)
  visible = energy > 1e-6 * pixels
  level = tf.where(
      visible,
      tf.reduce_sum(a_ones * y, axis=axes) / tf.where(visible, energy, 1.0),
      0.5)
  return tf.clip_by_value(level[:, None, None, None] * ones, 0.0, 1.0)


def check_image_batch(x, name, shape=None):
  """Converts `x` to a float32 [N, H, W, C] tensor, validating rank and shape.

  Args:
    x: array-like, the image batch.
    name: argument name used in error messages.
    shape: optional expected per-example shape (H, W, C).

  Returns:
    float32 tf.Tensor of rank 4.
  """
  x = tf.convert_to_tensor(x)
  if not x.dtype.is_floating:
    raise ValueError(
        f"{name} must be a floating-point image batch in [0, 1], got dtype "
        f"{x.dtype.name}.")
  x = tf.cast(x, tf.float32)
  if x.shape.rank != 4:
    raise ValueError(
        f"{name} must have shape [N, H, W, C], got shape {x.shape}.")
  if shape is not None:
    got = tuple(x.shape[1:])
    if any(g is not None and e is not None and g != e
           for g, e in zip(got, tuple(shape))):
      raise ValueError(
          f"{name} must have per-example shape {tuple(shape)}, got "
          f"{got} (full shape {x.shape}).")
  return x
