"""One Task per inverse problem: its operator, corruption sampler and metrics.

A task turns a training batch (from `rim_tf.data.PatchDataset` with the
task's corruption) into the operator the RIM needs, says which input streams
the trainer alternates between, and names its evaluation convention. The
trainer and the evaluation code only drive tasks; they know no problem.
"""

import abc
import dataclasses

import tensorflow as tf

from rim_tf import operators
from rim_tf.data import corruptions


class Task(abc.ABC):
  """What every problem provides.

  Attributes:
    name: registry key.
    channels: C of the images (1 gray, 3 RGB).
    patch_size: side of the training patches.
    metric: the evaluation convention, "denoising" or "superres" (see
      `rim_tf.metrics`); "patch_psnr" for the random-projection patches.
    denoise_start: where a RIM trained on this task starts when it
      denoises, one of `rim_tf.operators.identity.STARTS`: from the noisy
      image ("measurement"), or from a flat image ("flat") if its training
      estimates always started flat.
    denoise_steps: T when a RIM trained on this task denoises; None for
      the T it was trained with.
  """

  name = None
  metric = None
  denoise_start = "measurement"
  denoise_steps = None

  @property
  @abc.abstractmethod
  def channels(self):
    """C of the images."""

  @property
  def patch_size(self):
    """Side of the training patches (every task's `patch` field)."""
    return self.patch

  @abc.abstractmethod
  def corruption(self):
    """The `rim_tf.data.corruptions.Corruption` of the training stream."""

  @abc.abstractmethod
  def operator(self, batch):
    """The LinearOperator of a batch dict {"x", "y", "sigma", ...}."""

  def stream_keys(self):
    """Keys of the input streams; step g reads stream keys[g % len(keys)].

    One stream (key None) unless the measurement shape changes between
    batches in a way that would retrace the training step.
    """
    return (None,)

  def stream_corruption(self, key):
    """The corruption of stream `key`."""
    del key
    return self.corruption()

  def example_weights(self, batch):
    """[N] weights of the examples' training MSEs, or None for equal ones."""
    del batch
    return None

  def get_config(self):
    return {"name": self.name, **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True)
class Denoise(Task):
  """Gray (or colour) Gaussian denoising, A = I, one model for a sigma range.

  Args:
    sigma_range_255: training noise std range on the [0, 255] scale.
    quantize: train on 8-bit quantized noisy images; a fraction in (0, 1)
      quantizes that share of the examples and leaves the rest unclipped
      (`rim_tf.data.corruptions.GaussianNoise`).
    color: RGB instead of gray.
    patch: training patch side (32 in the paper).
    loss_sigma_power: p >= 0; each example's MSE is weighted by sigma^-p,
      normalised to mean 1 over the batch. 0 is the paper's plain MSE.
  """

  sigma_range_255: tuple = (15.0, 50.0)
  quantize: bool | float = False
  color: bool = False
  patch: int = 32
  loss_sigma_power: float = 0.0

  name = "denoise"
  metric = "denoising"

  def __post_init__(self):
    if not self.loss_sigma_power >= 0.0:
      raise ValueError(f"loss_sigma_power must be >= 0, got "
                       f"{self.loss_sigma_power!r}.")
    if self.loss_sigma_power and not min(self.sigma_range_255) > 0.0:
      raise ValueError(f"loss_sigma_power > 0 weighs examples by sigma^-p and "
                       f"needs sigma > 0, got sigma_range_255 "
                       f"{self.sigma_range_255!r}.")

  @property
  def channels(self):
    return 3 if self.color else 1

  def corruption(self):
    return corruptions.GaussianNoise(self.sigma_range_255, self.quantize)

  def operator(self, batch):
    return operators.Identity((None, None, self.channels))

  def example_weights(self, batch):
    # The test metric, mean PSNR over images, weighs each image's error by
    # 1 / MSE, and a denoiser's MSE grows about like sigma (ours: 0.9
    # power between sigma 15 and 50), so plain MSE spends most of the
    # training on the noisiest examples; p = 1 evens that out.
    if not self.loss_sigma_power:
      return None
    weights = tf.pow(tf.cast(batch["sigma"], tf.float32),
                     -self.loss_sigma_power)
    return weights / tf.reduce_mean(weights)


