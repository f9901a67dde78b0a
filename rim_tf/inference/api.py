"""Restoring images with a trained RIM: the Python API behind `rim-restore`.

`restore(image, task=..., ...)` takes any uint8 / uint16 / float image and
returns the same dtype; the conversions, checks and defaults here serve it
and the command line. TensorFlow loads only when a RIM is (`load_restorer`,
the engine in `rim_tf.inference.engine`), so that the command line answers --help
and argument errors at once.
"""

import functools
import math
import numbers

import numpy as np

from rim_tf.inference import tiling
from rim_tf import metrics

# What `restore` does; a RIM serves the one its task `restores`.
TASKS = ("denoise", "superres", "deblur")
# The shipped weights each task uses by default, colour model first.
DEFAULT_WEIGHTS = {"denoise": {3: ("denoise_color", "denoise_gray"),
                               1: ("denoise_gray",)},
                   "superres": {3: ("superres",), 1: ("superres",)},
                   "deblur": {3: ("deblur",), 1: ("deblur",)}}
BOUNDARIES = ("circular", "replicate")  # `rim_tf.operators.blur.BOUNDARIES`
MAX_KERNEL = 31  # `rim_tf.operators.blur.MAX_KERNEL`
MIN_SIDE = 8
# Tasks whose sigma may be 0: a noise-free blurred image is still a problem
# (its RIM trains on sigma from 0), a noise-free noisy one is not.
SIGMA_ZERO_TASKS = ("deblur",)


# -- the Python API ----------------------------------------------------------


def default_weights(task, channels):
  """The shipped weights `restore` uses for `task` on a C-channel image.

  Raises:
    ValueError: no shipped RIM serves this task yet.
  """
  from rim_tf import pretrained  # pylint: disable=g-import-not-at-top
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
def load_restorer(weights, steps=None, fast=True):
  """(rim_tf.inference.engine.Restorer, config) of `weights`, cached:
  repeated calls reuse the model. `fast`: the fast path
  (`engine.Restorer.from_weights`), else the plain float32 Keras model."""
  from rim_tf.inference import engine  # pylint: disable=g-import-not-at-top
  return engine.Restorer.from_weights(weights, steps, fast=fast)


def check_serves(config, task, weights):
  """Raises ValueError if a RIM trained for `config.task` cannot do `task`
  (its task's `restores`: the 3-task random-projection RIM denoises too,
  the paper's "RIM-3task" row)."""
  from rim_tf import tasks  # pylint: disable=g-import-not-at-top
  if tasks.get(config.task).restores != task:
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
    # float32 division is exact to the float64 route for every uint8 and
    # uint16 value (checked), at half the memory of a large image.
    peak = np.float32(np.iinfo(image.dtype).max)
    return image.astype(np.float32) / peak, image.dtype
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
  return np.asarray(image, np.float32), image.dtype  # float32: no copy


def from_float01(image01, dtype):
  """float [H, W, C] on [0, 1] -> `dtype` (integers: clipped and rounded)."""
  if dtype == np.uint8:
    return metrics.to_uint8(image01)
  if dtype == np.uint16:
    scaled = np.clip(np.asarray(image01, np.float64), 0.0, 1.0) * 65535.0
    return np.floor(scaled + 0.5).astype(np.uint16)
  return np.asarray(image01, dtype)


def check_steps(steps):
  """`steps` as an int >= 1 (None stays None); ValueError for a count that
  is not a whole number."""
  if steps is None:
    return None
  if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
    raise ValueError(f"steps must be a whole number >= 1, got {steps!r}.")
  if steps < 1:
    raise ValueError(f"steps must be >= 1, got {steps}.")
  return int(steps)


def check_sigma(sigma, config=None, weights=None, task="denoise"):
  """`sigma` (0-255 scale) as a float; ValueError unless it is one finite
  number > 0 (>= 0 for the SIGMA_ZERO_TASKS) that the RIM of `config` can
  use (its task's `Task.usable_sigma_255`)."""
  zero_ok = task in SIGMA_ZERO_TASKS
  if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real):
    raise ValueError(f"sigma must be one number (the noise std on the "
                     f"0-255 scale), got {sigma!r}.")
  sigma = float(sigma)
  if not math.isfinite(sigma) or sigma < 0 or (sigma == 0 and not zero_ok):
    raise ValueError(f"sigma must be a finite number {'>=' if zero_ok else '>'}"
                     f" 0 (the noise std on the 0-255 scale), got {sigma:g}.")
  if config is not None:
    from rim_tf import tasks  # pylint: disable=g-import-not-at-top
    task = tasks.from_config(config)
    limit = task.usable_sigma_255
    if limit is not None and sigma > limit:
      low, high = task.sigma_range_255
      raise ValueError(
          f"sigma {sigma:g} is more than {weights or 'this RIM'} can use: it "
          f"was trained on noise of sigma {low:g}-{high:g} (0-255 scale) "
          f"and restores up to {limit:g}.")
  return sigma


