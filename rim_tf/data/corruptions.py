"""Per-task measurement samplers, applied to whole batches inside tf.data.

A corruption maps a batch {"x": float32 [N, P, P, C] in [0, 1], ...} and a
stateless seed (shape-[2] integer tensor; `PatchDataset` derives it from the
run's seed and the batch index, so a resumed run draws the same) to the batch
plus what the model needs:

  "y":     the measurement,
  "sigma": float32 [N], the noise standard deviation of y (for images in
           [0, 1]-units; for projections in measurement units),
  "quantized": float32 [N] (noise only), 1 where y is an 8-bit image
           (`quantized_8bit_flag`), else 0,
and the operator's parameters ("matrix", "kind", "ratio" / "scale" /
"kernel").

Structural choices (projection kind and ratio, super-resolution scale) are
drawn once per batch so every batch has one shape; everything else per
example.
"""

import abc
import math

import numpy as np
import tensorflow as tf

from rim_tf import metrics
from rim_tf.data import colour
from rim_tf.data import kernels as blur_kernels
from rim_tf.operators import bicubic
from rim_tf.operators import blur
from rim_tf.operators import projections

PROJECTION_KINDS = ("gaussian", "binary", "fourier")
# How a noise range is drawn from (RandomProjections).
NOISE_SPACINGS = ("linear", "log")
_PROJECTION_CLASSES = {
    "gaussian": projections.GaussianProjection,
    "binary": projections.BinaryProjection,
    "fourier": projections.FourierProjection,
}


def _split(seed, num):
  return tf.unstack(tf.random.experimental.stateless_split(
      tf.cast(seed, tf.int64), num))


def _static_patch_shape(x):
  shape = tuple(x.shape[1:])
  if len(shape) != 3 or any(s is None for s in shape):
    raise ValueError(f"batch['x'] must have a static shape [N, P, P, C], got "
                     f"{x.shape}.")
  return shape


def _pick(seed, num_options):
  """A per-batch index in [0, num_options) (int32 scalar tensor)."""
  return tf.random.stateless_uniform([], seed, 0, num_options, dtype=tf.int32)


def quantize_8bit_tf(noisy01):
  """`metrics.quantize_8bit` (clip, round half away to k/255) as a TF op."""
  out = tf.numpy_function(metrics.quantize_8bit, [noisy01], tf.float32,
                          stateful=False)
  out.set_shape(noisy01.shape)
  return out


# How far (in steps of 1/255) a value may lie from the 8-bit grid and count
# as on it: k / 255 in float32, times 255, is off by at most ~3e-5.
GRID_TOLERANCE = 1e-3


def quantized_8bit_flag(images):
  """[N] float32: 1 for each image of `images` [N, H, W, C] whose every
  value is on [0, 1] and on the 1/255 grid (an 8-bit image as floats, e.g.
  `quantize_8bit_tf`'s output or a PNG / 255), else 0 (unclipped noise).
  Plain TF ops, so an exported RIM computes it from its own input."""
  images = tf.cast(images, tf.float32)
  levels = images * 255.0
  off_grid = tf.reduce_max(tf.abs(levels - tf.round(levels)), axis=[1, 2, 3])
  inside = ((tf.reduce_min(images, axis=[1, 2, 3]) >= 0.0) &
            (tf.reduce_max(images, axis=[1, 2, 3]) <= 1.0))
  return tf.cast(inside & (off_grid <= GRID_TOLERANCE), tf.float32)


class Corruption(abc.ABC):
  """A sampler of measurements y for batches of clean patches x."""

  name = None

  @abc.abstractmethod
  def __call__(self, batch, seed):
    """Returns `batch` with "y", "sigma" and the operator's parameters."""

  @abc.abstractmethod
  def get_config(self):
    """Constructor arguments, JSON-serialisable, plus "name"."""

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config.pop("name", None)
    return cls(**config)

  def check_patch_shape(self, patch_shape):
    """Raises ValueError if patches of (P, P, C) cannot be corrupted."""
    del patch_shape

  def __repr__(self):
    args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                     if k != "name")
    return f"{type(self).__name__}({args})"


