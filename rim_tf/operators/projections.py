"""Random projections of flattened image patches (paper section 4.4).

Each operator acts on patches flattened to d = H * W * C values and keeps
m = round(p * d) measurements. The matrix is either shared by the batch
(shape [m, d]) or drawn per example ([N, m, d]) for multi-task training; the
Fourier ensemble stores its row indices ([m] or [N, m]) instead of a matrix.
"""

import abc
import functools
import math

import numpy as np
import tensorflow as tf

from rim_tf.operators import base

# The initial estimates of a projection (`RandomProjection.initial_estimate`).
STARTS = ("flat", "adjoint")


def _as_seed(seed):
  """A stateless-RNG seed tensor of shape [2] from an int or a [2] tensor."""
  seed = tf.convert_to_tensor(seed)
  if seed.shape.rank == 0:
    seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
  if seed.shape != (2,):
    raise ValueError(
        f"seed must be an int or a shape-[2] integer tensor, got shape "
        f"{seed.shape}.")
  return tf.cast(seed, tf.int64)


def num_measurements(image_shape, ratio):
  """m = round(ratio * d) for patches of `image_shape`, at least 1."""
  if len(image_shape) != 3 or any(s is None or s < 1 for s in image_shape):
    raise ValueError(
        f"image_shape must be a fully known (H, W, C), got "
        f"{tuple(image_shape)}.")
  if not 0.0 < ratio <= 1.0:
    raise ValueError(f"ratio must be in (0, 1], got {ratio}.")
  return max(1, int(round(ratio * math.prod(image_shape))))


@functools.lru_cache(maxsize=8)
def _dft_table_arrays(d):
  """cos and sin of -2 pi j k / d, float32 [d, d] each (numpy, cached)."""
  # jk mod d keeps the angle small, so float64 -> float32 loses nothing.
  jk = np.outer(np.arange(d, dtype=np.int64), np.arange(d, dtype=np.int64))
  angle = -2.0 * np.pi * (jk % d) / d
  return np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)


def _dft_tables(d):
  """The DFT matrix's real and imaginary parts as tensors [d, d]."""
  return tuple(tf.constant(t) for t in _dft_table_arrays(d))


class RandomProjection(base.LinearOperator, abc.ABC):
  """Common shape handling of the projection ensembles.

  Args:
    image_shape: (H, W, C) of the patches, d = H * W * C.
    num_rows: m, the number of projected directions; None when it is only
      known at run time (a batch of the multi-task pipeline).
    per_example: whether the operator's parameters carry a batch axis.
    start: the initial estimate, one of `STARTS`: the flat image that best
      explains y ("flat"), or the back-projection A^T y clipped to [0, 1]
      ("adjoint"; for a normalised ensemble A^T A is about the identity, and
      for A = I it is the measurement itself).
  """

  def __init__(self, image_shape, num_rows, per_example, start="flat"):
    if start not in STARTS:
      raise ValueError(f"start must be one of {STARTS}, got {start!r}.")
    self._image_shape = tuple(int(s) for s in image_shape)
    self._d = math.prod(self._image_shape)
    self._m = None if num_rows is None else int(num_rows)
    self.per_example = per_example
    self.start = start

  @property
  def domain_shape(self):
    return self._image_shape

  @property
  def ratio(self):
    """p = m / d (None while m is unknown)."""
    return None if self._m is None else self._m / self._d

  @property
  def num_rows(self):
    return self._m

  def _flatten(self, x):
    x = base.check_image_batch(x, "x", self._image_shape)
    return tf.reshape(x, [-1, self._d])

  def _unflatten(self, x_flat):
    return tf.reshape(x_flat, (-1,) + self._image_shape)

  def _check_measurement(self, y):
    y = tf.convert_to_tensor(y, tf.float32)
    expected = self.range_shape[0]
    if y.shape.rank != 2 or (y.shape[1] is not None and expected is not None
                             and y.shape[1] != expected):
      raise ValueError(
          f"y must have shape [N, {self.range_shape[0]}], got {y.shape}.")
    return y

  def initial_estimate(self, y):
    """The start `start` names: the flat image that best explains y
    (`base.flat_estimate`), or A^T y clipped to [0, 1].

    For the ensembles with unit entries the back-projection A^T y is far
    too noisy to start from when p is small; the one-parameter fit is
    stable for every ensemble. A Fourier set without the DC row does not
    see flat images: it starts at 0.5.
    """
    y = self._check_measurement(y)
    if self.start == "adjoint":
      return tf.clip_by_value(self.adjoint(y), 0.0, 1.0)
    ones = tf.ones(tf.concat([tf.shape(y)[:1], self._image_shape], 0))
    return base.flat_estimate(self, y, ones)

  def __repr__(self):
    return (f"{type(self).__name__}(image_shape={self._image_shape}, "
            f"m={self._m}, per_example={self.per_example})")


