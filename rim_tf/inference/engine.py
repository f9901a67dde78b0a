"""The RIM restoration engine: whole-image and tiled passes of a trained RIM.

`Restorer` runs a RIM on float32 images [H, W, C] on [0, 1], in one pass or
in overlapping tiles (`rim_tf.inference.tiling`); the evaluation, the figures and
`rim-restore` (through `rim_tf.inference.api`) all use it.
"""

import functools
import math

import numpy as np
import tensorflow as tf

from rim_tf.data import colour
from rim_tf.data import kernels as blur_kernels
from rim_tf.inference import fused as fused_rim
from rim_tf.inference import tiling
from rim_tf import metrics
from rim_tf import operators
from rim_tf.operators import blur
from rim_tf import precision
from rim_tf import pretrained
from rim_tf import tasks



def fast_policy():
  """The dtype policy of the fast path of `rim_tf.restore` and
  `rim-restore`: "mixed_bfloat16" (the cell's convolutions in bfloat16:
  1.7x faster on a CPU with AVX-512 BF16 at the same PSNR to 0.001 dB on a
  BSD68 image at sigma 25, `experiments/benchmarks/inference_speed.py`)
  where the hardware computes bfloat16 natively, else "float32"
  (`rim_tf.precision`)."""
  return precision.policy(True)

_LUMA_LOW = metrics.Y_RANGE_01[0]
_LUMA_RANGE = metrics.Y_RANGE_01[1] - metrics.Y_RANGE_01[0]