class GaussianNoise(Corruption):
  """y = x + sigma n, sigma per example ~ U[lo, hi] / 255, n ~ N(0, 1).

  Unclipped ("not quantized"); with `quantize` y is clipped to [0, 1] and
  rounded to the 1/255 grid ("8-bit quantized", `metrics.quantize_8bit`).
  A fraction 0 < q < 1 quantizes each example with probability q and leaves
  the others unclipped, so one model learns both kinds of input. A fixed
  sigma is `sigma_range_255=(s, s)`.
  """

  name = "gaussian_noise"

  def __init__(self, sigma_range_255=(15.0, 50.0), quantize=False):
    try:
      low, high = (float(v) for v in sigma_range_255)
    except (TypeError, ValueError):
      raise ValueError(f"sigma_range_255 must be a pair (low, high), got "
                       f"{sigma_range_255!r}.") from None
    if not 0.0 <= low <= high:
      raise ValueError(f"sigma_range_255 must satisfy 0 <= low <= high, got "
                       f"{sigma_range_255!r}.")
    if isinstance(quantize, bool):
      fraction = float(quantize)
    elif isinstance(quantize, (int, float)) and 0.0 <= quantize <= 1.0:
      fraction = float(quantize)
    else:
      raise ValueError(f"quantize must be a bool or a fraction in [0, 1], "
                       f"got {quantize!r}.")
    self.sigma_range_255 = (low, high)
    # As given (a bool stays a bool), so configs read back unchanged.
    self.quantize = quantize
    self._fraction = fraction

  def __call__(self, batch, seed):
    x = batch["x"]
    seed_sigma, seed_noise = _split(seed, 2)
    low, high = self.sigma_range_255
    count = tf.shape(x)[:1]
    sigma = tf.random.stateless_uniform(count, seed_sigma, low, high) / 255.0
    noise = tf.random.stateless_normal(tf.shape(x), seed_noise)
    y = x + sigma[:, None, None, None] * noise
    if self._fraction == 1.0:
      y = quantize_8bit_tf(y)
    elif self._fraction > 0.0:
      # A seed of its own, so the sigmas and noise are those of the
      # unmixed corruption with the same seed.
      seed_pick = tf.random.experimental.stateless_fold_in(
          tf.cast(seed, tf.int64), 1)
      picked = tf.random.stateless_uniform(count, seed_pick) < self._fraction
      y = tf.where(picked[:, None, None, None], quantize_8bit_tf(y), y)
    # Read off y as a restorer reads its input, so that training and
    # restoring agree on it.
    return {**batch, "y": y, "sigma": sigma,
            "quantized": quantized_8bit_flag(y)}

  def get_config(self):
    return {"name": self.name, "sigma_range_255": list(self.sigma_range_255),
            "quantize": self.quantize}


class OpponentNoise(GaussianNoise):
  """`GaussianNoise` on RGB patches, handed to a gray RIM channel by channel
  in the opponent colour space of `rim_tf.data.colour`.

  The noise (and the quantization) is made in RGB, as a camera's is; then
  x and y go to the opponent space, where white RGB noise of std s is white
  noise of std s * NOISE_GAIN[c] in channel c, and each channel becomes an
  example of its own: a batch of N patches [N, P, P, 3] comes out as 3N gray
  examples [3N, P, P, 1] with sigma [3N] (example i's channel c at 3i + c).
  Other per-example entries of the batch are repeated alike.
  """

  name = "opponent_noise"

  def check_patch_shape(self, patch_shape):
    if tuple(patch_shape)[-1:] != (3,):
      raise ValueError(f"opponent_noise corrupts RGB patches, got patches "
                       f"of shape {tuple(patch_shape)}.")

  def __call__(self, batch, seed):
    noisy = super().__call__(batch, seed)
    count = noisy["x"].shape[0]
    gains = tf.constant(colour.NOISE_GAIN)
    out = {key: (tf.repeat(value, 3, axis=0)
                 if key not in ("x", "y", "sigma") else value)
           for key, value in noisy.items()}
    for key in ("x", "y"):
      out[key] = colour.channels_to_batch(colour.to_opponent_tf(noisy[key]))
    out["sigma"] = tf.reshape(noisy["sigma"][:, None] * gains[None, :], [-1])
    if count is not None:
      out["sigma"].set_shape([3 * count])
    return out