class MatrixProjection(RandomProjection):
  """A projection given by an explicit real matrix.

  Args:
    matrix: [m, d] (shared by the batch) or [N, m, d] (one per example).
    image_shape: (H, W, C) with H * W * C = d.
    start: see `RandomProjection`.
  """

  def __init__(self, matrix, image_shape, start="flat"):
    matrix = tf.convert_to_tensor(matrix, tf.float32)
    if matrix.shape.rank not in (2, 3):
      raise ValueError(
          f"matrix must have shape [m, d] or [N, m, d], got {matrix.shape}.")
    super().__init__(image_shape, matrix.shape[-2], matrix.shape.rank == 3,
                     start)
    if matrix.shape[-1] != self._d:
      raise ValueError(
          f"matrix has {matrix.shape[-1]} columns but image_shape "
          f"{self._image_shape} has d = {self._d} values.")
    self.matrix = matrix

  @property
  def range_shape(self):
    return (self._m,)

  def forward(self, x):
    x = self._flatten(x)
    if self.per_example:
      return tf.einsum("nmd,nd->nm", self.matrix, x)
    return tf.matmul(x, self.matrix, transpose_b=True)

  def adjoint(self, y):
    y = self._check_measurement(y)
    if self.per_example:
      return self._unflatten(tf.einsum("nmd,nm->nd", self.matrix, y))
    return self._unflatten(tf.matmul(y, self.matrix))

  def parameters(self):
    """The tensors that rebuild this operator with `from_parameters`."""
    return {"matrix": self.matrix}

  @classmethod
  def from_parameters(cls, parameters, image_shape):
    return cls(parameters["matrix"], image_shape)



class RandomMatrixProjection(MatrixProjection, abc.ABC):
  """A matrix projection whose entries are drawn i.i.d. from an ensemble."""

  @classmethod
  def sample(cls, image_shape, ratio, seed, batch_size=None, normalize=False):
    """Draws an operator of this ensemble.

    Args:
      image_shape: (H, W, C) of the patches.
      ratio: p = m / d in (0, 1].
      seed: int or shape-[2] integer tensor (stateless RNG; same seed, same
        matrix).
      batch_size: None for one matrix shared by the batch, or N for one
        matrix per example.
      normalize: entries scaled by 1 / sqrt(m) (variance 1 / m), so that
        E[A^T A] = I: the identity is the p = 1 member of the family.
    """
    m = num_measurements(image_shape, ratio)
    shape = [m, math.prod(image_shape)]
    if batch_size is not None:
      shape = [batch_size] + shape
    matrix = cls._draw(shape, _as_seed(seed))
    if normalize:
      matrix = matrix / math.sqrt(m)
    return cls(matrix, image_shape)

  @staticmethod
  @abc.abstractmethod
  def _draw(shape, seed):
    """Matrix entries of the ensemble, float32 of `shape`."""


class GaussianProjection(RandomMatrixProjection):
  """Gaussian ensemble: entries i.i.d. N(0, 1)."""

  @staticmethod
  def _draw(shape, seed):
    return tf.random.stateless_normal(shape, seed, dtype=tf.float32)


class BinaryProjection(RandomMatrixProjection):
  """Binary ensemble: entries +1 or -1 with probability 0.5 each."""

  @staticmethod
  def _draw(shape, seed):
    coin = tf.random.stateless_uniform(shape, seed, dtype=tf.float32) < 0.5
    return tf.where(coin, 1.0, -1.0)