@dataclasses.dataclass(frozen=True)
class DenoiseColor(Denoise):
  """Colour denoising (paper Table 1: sigma 25, 8-bit quantized)."""

  sigma_range_255: tuple = (25.0, 25.0)
  quantize: bool = True
  color: bool = True

  name = "denoise_color"


@dataclasses.dataclass(frozen=True)
class SuperResolution(Task):
  """Bicubic super-resolution, one model for all scales (paper section 4.6).

  The scales alternate step by step, one input stream each, so that every
  stream has a static measurement shape.

  Args:
    scales: the downsampling factors.
    patch: training patch side, divisible by every scale (36 in the paper).
    noise_sigma_255: optional noise added to the low-resolution patches.
    color: RGB (the paper's protocol measures on Y of RGB) or gray.
  """

  scales: tuple = (2, 3, 4)
  patch: int = 36
  noise_sigma_255: float = 0.0
  color: bool = False

  name = "superres"
  metric = "superres"

  @property
  def channels(self):
    return 3 if self.color else 1

  def corruption(self):
    return corruptions.BicubicDownsampling(self.scales, self.noise_sigma_255)

  def stream_keys(self):
    return tuple(self.scales)

  def stream_corruption(self, key):
    return self.corruption().for_scale(key)

  def operator(self, batch):
    return operators.BicubicDownsample(
        _scale_of(batch), tuple(batch["x"].shape[1:]))


def _scale_of(batch):
  """The integer scale that maps the static x shape to the static y shape."""
  high, low = batch["x"].shape[1], batch["y"].shape[1]
  if high is None or low is None or high % low:
    raise ValueError(
        f"cannot infer the scale from x {batch['x'].shape} and y "
        f"{batch['y'].shape}; super-resolution streams need static shapes.")
  return high // low


@dataclasses.dataclass(frozen=True)
class RandomProjections(Task):
  """The 3-task random-projection problem of paper section 4.4.

  Each batch draws one ensemble and one ratio p; the operator travels as an
  explicit [N, m', d] matrix, so one stream serves all of them.

  Args:
    kinds: ensembles, from "gaussian", "binary", "fourier".
    ratios: measurement ratios p = m / d.
    noise_sigma: noise std in measurement units (1 in the paper).
    patch: patch side (32).
  """

  kinds: tuple = corruptions.PROJECTION_KINDS
  ratios: tuple = (0.1, 0.25, 0.5)
  noise_sigma: float = 1.0
  patch: int = 32

  name = "random_projections"
  metric = "patch_psnr"
  # From the noisy image, where the likelihood gradient is zero, this RIM
  # hardly moves; from the flat start it denoises (docs/probes/
  # rim3task_steps.py on training images; docs/results.md, Table 2's
  # RIM-3task row).
  denoise_start = "flat"
  # Its training T: from the flat start, 20 steps are best at sigma 15 and
  # 25 on training images and within 0.11 dB of the best at sigma 50
  # (docs/probes/rim3task_steps.py). The T = 10 weights shipped before
  # session 19 were best at 20 steps too.
  denoise_steps = 20

  @property
  def channels(self):
    return 1

  def corruption(self):
    return corruptions.RandomProjections(self.kinds, self.ratios,
                                         self.noise_sigma)

  def operator(self, batch):
    return operators.MatrixProjection(batch["matrix"],
                                      tuple(batch["x"].shape[1:]))


TASKS = {cls.name: cls for cls in
         (Denoise, DenoiseColor, SuperResolution, RandomProjections)}


def make_task(name, **kwargs):
  """A task by registry name with its dataclass fields as keyword args."""
  if name not in TASKS:
    raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}.")
  fields = {f.name for f in dataclasses.fields(TASKS[name])}
  unknown = sorted(set(kwargs) - fields)
  if unknown:
    raise ValueError(f"task {name!r} has no arguments {unknown}; it takes "
                     f"{sorted(fields)}.")
  kwargs = {k: tuple(v) if isinstance(v, list) else v
            for k, v in kwargs.items()}
  return TASKS[name](**kwargs)