def check_noise_sigma(value):
  """A noise std >= 0 as a float, or a range (lo, hi), 0 <= lo <= hi, as a
  tuple of floats; ValueError otherwise."""
  if isinstance(value, (list, tuple)):
    pair = tuple(float(v) for v in value)
    if len(pair) != 2 or not 0.0 <= pair[0] <= pair[1]:
      raise ValueError(f"noise_sigma must be >= 0 or a range (lo, hi) with "
                       f"0 <= lo <= hi, got {value!r}.")
    return pair
  if not value >= 0.0:
    raise ValueError(f"noise_sigma must be >= 0, got {value!r}.")
  return float(value)


class RandomProjections(Corruption):
  """y = A x + sigma n with A from a random ensemble (paper section 4.4).

  Per batch, one kind (index into `kinds`) and one ratio p = m / d are drawn;
  A is drawn per example (`per_example`) or shared by the batch. Every kind
  travels as a dense real matrix, "matrix" [N, m', d] (or [m', d] when
  shared), so one pipeline serves all: m' = round(p d) for the Gaussian and
  binary ensembles and 2 round(p d) for the Fourier one, whose complex rows
  become [Re F_S; Im F_S] (`FourierProjection.dense_matrix`, the same real
  map). m' varies by batch, hence the element shape [N, None, d]. Rebuild
  the operator with `rim_tf.operators.MatrixProjection(matrix, (P, P, C))`.
  Also carried: "kind" (int32 scalar), "ratio" (float32 scalar), "sigma"
  [N]. `noise_sigma` is one std for all, or a pair (lo, hi): each example's
  std drawn from it, uniformly (`noise_spacing` "linear") or log-uniformly
  ("log", lo > 0: as many draws per octave at low noise as at high).

  The paper's Figure 2 does not state its ratio set; (0.1, 0.25, 0.5) is
  our default, sigma = 1 is the paper's. `normalize` scales the ensembles
  so that E[A^T A] = I (`RandomMatrixProjection.sample`,
  `FourierProjection`).
  """

  name = "random_projections"

  def __init__(self, kinds=PROJECTION_KINDS, ratios=(0.1, 0.25, 0.5),
               noise_sigma=1.0, per_example=True, normalize=False,
               noise_spacing="linear"):
    if isinstance(kinds, str):
      kinds = (kinds,)
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in _PROJECTION_CLASSES]
    if not kinds or unknown:
      raise ValueError(f"kinds must be a non-empty subset of "
                       f"{PROJECTION_KINDS}, got {kinds!r}.")
    ratios = tuple(float(r) for r in ratios)
    if not ratios or any(not 0.0 < r <= 1.0 for r in ratios):
      raise ValueError(f"ratios must be non-empty, each in (0, 1], got "
                       f"{ratios!r}.")
    self.noise_sigma = check_noise_sigma(noise_sigma)
    if noise_spacing not in NOISE_SPACINGS:
      raise ValueError(f"noise_spacing must be one of {NOISE_SPACINGS}, got "
                       f"{noise_spacing!r}.")
    # One std has nothing to space: "log" with it would be ignored silently.
    if noise_spacing == "log" and not (isinstance(self.noise_sigma, tuple)
                                       and self.noise_sigma[0] > 0.0):
      raise ValueError(f"noise_spacing 'log' needs a range with lo > 0, got "
                       f"{noise_sigma!r}.")
    self.noise_spacing = noise_spacing
    self.kinds = kinds
    self.ratios = ratios
    self.per_example = bool(per_example)
    self.normalize = bool(normalize)

  def _matrix(self, kind, ratio, image_shape, count, seed):
    operator = _PROJECTION_CLASSES[kind].sample(
        image_shape, ratio, seed,
        batch_size=count if self.per_example else None,
        normalize=self.normalize)
    if kind == "fourier":
      return operator.dense_matrix()
    return operator.matrix

  def __call__(self, batch, seed):
    x = batch["x"]
    image_shape = _static_patch_shape(x)
    count = x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]
    seed_pick, seed_matrix, seed_noise = _split(seed, 3)
    options = [(k, r) for k in range(len(self.kinds))
               for r in range(len(self.ratios))]
    choice = _pick(seed_pick, len(options))
    branches = [
        (lambda k=k, r=r: self._matrix(self.kinds[k], self.ratios[r],
                                       image_shape, count, seed_matrix))
        for k, r in options]
    matrix = branches[0]() if len(options) == 1 else tf.switch_case(
        choice, branches)
    clean = projections.MatrixProjection(matrix, image_shape).forward(x)
    if isinstance(self.noise_sigma, tuple):
      # Its own seed: one std keeps the noise stream it always had.
      seed_noise, seed_sigma = _split(seed_noise, 2)
      lo, hi = self.noise_sigma
      if self.noise_spacing == "log":
        sigma = tf.exp(tf.random.stateless_uniform(
            tf.shape(x)[:1], seed_sigma, math.log(lo), math.log(hi)))
      else:
        sigma = tf.random.stateless_uniform(tf.shape(x)[:1], seed_sigma,
                                            lo, hi)
    else:
      sigma = tf.fill(tf.shape(x)[:1], self.noise_sigma)
    y = clean + sigma[:, None] * tf.random.stateless_normal(
        tf.shape(clean), seed_noise)
    ratio_table = tf.constant(self.ratios, tf.float32)
    return {
        **batch,
        "y": y,
        "sigma": sigma,
        "matrix": matrix,
        "kind": choice // len(self.ratios),
        "ratio": tf.gather(ratio_table, choice % len(self.ratios)),
    }

  def get_config(self):
    return {"name": self.name, "kinds": list(self.kinds),
            "ratios": list(self.ratios),
            "noise_sigma": (list(self.noise_sigma)
                            if isinstance(self.noise_sigma, tuple)
                            else self.noise_sigma),
            "per_example": self.per_example, "normalize": self.normalize,
            "noise_spacing": self.noise_spacing}