def check_scale(scale, config=None, weights=None):
  """`scale` as an int; ValueError unless it is an integer >= 2 that the
  RIM of `config` was trained for (its task's `Task.usable_scales`)."""
  if (isinstance(scale, bool) or not isinstance(scale, numbers.Integral)
      or scale < 2):
    raise ValueError(f"scale must be an integer >= 2, got {scale!r}.")
  if config is not None:
    from rim_tf import tasks  # pylint: disable=g-import-not-at-top
    usable = tasks.from_config(config).usable_scales
    if usable is not None and scale not in usable:
      raise ValueError(
          f"scale {scale} is not one {weights or 'this RIM'} was trained "
          f"for ({', '.join(map(str, usable))}).")
  return int(scale)


def check_kernel(kernel, image_shape=None):
  """`kernel` as float32 [kh, kw] summing to 1; ValueError (one line)
  unless it is one 2-D blur kernel (odd sides of at most MAX_KERNEL, finite,
  non-negative, summing to 1 within 1 %, no larger than the image)."""
  try:
    array = np.asarray(kernel)
  except (TypeError, ValueError):
    raise ValueError(f"kernel must be a 2-D array, got {kernel!r}.") from None
  if not (np.issubdtype(array.dtype, np.floating) or
          np.issubdtype(array.dtype, np.integer)) or array.dtype == bool:
    raise ValueError(f"kernel must be numeric, got dtype {array.dtype}.")
  if array.ndim != 2:
    raise ValueError(f"kernel must be 2-D [kh, kw] (one kernel blurs every "
                     f"channel alike), got shape {array.shape}.")
  height, width = array.shape
  if height % 2 == 0 or width % 2 == 0 or max(height, width) > MAX_KERNEL:
    raise ValueError(f"kernel must have odd sides of at most {MAX_KERNEL} "
                     f"(its centre is a pixel), got {height}x{width}.")
  array = array.astype(np.float64)
  if not np.isfinite(array).all():
    raise ValueError("kernel has NaN or infinite entries.")
  if array.min() < 0:
    raise ValueError(f"kernel has negative entries (min {array.min():g}); a "
                     f"blur kernel is non-negative.")
  total = array.sum()
  if total <= 0:
    raise ValueError("kernel is all zero.")
  if abs(total - 1.0) > 0.01:
    raise ValueError(f"kernel sums to {total:g}; a blur kernel sums to 1 "
                     f"(divide it by its sum).")
  if image_shape is not None and (height > image_shape[0] or
                                  width > image_shape[1]):
    raise ValueError(f"the kernel ({height}x{width}) is larger than the "
                     f"image ({image_shape[0]}x{image_shape[1]}).")
  return (array / total).astype(np.float32)


def estimate_noise_255(image01):
  """Noise std of an image on the 0-255 scale (wavelet MAD, Donoho 1994)."""
  from skimage import restoration  # pylint: disable=g-import-not-at-top
  image01 = np.asarray(image01, np.float64)
  sigma = restoration.estimate_sigma(image01, channel_axis=-1,
                                     average_sigmas=True)
  return 255.0 * float(sigma)