class FourierProjection(RandomProjection):
  """Fourier ensemble: m distinct rows of the d x d DFT matrix.

  Row k of the DFT matrix has entries exp(-2 pi i j k / d), unit modulus like
  the binary ensemble, so a noise sigma means the same for every ensemble.
  The complex measurements are returned real-valued as [Re; Im], so
  y has 2m entries and A^T [a; b] = Re(F_S^H (a + i b)).

  Args:
    indices: int32 row indices, [m] (shared) or [N, m] (per example), distinct
      within each set, in [0, d).
    image_shape: (H, W, C) of the patches.
    normalize: entries exp(...) / sqrt(m), so that E[A^T A] = I over the
      draw of the m rows, as for the other normalised ensembles (rows of the
      unitary DFT would give p I: the gradient p times weaker than theirs);
      all d rows are the unitary DFT, A^T A = I.
    start: see `RandomProjection`.
  """

  def __init__(self, indices, image_shape, normalize=False, start="flat"):
    indices = tf.convert_to_tensor(indices)
    if not indices.dtype.is_integer or indices.shape.rank not in (1, 2):
      raise ValueError(
          f"indices must be an integer tensor of shape [m] or [N, m], got "
          f"{indices.dtype.name} {indices.shape}.")
    super().__init__(image_shape, indices.shape[-1], indices.shape.rank == 2,
                     start)
    self.indices = tf.cast(indices, tf.int32)
    self.normalize = bool(normalize)
    self._gain = 1.0 / math.sqrt(self._m) if self.normalize else 1.0

  @property
  def range_shape(self):
    return (None if self._m is None else 2 * self._m,)

  def forward(self, x):
    spectrum = tf.signal.fft(tf.complex(self._flatten(x), 0.0))
    if self.per_example:
      rows = tf.gather(spectrum, self.indices, axis=1, batch_dims=1)
    else:
      rows = tf.gather(spectrum, self.indices, axis=1)
    return self._gain * tf.concat([tf.math.real(rows), tf.math.imag(rows)],
                                  axis=1)

  def adjoint(self, y):
    y = self._check_measurement(y)
    rows = tf.complex(y[:, :self._m], y[:, self._m:])
    batch = tf.shape(y)[0]
    indices = self.indices
    if not self.per_example:
      indices = tf.broadcast_to(indices[tf.newaxis], [batch, self._m])
    # F^H v = d * ifft(v): scatter the m coefficients into a full spectrum.
    example = tf.broadcast_to(tf.range(batch)[:, tf.newaxis], [batch, self._m])
    spectrum = tf.scatter_nd(
        tf.stack([example, indices], axis=-1), rows, [batch, self._d])
    back = tf.math.real(tf.signal.ifft(spectrum)) * (float(self._d) *
                                                    self._gain)
    return self._unflatten(back)

  def parameters(self):
    """The tensors that rebuild this operator with `from_parameters`."""
    return {"indices": self.indices}

  def dense_matrix(self):
    """The same real linear map as an explicit [2m, d] (or [N, 2m, d]) matrix.

    Rows are [Re F_S; Im F_S]: for real x, Re(F_S x) = Re(F_S) x and likewise
    for the imaginary part, so `MatrixProjection(self.dense_matrix(), shape)`
    is this operator. Lets every ensemble travel through one input pipeline.
    """
    cos_table, sin_table = _dft_tables(self._d)
    return self._gain * tf.concat([tf.gather(cos_table, self.indices),
                                   tf.gather(sin_table, self.indices)],
                                  axis=-2)

  @classmethod
  def from_parameters(cls, parameters, image_shape):
    return cls(parameters["indices"], image_shape)

  @classmethod
  def sample(cls, image_shape, ratio, seed, batch_size=None, normalize=False):
    """Draws m distinct DFT rows (arguments as `RandomMatrixProjection.sample`;
    `normalize`: entries of modulus 1 / sqrt(m), E[A^T A] = I)."""
    m = num_measurements(image_shape, ratio)
    d = math.prod(image_shape)
    shape = [d] if batch_size is None else [batch_size, d]
    keys = tf.random.stateless_uniform(shape, _as_seed(seed))
    order = tf.argsort(keys, axis=-1, stable=True)
    return cls(order[..., :m], image_shape, normalize)