class BicubicDownsampling(Corruption):
  """y = imresize(x, 1/s) (+ sigma n), one scale s per batch from `scales`.

  The patch size must be divisible by every scale (36 for 2, 3, 4). With
  several scales y has the element shape [N, None, None, C]; "scale" (int32
  scalar) says which. To keep static shapes, training reads one stream per
  scale (built with `for_scale`, `PatchDataset.train_dataset`'s
  `step_subset`) that together partition the steps (no retracing); the
  mixed form serves evaluation and inspection.
  """

  name = "bicubic_downsampling"

  def __init__(self, scales=(2, 3, 4), noise_sigma_255=0.0):
    if isinstance(scales, int):
      scales = (scales,)
    scales = tuple(scales)
    if not scales or any(isinstance(s, bool) or int(s) != s or s < 2
                         for s in scales):
      raise ValueError(f"scales must be integers >= 2, got {scales!r}.")
    if not noise_sigma_255 >= 0.0:
      raise ValueError(
          f"noise_sigma_255 must be >= 0, got {noise_sigma_255!r}.")
    self.scales = tuple(int(s) for s in scales)
    self.noise_sigma_255 = float(noise_sigma_255)

  def for_scale(self, scale):
    """The same corruption restricted to one scale (static y shape)."""
    if scale not in self.scales:
      raise ValueError(f"scale must be one of {self.scales}, got {scale!r}.")
    return BicubicDownsampling((scale,), self.noise_sigma_255)

  def check_patch_shape(self, patch_shape):
    height, width = patch_shape[:2]
    bad = [s for s in self.scales if height % s or width % s]
    if bad:
      raise ValueError(
          f"patch size {height}x{width} is not divisible by the scales {bad} "
          f"of {self.scales}; use a multiple of all of them (36 for 2, 3, 4).")

  def __call__(self, batch, seed):
    x = batch["x"]
    image_shape = _static_patch_shape(x)
    self.check_patch_shape(image_shape)
    seed_pick, seed_noise = _split(seed, 2)
    choice = _pick(seed_pick, len(self.scales))
    branches = [
        (lambda s=s: bicubic.BicubicDownsample(s, image_shape).forward(x))
        for s in self.scales]
    y = branches[0]() if len(branches) == 1 else tf.switch_case(
        choice, branches)
    sigma = tf.fill(tf.shape(x)[:1], self.noise_sigma_255 / 255.0)
    if self.noise_sigma_255 > 0:
      y = y + sigma[:, None, None, None] * tf.random.stateless_normal(
          tf.shape(y), seed_noise)
    return {**batch, "y": y, "sigma": sigma,
            "scale": tf.gather(tf.constant(self.scales, tf.int32), choice)}

  def get_config(self):
    return {"name": self.name, "scales": list(self.scales),
            "noise_sigma_255": self.noise_sigma_255}