def restore(image, task="denoise", sigma=None, scale=None, steps=None,
            weights=None, tile=tiling.DEFAULT_TILE,
            overlap=tiling.DEFAULT_OVERLAP, log=None, progress=None,
            kernel=None, boundary="circular", fast=True):
  """Restores one image with a RIM.

  Args:
    image: gray [H, W] / [H, W, 1] or RGB [H, W, 3]; uint8, uint16, or float
      on [0, 1].
    task: "denoise", "superres" or "deblur".
    sigma: denoising and deblurring: noise std on the 0-255 scale (for
      16-bit images too: 255 is the full range); None estimates it
      (`estimate_noise_255`). Deblurring accepts 0 (no noise but 8-bit
      rounding).
    scale: super-resolution factor (an integer > 1).
    steps: RIM steps T (default: the weights' own, `Restorer.from_weights`).
    weights: a shipped name or a .weights.h5 path (default: the shipped RIM
      for the task, `default_weights`).
    tile, overlap: tile side and minimum overlap in input pixels; images no
      larger than `tile` go through in one pass. None: always one pass.
      Deblurring is always one pass (the blur reaches across tiles).
    log: optional callable(str) told what was chosen for the user (an
      estimated sigma, colour channels through a gray RIM).
    progress: optional callable(done, total) told after each tile.
    kernel: deblurring: the blur kernel, float [kh, kw] with odd sides
      (centre at kernel.shape // 2) summing to 1 (`check_kernel`).
    boundary: deblurring: how the blur treats the image's border, one of
      BOUNDARIES ("circular" wraps around, as the benchmarks do;
      "replicate" repeats the edge pixels, closer to a photograph).
    fast: the fast path: the RIM in its fused form
      (`rim_tf.inference.fused`), its convolutions in bfloat16 where the
      hardware computes it natively (`engine.fast_policy`); False runs the
      plain float32 Keras model.

  Returns:
    numpy array of the input's dtype: [H, W, C] for denoising and
    deblurring, [scale H, scale W, C] for super-resolution ([H, W] in,
    [H, W] out).

  Example:

  >>> import numpy as np
  >>> import rim_tf
  >>> rng = np.random.default_rng(0)
  >>> clean = np.tile(np.linspace(0.2, 0.8, 48), (40, 1))
  >>> noisy = clean + 25 / 255 * rng.standard_normal(clean.shape)
  >>> restored = rim_tf.restore(noisy, task="denoise", sigma=25)
  >>> restored.shape, restored.dtype
  ((40, 48), dtype('float64'))
  >>> error = lambda x: float(np.sqrt(np.mean((x - clean) ** 2)))
  >>> error(restored) < error(noisy) / 3
  True
  """
  _check_task(task)
  steps = check_steps(steps)
  squeeze = np.ndim(image) == 2
  image01, dtype = as_float01(image)
  if scale is not None and task != "superres":
    raise ValueError("scale applies to task 'superres' only.")
  if task != "deblur" and (kernel is not None or boundary != "circular"):
    raise ValueError("kernel and boundary apply to task 'deblur' only.")
  if task == "superres":
    if sigma is not None:
      raise ValueError("sigma applies to tasks 'denoise' and 'deblur' only: "
                       "a super-resolution RIM assumes the noise it was "
                       "trained with.")
    scale = check_scale(scale)
  elif sigma is not None:
    sigma = check_sigma(sigma, task=task)
  if task == "deblur":
    if kernel is None:
      raise ValueError("task 'deblur' needs the blur kernel (kernel=...).")
    kernel = check_kernel(kernel, image01.shape)
    if boundary not in BOUNDARIES:
      raise ValueError(f"boundary must be one of {BOUNDARIES}, got "
                       f"{boundary!r}.")
  weights = weights or default_weights(task, image01.shape[-1])
  restorer, config = load_restorer(str(weights), steps, bool(fast))
  check_serves(config, task, weights)
  if task == "superres":
    scale = check_scale(scale, config, weights)
  else:
    if sigma is None:
      sigma = estimate_noise_255(image01)
      if log:
        log(f"no sigma given; estimated noise sigma {sigma:.2f} (0-255 "
            f"scale).")
    sigma = check_sigma(sigma, config, weights, task)
  if log and restorer.channels == 1 and image01.shape[-1] == 3:
    if task == "superres":
      how = "super-resolving the luma with"
    elif restorer.model.cell.channel_context:
      how = ("restoring the three channels of an opponent colour space "
             "together, each knowing the others, with")
    elif restorer.color_space == "opponent":
      how = "restoring the channels of an opponent colour space one by one with"
    else:
      how = "restoring the RGB channels one by one with"
    log(f"{how} the gray RIM {weights}" + (
        ", the chroma bicubically." if task == "superres" else "."))
  if (log and task == "denoise" and
      config.task_args.get("quantization_flag")):
    flag = float(np.asarray(restorer.condition_of(image01[None]))[0, 0])
    log("the input is " + ("on the 8-bit grid: restoring it as 8-bit "
                           "quantized." if flag else
                           "off the 8-bit grid: restoring it as unclipped "
                           "noise."))
  if task == "denoise":
    out = restorer.denoise(image01, sigma, tile=tile, overlap=overlap,
                           progress=progress)
  elif task == "deblur":
    out = restorer.deblur(image01, kernel, sigma, boundary)
  else:
    out = restorer.superres(image01, scale, tile=tile, overlap=overlap,
                            progress=progress)
  out = from_float01(out, dtype)
  return out[..., 0] if squeeze else out