class Restorer:
  """A RIM that restores whole images, compiled once per input shape.

  A gray RIM denoises a colour image channel by channel, one channel at a
  time, or (a cell with a channel context, `rim_tf.layers`) the three
  channels of its opponent colour space as one batch; it super-resolves a
  colour image's luma (see `superres`).

  Args:
    model: a `rim_tf.model.RIM`.
    steps: T at test time.
    superres_sigma_255: the noise level the super-resolution model was
      trained with (its likelihood's sigma at test time).
    denoise_start: where denoising starts, one of
      `rim_tf.operators.identity.STARTS` (its training task's
      `denoise_start`).
    deblur_start: where deblurring starts, one of
      `rim_tf.operators.blur.STARTS` (its task's `deblur_start`).
    jit_compile: compile the passes with XLA.
    fused: run the model as a `rim_tf.inference.fused.FusedRIM` (the same
      function in fewer operations; a snapshot of its weights) where the
      cell allows, else as the Keras model.
    color_space: how a gray model denoises an RGB image (its task's
      `color_space`): "rgb", R, G and B one by one, or "opponent", each
      channel of `rim_tf.data.colour`'s space with its own noise std (a
      model with a channel context: "opponent" only).
    condition_of: for a cell that reads a condition, the function of the
      noisy images [N, H, W, C] that computes it ([N, m], its task's
      `condition_of`); read off the whole image, before any tiling.
  """

  def __init__(self, model, steps, superres_sigma_255=0.0,
               denoise_start="measurement", jit_compile=False,
               deblur_start="measurement", fused=False, color_space="rgb",
               condition_of=None):
    if color_space not in colour.SPACES:
      raise ValueError(f"color_space must be {colour.SPACE_NAMES}, got "
                       f"{color_space!r}.")
    if model.cell.channel_context and color_space != "opponent":
      raise ValueError(
          f"a RIM with a channel context restores the channels of the "
          f"opponent colour space together: color_space must be "
          f"'opponent', got {color_space!r}.")
    if bool(model.cell.condition_channels) != (condition_of is not None):
      raise ValueError(
          f"the RIM's cell reads {model.cell.condition_channels} condition "
          f"value(s) per image: condition_of must "
          + ("compute them." if model.cell.condition_channels else
             "be None."))
    self.model = model
    self.color_space = color_space
    self.condition_of = condition_of
    self.fused = (fused_rim.FusedRIM(model)
                  if fused and fused_rim.supports(model) else None)
    self.steps = int(steps)
    if self.steps < 1:
      raise ValueError(f"steps must be >= 1, got {steps}.")
    self.superres_sigma_255 = float(superres_sigma_255)
    self.denoise_operator = operators.Identity(
        (None, None, model.channels), denoise_start)
    self.deblur_start = deblur_start
    self._jit_compile = bool(jit_compile) or None
    # One graph for every image size (a folder of mixed sizes neither
    # retraces nor warns); the cell pads odd sizes itself.
    self._denoise = tf.function(
        self._denoise_graph, jit_compile=self._jit_compile,
        input_signature=[
            tf.TensorSpec([None, None, None, model.channels], tf.float32),
            tf.TensorSpec([None], tf.float32),
            tf.TensorSpec([None, model.cell.condition_channels],
                          tf.float32)])
    # One super-resolution graph per scale, for every image size.
    self._superres = {}
    # One deblurring graph per boundary, for every image size and kernel
    # (kernels are centred in one frame: FFT blur costs the same).
    self._deblur = {}

  @classmethod
  def from_weights(cls, weights, steps=None, *, fast=False):
    """(Restorer, config) of exported weights (shipped name or path).

    `steps` (None) defaults to the weights' task's `denoise_steps`, else
    the T they were trained with; denoising starts where their task says
    (`Task.denoise_start`). `fast`: the fast path of `rim_tf.restore`, the
    cell in `fast_policy()` and fused (`rim_tf.inference.fused`); else the
    plain float32 Keras model. The likelihood and the estimates are float32
    either way.
    """
    model, config = pretrained.load(weights,
                                    fast_policy() if fast else "float32")
    task = tasks.from_config(config)
    if steps is None:
      steps = task.denoise_steps or config.trainer.rim_steps
    return cls(model, steps, task.likelihood_sigma_255,
               task.denoise_start,
               deblur_start=task.deblur_start, fused=fast,
               color_space=task.color_space,
               condition_of=(task.condition_of if task.condition_channels
                             else None)), config

  @property
  def channels(self):
    return self.model.channels

  def _final(self, y, operator, sigma, condition=None):
    """x_T of the measurement y, fused where the Restorer was made so."""
    if self.fused is not None:
      # In a graph loop: a tenth of the graph to build, as fast to run.
      return self.fused.final_estimate(y, operator, sigma, self.steps,
                                       loop=True, condition=condition)
    _, final = self.model(y, operator=operator, sigma=sigma,
                          steps=self.steps, condition=condition)
    return final

  def _denoise_graph(self, noisy, sigma, condition):
    # Without condition channels, `condition` is [N, 0]: the cell reads none.
    return self._final(noisy, self.denoise_operator, sigma,
                       condition if self.model.cell.condition_channels
                       else None)

  def _through_model(self, run, image):
    """run(float32 [1, H, W, C_model]) -> [1, H', W', C_model] on `image`
    [H, W, C]: whole when C is the model's, else (a gray model) one channel
    at a time, so only one channel's activations are ever in memory."""
    image = np.asarray(image, np.float32)
    if self.model.cell.channel_context:
      # Its batches must hold whole RGB images (`_denoise_whole`).
      raise ValueError(
          f"this RIM denoises RGB images only (their three opponent "
          f"channels together, as it was trained); got a "
          f"{image.shape[-1]}-channel image.")
    if image.shape[-1] == self.model.channels:
      return np.asarray(run(image[None]))[0]
    if self.model.channels == 1:
      return np.concatenate([np.asarray(run(image[None, ..., c:c + 1]))[0]
                             for c in range(image.shape[-1])], axis=-1)
    raise ValueError(f"a {self.model.channels}-channel RIM cannot restore a "
                     f"{image.shape[-1]}-channel image.")

  def _denoise_whole(self, noisy01, sigma_255, condition):
    """`denoise` of a whole image (or tile); `condition` [1, m], the
    image's (`condition_of`), held by every example made of it."""
    if (self.color_space == "opponent" and self.model.channels == 1 and
        np.shape(noisy01)[-1] == 3):
      # White RGB noise stays white there, its std scaled per channel.
      # Clipped: three estimates on (0, 1) can map outside the RGB cube.
      channels = colour.to_opponent(noisy01)
      if self.model.cell.channel_context:
        # The three channels in one batch, as the cell reads them.
        sigmas = tf.constant(sigma_255 / 255.0 * colour.NOISE_GAIN)
        batch = colour.channels_to_batch(tf.constant(channels[None]))
        restored = colour.batch_to_channels(self._denoise(
            batch, sigmas, tf.repeat(condition, 3, axis=0)))
        return np.clip(colour.from_opponent(np.asarray(restored)[0]), 0.0,
                       1.0)
      return np.clip(colour.from_opponent(np.stack([
          self._denoise_whole(channels[..., c:c + 1],
                              sigma_255 * float(colour.NOISE_GAIN[c]),
                              condition)[..., 0]
          for c in range(3)], axis=-1)), 0.0, 1.0)
    sigma = tf.constant([sigma_255 / 255.0], tf.float32)
    return self._through_model(
        lambda batch: self._denoise(tf.constant(batch), sigma, condition),
        noisy01)

  def denoise(self, noisy01, sigma_255, tile=None,
              overlap=tiling.DEFAULT_OVERLAP, progress=None):
    """float [H, W, C] on [0, 1] -> float32 [H, W, C] estimate.

    `tile`: None for one whole-image pass, else the side of overlapping
    tiles (see `rim_tf.inference.tiling.apply_tiled`, also for
    `progress`); from a flat start (`denoise_start`) each tile starts at
    its own mean.
    """
    if not sigma_255 > 0:
      raise ValueError(f"sigma must be > 0 (on the 0-255 scale), got "
                       f"{sigma_255}.")
    noisy01 = np.asarray(noisy01, np.float32)
    condition = tf.zeros([1, 0])
    if self.condition_of is not None:
      condition = tf.reshape(tf.cast(self.condition_of(noisy01[None]),
                                     tf.float32),
                             [1, self.model.cell.condition_channels])
    run = functools.partial(self._denoise_whole, sigma_255=sigma_255,
                            condition=condition)
    if tile is None:
      return run(noisy01)
    return tiling.apply_tiled(run, noisy01, tile, overlap,
                              align=self.model.shift_period,
                              progress=progress)

  def _superres_whole(self, low01, scale, sigma_gain=1.0):
    if scale not in self._superres:
      # The operator of any size (HR = scale x LR): one graph per scale.
      operator = operators.BicubicDownsample(
          scale, (None, None, self.model.channels))

      def run(low, sigma, operator=operator):
        return self._final(low, operator, sigma)

      self._superres[scale] = tf.function(
          run, jit_compile=self._jit_compile, input_signature=[
              tf.TensorSpec([None, None, None, self.model.channels],
                            tf.float32),
              tf.TensorSpec([None], tf.float32)])
    sigma = tf.constant([sigma_gain * self.superres_sigma_255 / 255.0],
                        tf.float32)
    return self._through_model(
        lambda batch: self._superres[scale](tf.constant(batch), sigma),
        low01)

  def superres(self, low01, scale, tile=None,
               overlap=tiling.DEFAULT_OVERLAP, progress=None):
    """float LR [h, w, C] on [0, 1] -> float32 [s h, s w, C], A = imresize(., 1/s).

    A gray RIM given an RGB image super-resolves its luma (the Y of MATLAB's
    YCbCr, the channel the Huang et al. protocol scores) and upsamples the
    chroma bicubically, as SRCNN and Huang et al. do: one RIM pass, not
    three. `tile` and `overlap` are in low-resolution pixels (see `denoise`).
    """
    if int(scale) != scale or scale < 2:
      raise ValueError(f"scale must be an integer >= 2, got {scale!r}.")
    scale = int(scale)
    low01 = np.asarray(low01, np.float32)
    if self.model.channels == 1 and low01.ndim == 3 and low01.shape[-1] == 3:
      ycbcr = metrics.rgb2ycbcr01(low01)
      # Y spans [16, 235] / 255, the gray training images all of [0, 1]:
      # the RIM sees Y stretched to [0, 1]. The map is affine and bicubic
      # weights sum to 1, so it commutes with A; the noise level stretches
      # alike.
      luma = (ycbcr[..., :1] - _LUMA_LOW) / _LUMA_RANGE
      luma = self._superres_channels(luma.astype(np.float32), scale, tile,
                                     overlap, sigma_gain=1.0 / _LUMA_RANGE,
                                     progress=progress)
      chroma = operators.imresize(ycbcr[..., 1:], scale)
      rgb = metrics.ycbcr2rgb01(np.concatenate(
          [_LUMA_LOW + _LUMA_RANGE * luma, chroma], axis=-1))
      return np.clip(rgb, 0.0, 1.0).astype(np.float32)
    return self._superres_channels(low01, scale, tile, overlap,
                                   progress=progress)

  def _superres_channels(self, low01, scale, tile, overlap, sigma_gain=1.0,
                         progress=None):
    """`superres` of float32 [h, w, C] with the RIM on every channel; the
    likelihood's sigma is the training noise level times `sigma_gain`."""
    run = functools.partial(self._superres_whole, scale=scale,
                            sigma_gain=sigma_gain)
    if tile is None:
      return run(low01)
    # The cell runs on the high-resolution grid: a tile's HR start,
    # scale * start, must be a multiple of the model's shift period.
    period = self.model.shift_period
    return tiling.apply_tiled(run, low01, tile, overlap, scale=scale,
                              align=period // math.gcd(period, scale),
                              progress=progress)

  def _deblur_graph(self, boundary, kernel_shape):
    key = (boundary, tuple(kernel_shape))
    if key not in self._deblur:
      def run(blurred, kernel, sigma):
        operator = operators.Blur(kernel, (None, None, self.model.channels),
                                  boundary, start=self.deblur_start,
                                  sigma=sigma)
        return self._final(blurred, operator, sigma)
      self._deblur[key] = tf.function(
          run, jit_compile=self._jit_compile, input_signature=[
              tf.TensorSpec([None, None, None, self.model.channels],
                            tf.float32),
              tf.TensorSpec(kernel_shape, tf.float32),
              tf.TensorSpec([None], tf.float32)])
    return self._deblur[key]

  def deblur(self, blurred01, kernel, sigma_255, boundary="circular"):
    """float [H, W, C] on [0, 1] blurred by `kernel` (float [kh, kw], odd
    sides, centre at kernel.shape // 2) with noise of std `sigma_255` ->
    float32 [H, W, C] estimate. `boundary`: the blur's, one of
    `rim_tf.operators.blur.BOUNDARIES`. One whole-image pass: the blur
    reaches across any tile border.
    """
    if boundary not in blur.BOUNDARIES:
      raise ValueError(f"boundary must be one of {blur.BOUNDARIES}, got "
                       f"{boundary!r}.")
    kernel = blur.check_kernel(kernel).numpy()
    height, width = np.shape(blurred01)[:2]
    if kernel.shape[0] > height or kernel.shape[1] > width:
      raise ValueError(f"the kernel ({kernel.shape[0]}x{kernel.shape[1]}) is "
                       f"larger than the image ({height}x{width}).")
    kernel = blur_kernels.embed(kernel, blur.MAX_KERNEL)
    sigma = tf.constant([sigma_255 / 255.0], tf.float32)
    run = self._deblur_graph(boundary, kernel.shape)
    return self._through_model(
        lambda batch: run(tf.constant(batch), tf.constant(kernel), sigma),
        blurred01)

  def superres_uint8(self, low_uint8, scale):
    """uint8 LR [h, w, C] -> uint8 [s h, s w, C], one whole-image pass."""
    low = np.asarray(low_uint8, np.float32) / 255.0
    return metrics.to_uint8(self.superres(low, scale))