def _kernel_batch(seed, count, size, motion_fraction):
  """float32 [count, size, size] training kernels from an int64 seed."""
  rng = np.random.default_rng([int(v) for v in seed])
  return np.stack([blur_kernels.sample_kernel(rng, int(size), motion_fraction)
                   for _ in range(int(count))])


class Blurring(Corruption):
  """y = k * x + sigma n: a random kernel per example
  (`rim_tf.data.kernels.sample_kernel`, centred in kernel_size x
  kernel_size), blur with `boundary`, noise sigma ~ U[lo, hi] / 255, and
  with `quantize` the 8-bit rounding of the result. Adds "kernel"
  [N, K, K] and "sigma" [N].
  """

  name = "blurring"

  def __init__(self, kernel_size=25, sigma_range_255=(0.0, 12.75),
               motion_fraction=0.75, quantize=True, boundary="circular"):
    if kernel_size % 2 == 0 or not 3 <= kernel_size <= blur.MAX_KERNEL:
      raise ValueError(f"kernel_size must be odd, 3-{blur.MAX_KERNEL}, got "
                       f"{kernel_size}.")
    low, high = (float(v) for v in sigma_range_255)
    if not 0.0 <= low <= high:
      raise ValueError(f"sigma_range_255 must satisfy 0 <= low <= high, got "
                       f"{sigma_range_255!r}.")
    if not 0.0 <= motion_fraction <= 1.0:
      raise ValueError(f"motion_fraction must be in [0, 1], got "
                       f"{motion_fraction}.")
    if boundary not in blur.BOUNDARIES:
      raise ValueError(f"boundary must be one of {blur.BOUNDARIES}, got "
                       f"{boundary!r}.")
    self.kernel_size = int(kernel_size)
    self.sigma_range_255 = (low, high)
    self.motion_fraction = float(motion_fraction)
    self.quantize = bool(quantize)
    self.boundary = boundary

  def check_patch_shape(self, patch_shape):
    if min(patch_shape[:2]) < self.kernel_size:
      raise ValueError(f"patches of {patch_shape[0]}x{patch_shape[1]} are "
                       f"smaller than the kernels ({self.kernel_size}).")

  def __call__(self, batch, seed):
    x = batch["x"]
    shape = _static_patch_shape(x)
    seed_kernel, seed_sigma, seed_noise = _split(seed, 3)
    count = tf.shape(x)[:1]
    # The kernels are drawn by numpy from a seed of the stateless stream:
    # the same batch index gives the same kernels after a resume.
    numpy_seed = tf.random.stateless_uniform(
        [2], seed_kernel, 0, 2 ** 62, dtype=tf.int64)
    kernels = tf.numpy_function(
        _kernel_batch, [numpy_seed, count[0], self.kernel_size,
                        self.motion_fraction], tf.float32, stateful=False)
    kernels.set_shape([x.shape[0], self.kernel_size, self.kernel_size])
    blurred = blur.Blur(kernels, shape, self.boundary).forward(x)
    low, high = self.sigma_range_255
    sigma = tf.random.stateless_uniform(count, seed_sigma, low, high) / 255.0
    y = blurred + sigma[:, None, None, None] * tf.random.stateless_normal(
        tf.shape(x), seed_noise)
    if self.quantize:
      y = quantize_8bit_tf(y)
    return {**batch, "y": y, "sigma": sigma, "kernel": kernels}

  def get_config(self):
    return {"name": self.name, "kernel_size": self.kernel_size,
            "sigma_range_255": list(self.sigma_range_255),
            "motion_fraction": self.motion_fraction,
            "quantize": self.quantize, "boundary": self.boundary}


_REGISTRY = {cls.name: cls for cls in
             (GaussianNoise, OpponentNoise, RandomProjections,
              BicubicDownsampling, Blurring)}


def from_config(config):
  """Rebuilds a corruption from its `get_config()`."""
  name = config.get("name")
  if name not in _REGISTRY:
    raise ValueError(f"Unknown corruption {name!r}; expected one of "
                     f"{sorted(_REGISTRY)}.")
  return _REGISTRY[name].from_config(config)
