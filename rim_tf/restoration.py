"""Restoring images with a trained RIM: denoising and super-resolution.

`Restorer` runs a RIM on whole images or in overlapping tiles (float32
[H, W, C] on [0, 1]); the evaluation, the figures and `rim-restore` all use
it. `restore(image, task=..., ...)` is the Python API behind `rim-restore`:
any uint8 / uint16 / float image in, the same dtype out.
"""

import functools
import math

import numpy as np
import tensorflow as tf

from rim_tf import metrics
from rim_tf import operators
from rim_tf import pretrained
from rim_tf import tiling

TASKS = ("denoise", "superres")
# Which trained tasks can serve a restoration task. The 3-task
# random-projection RIM denoises too (the paper's "RIM-3task" row).
SERVING_TASKS = {"denoise": ("denoise", "denoise_color", "random_projections"),
                 "superres": ("superres",)}
# The shipped weights each task uses by default, colour model first.
DEFAULT_WEIGHTS = {"denoise": {3: ("denoise_color", "denoise_gray"),
                               1: ("denoise_gray",)},
                   "superres": {3: ("superres",), 1: ("superres",)}}
DEFAULT_TILE = 512
DEFAULT_OVERLAP = 32
MIN_SIDE = 8


class Restorer:
  """A RIM that restores whole images, compiled once per input shape.

  A gray RIM restores a colour image channel by channel (the channels go
  through the model as a batch).

  Args:
    model: a `rim_tf.model.RIM`.
    steps: T at test time.
    superres_sigma_255: the noise level the super-resolution model was
      trained with (its likelihood's sigma at test time).
  """

  def __init__(self, model, steps, superres_sigma_255=0.0):
    self.model = model
    self.steps = int(steps)
    if self.steps < 1:
      raise ValueError(f"steps must be >= 1, got {steps}.")
    self.superres_sigma_255 = float(superres_sigma_255)
    self._denoise = tf.function(self._denoise_graph, reduce_retracing=True)
    self._superres = {}

  @classmethod
  def from_weights(cls, weights, steps=None):
    """(Restorer, config) of exported weights (shipped name or path).

    `steps` defaults to the T the weights were trained with.
    """
    model, config = pretrained.load(weights)
    sigma = (config.task_args.get("noise_sigma_255", 0.0)
             if config.task == "superres" else 0.0)
    return cls(model, steps or config.trainer.rim_steps, sigma), config

  @property
  def channels(self):
    return self.model.channels

  def _denoise_graph(self, noisy, sigma):
    operator = operators.Identity((None, None, noisy.shape[-1]))
    _, final = self.model(noisy, operator=operator, sigma=sigma,
                          steps=self.steps)
    return final

  def _as_model_batch(self, image):
    """[H, W, C] -> [N, H, W, C_model]: colour channels become a batch of
    gray images when the model is gray."""
    image = np.asarray(image, np.float32)
    if image.shape[-1] == self.model.channels:
      return image[None]
    if self.model.channels == 1:
      return np.transpose(image, (2, 0, 1))[..., None]
    raise ValueError(f"a {self.model.channels}-channel RIM cannot restore a "
                     f"{image.shape[-1]}-channel image.")

  def _from_model_batch(self, batch, channels):
    batch = np.asarray(batch)
    if batch.shape[0] == 1 and batch.shape[-1] == channels:
      return batch[0]
    return np.transpose(batch[..., 0], (1, 2, 0))

  def _denoise_whole(self, noisy01, sigma_255):
    batch = self._as_model_batch(noisy01)
    sigma = tf.fill([batch.shape[0]], np.float32(sigma_255 / 255.0))
    final = self._denoise(tf.constant(batch), sigma)
    return self._from_model_batch(final, np.shape(noisy01)[-1])

  def denoise(self, noisy01, sigma_255, tile=None, overlap=DEFAULT_OVERLAP):
    """float [H, W, C] on [0, 1] -> float32 [H, W, C] estimate.

    `tile`: None for one whole-image pass, else the side of overlapping
    tiles (see `rim_tf.tiling.apply_tiled`).
    """
    if not sigma_255 > 0:
      raise ValueError(f"sigma must be > 0 (on the 0-255 scale), got "
                       f"{sigma_255}.")
    run = functools.partial(self._denoise_whole, sigma_255=sigma_255)
    if tile is None:
      return run(noisy01)
    return tiling.apply_tiled(run, noisy01, tile, overlap,
                              align=self.model.shift_period)

  def _superres_whole(self, low01, scale):
    batch = self._as_model_batch(low01)
    shape = (batch.shape[1] * scale, batch.shape[2] * scale, batch.shape[3])
    key = (scale, shape)
    if key not in self._superres:
      operator = operators.BicubicDownsample(scale, shape)

      def run(low, operator=operator):
        sigma = tf.fill([tf.shape(low)[0]],
                        np.float32(self.superres_sigma_255 / 255.0))
        _, final = self.model(low, operator=operator, sigma=sigma,
                              steps=self.steps)
        return final

      self._superres[key] = tf.function(run)
    final = self._superres[key](tf.constant(batch))
    return self._from_model_batch(final, np.shape(low01)[-1])

  def superres(self, low01, scale, tile=None, overlap=DEFAULT_OVERLAP):
    """float LR [h, w, C] on [0, 1] -> float32 [s h, s w, C] (A = imresize(., 1/s)).

    `tile` and `overlap` are in low-resolution pixels (see `denoise`).
    """
    if int(scale) != scale or scale < 2:
      raise ValueError(f"scale must be an integer >= 2, got {scale!r}.")
    scale = int(scale)
    run = functools.partial(self._superres_whole, scale=scale)
    if tile is None:
      return run(low01)
    # The cell runs on the high-resolution grid: a tile's HR start,
    # scale * start, must be a multiple of the model's shift period.
    period = self.model.shift_period
    return tiling.apply_tiled(run, low01, tile, overlap, scale=scale,
                              align=period // math.gcd(period, scale))

  def superres_uint8(self, low_uint8, scale):
    """uint8 LR [h, w, C] -> uint8 [s h, s w, C], one whole-image pass."""
    low = np.asarray(low_uint8, np.float32) / 255.0
    return metrics.to_uint8(self.superres(low, scale))


# -- the Python API ----------------------------------------------------------


def default_weights(task, channels):
  """The shipped weights `restore` uses for `task` on a C-channel image.

  Raises:
    ValueError: no shipped RIM serves this task yet.
  """
  _check_task(task)
  shipped = pretrained.shipped()
  for name in DEFAULT_WEIGHTS[task][channels]:
    if name in shipped:
      return name
  raise ValueError(f"no shipped RIM for {task!r} yet (shipped: "
                   f"{', '.join(shipped) or 'none'}); pass weights=PATH to a "
                   f"RIM trained for it.")


def _check_task(task):
  if task not in TASKS:
    raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}.")


