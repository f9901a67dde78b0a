"""Non-blind deblurring: y = k * x + n with the kernel k known.

Not a problem of the paper's tables, but one it names (deconvolution) and
the one users of restoration toolkits ask for most after denoising. A RIM
trains on random motion and Gaussian kernels (`rim_tf.data.kernels`) and is
measured on Levin et al.'s eight motion kernels, which it never sees.
"""

import dataclasses

from rim_tf.data import corruptions
from rim_tf import operators
from rim_tf.tasks import base


@dataclasses.dataclass(frozen=True)
class Deblur(base.Task):
  """Gray (or colour) deblurring with a known kernel, one model for all
  kernels up to `kernel_size` and a noise range.

  Args:
    patch: training patch side; large enough for the kernels.
    kernel_size: side of the training kernels' frame (odd).
    sigma_range_255: training noise std range on the [0, 255] scale.
    motion_fraction: share of motion kernels (the rest Gaussian).
    quantize: train on 8-bit quantized blurred images (the benchmark's
      input).
    boundary: the blur's boundary, `rim_tf.operators.blur.BOUNDARIES`.
    start: where the estimates start, `rim_tf.operators.blur.STARTS`: the
      blurred image, or its Wiener deconvolution.
    color: RGB instead of gray.
  """

  patch: int = 64
  kernel_size: int = 25
  sigma_range_255: tuple = (0.0, 12.75)
  motion_fraction: float = 0.75
  quantize: bool = True
  boundary: str = "circular"
  start: str = "measurement"
  color: bool = False

  name = "deblur"
  shipped = "deblur"
  restores = "deblur"
  evaluation = base.Evaluation(
      protocol="deblurring", gray=True,
      baselines={"bm3d": ("BM3D-deblur", "bm3d_deblur"),
                 "wiener": ("Wiener", "wiener_deblur")})

  def __post_init__(self):
    self.corruption().check_patch_shape((self.patch, self.patch,
                                         self.channels))

  @property
  def deblur_start(self):
    return self.start

  @property
  def channels(self):
    return 3 if self.color else 1

  @property
  def usable_sigma_255(self):
    return base.usable_noise_255(self.sigma_range_255)

  def corruption(self):
    return corruptions.Blurring(self.kernel_size, self.sigma_range_255,
                                self.motion_fraction, self.quantize,
                                self.boundary)

  def operator(self, batch):
    return operators.Blur(batch["kernel"], (None, None, self.channels),
                          self.boundary, start=self.start,
                          sigma=batch["sigma"])

  @classmethod
  def preset_overrides(cls, preset, config):
    if preset == "cpu":
      # The gray denoiser's cell as the start (the same architecture: a
      # RIM that already knows images), patches of 64 for kernels up to 25
      # at the cpu preset's pixels per step. Not the denoiser's eps: it is
      # a noise floor of about 12/255 that tempers the blur's data term
      # (2.3 dB lower at sigma 2.55 after 500 steps, docs/results.md).
      # The Wiener start trains better than the blurred image.
      return {"trainer.init_weights": "denoise_gray",
              "trainer.init_keep_likelihood": False,
              "model.epsilon_init": 1e-4,
              "task_args.start": "wiener",
              "data.batch_size": config.data.batch_size // 4,
              "trainer.train_steps": 8000}
    if preset == "smoke":
      return {"task_args.patch": 32, "task_args.kernel_size": 9}
    return {}