@functools.lru_cache(maxsize=4)
def load_restorer(weights, steps=None):
  """(Restorer, config) of `weights`, cached: repeated calls reuse the model."""
  return Restorer.from_weights(weights, steps)


def check_serves(config, task, weights):
  """Raises ValueError if a RIM trained for `config.task` cannot do `task`."""
  if config.task not in SERVING_TASKS[task]:
    raise ValueError(f"weights {weights} were trained for {config.task!r}, "
                     f"not for {task!r}.")


def as_float01(image):
  """(float32 [H, W, C] on [0, 1], dtype) of a uint8, uint16 or float image.

  [H, W] images get a channel axis. Floats must already be on [0, 1] (a
  noisy image may overshoot a little); a float image on [0, 255] is refused.
  """
  image = np.asarray(image)
  if image.ndim == 2:
    image = image[..., None]
  if image.ndim != 3 or image.shape[-1] not in (1, 3):
    raise ValueError(f"image must be gray [H, W] / [H, W, 1] or RGB "
                     f"[H, W, 3], got shape {np.shape(image)}.")
  if min(image.shape[:2]) < MIN_SIDE:
    raise ValueError(f"image is {image.shape[0]}x{image.shape[1]} pixels; "
                     f"a RIM needs at least {MIN_SIDE}x{MIN_SIDE} (its cell "
                     f"works at half resolution with 3x3 convolutions).")
  if image.dtype == np.uint8 or image.dtype == np.uint16:
    peak = np.iinfo(image.dtype).max
    return (image.astype(np.float64) / peak).astype(np.float32), image.dtype
  if not np.issubdtype(image.dtype, np.floating):
    raise ValueError(f"image must be uint8, uint16 or float on [0, 1], got "
                     f"dtype {image.dtype}.")
  if not np.all(np.isfinite(image)):
    raise ValueError("image has NaN or infinite values.")
  low, high = float(image.min()), float(image.max())
  if low < -1.0 or high > 2.0:
    raise ValueError(f"a float image must be on [0, 1] (noise may overshoot "
                     f"a little), got values in [{low:g}, {high:g}]; divide "
                     f"an 8-bit-scale image by 255.")
  return image.astype(np.float32), image.dtype


def from_float01(image01, dtype):
  """float [H, W, C] on [0, 1] -> `dtype` (integers: clipped and rounded)."""
  if dtype == np.uint8:
    return metrics.to_uint8(image01)
  if dtype == np.uint16:
    scaled = np.clip(np.asarray(image01, np.float64), 0.0, 1.0) * 65535.0
    return np.floor(scaled + 0.5).astype(np.uint16)
  return np.asarray(image01, np.float32)


def estimate_noise_255(image01):
  """Noise std of an image on the 0-255 scale (wavelet MAD, Donoho 1994)."""
  from skimage import restoration  # pylint: disable=g-import-not-at-top
  image01 = np.asarray(image01, np.float64)
  sigma = restoration.estimate_sigma(image01, channel_axis=-1,
                                     average_sigmas=True)
  return 255.0 * float(sigma)


def restore(image, task="denoise", sigma=None, scale=None, steps=None,
            weights=None, tile=DEFAULT_TILE, overlap=DEFAULT_OVERLAP):
  """Restores one image with a RIM.

  Args:
    image: gray [H, W] / [H, W, 1] or RGB [H, W, 3]; uint8, uint16, or float
      on [0, 1].
    task: "denoise" or "superres".
    sigma: denoising: noise std on the 0-255 scale (for 16-bit images too:
      255 is the full range); None estimates it (`estimate_noise_255`).
    scale: super-resolution factor (an integer > 1).
    steps: RIM steps T (default: the T the weights were trained with).
    weights: a shipped name or a .weights.h5 path (default: the shipped RIM
      for the task, `default_weights`).
    tile, overlap: tile side and minimum overlap in input pixels; images no
      larger than `tile` go through in one pass. None: always one pass.

  Returns:
    numpy array of the input's dtype: [H, W, C] for denoising,
    [scale H, scale W, C] for super-resolution ([H, W] in, [H, W] out).
  """
  _check_task(task)
  squeeze = np.ndim(image) == 2
  image01, dtype = as_float01(image)
  if task == "denoise":
    if scale is not None:
      raise ValueError("scale applies to task 'superres' only.")
    if sigma is None:
      sigma = estimate_noise_255(image01)
    if not sigma > 0:
      raise ValueError(f"sigma must be > 0 (on the 0-255 scale), got "
                       f"{sigma}.")
  elif scale is None or int(scale) != scale or scale < 2:
    raise ValueError(f"task 'superres' needs an integer scale >= 2, got "
                     f"{scale!r}.")
  weights = weights or default_weights(task, image01.shape[-1])
  restorer, config = load_restorer(str(weights), steps)
  check_serves(config, task, weights)
  if task == "denoise":
    out = restorer.denoise(image01, sigma, tile=tile, overlap=overlap)
  else:
    out = restorer.superres(image01, int(scale), tile=tile, overlap=overlap)
  out = from_float01(out, dtype)
  return out[..., 0] if squeeze else out
