"""The 3-task random-projection problem (paper section 4.4, Figure 2).
"""

import dataclasses

from rim_tf.data import corruptions
from rim_tf.operators import projections
from rim_tf.tasks import base


@dataclasses.dataclass(frozen=True)
class RandomProjections(base.Task):
  """The 3-task random-projection problem of paper section 4.4.

  Each batch draws one ensemble and one ratio p; the operator travels as an
  explicit [N, m', d] matrix, so one stream serves all of them.

  Args:
    kinds: ensembles, from "gaussian", "binary", "fourier".
    ratios: measurement ratios p = m / d.
    noise_sigma: noise std in measurement units (1 in the paper): Figure
      2's and the held-out curves', and training's unless
      `train_noise_sigma` is set.
    train_noise_sigma: () or a range (lo, hi): training draws each
      example's noise std from it (the paper does not state its training
      noise).
    train_noise_spacing: how that std is drawn: "linear" (uniformly) or
      "log" (log-uniformly, lo > 0: as much training at 1-2 as at 4-8).
    patch: patch side (32).
    normalize: ensembles scaled so that E[A^T A] = I (Gaussian N(0, 1/m),
      binary +-1/sqrt(m), rows of the unitary DFT), which makes denoising
      the p = 1 member of the family; False: unit entries, as shipped.
    start: the initial estimate of training and Figure 2, "flat" (the flat
      image that best explains y) or "adjoint" (A^T y clipped to [0, 1]);
      a RIM trained from "adjoint" denoises from the noisy image (A = I).
  """

  kinds: tuple = corruptions.PROJECTION_KINDS
  ratios: tuple = (0.1, 0.25, 0.5)
  noise_sigma: float = 1.0
  train_noise_sigma: tuple = ()
  train_noise_spacing: str = "linear"
  patch: int = 32
  normalize: bool = False
  start: str = "flat"

  name = "random_projections"
  # The 3-task RIM's; its ablations name their own.
  shipped = "random_projections"
  restores = "denoise"
  # Figure 2's curves; as a denoiser it never trained for, Table 2's
  # RIM-3task row.
  evaluation = base.Evaluation(protocol="projection_curves",
                               table_of="denoise", table_row="RIM-3task")
  # Its training T: from the flat start, 20 steps are best at sigma 15 and
  # 25 on training images and within 0.11 dB of the best at sigma 50
  # (docs/probes/rim3task_steps.py); earlier weights trained at T = 10
  # were best at 20 steps too.
  denoise_steps = 20

  @classmethod
  def preset_overrides(cls, preset, config):
    if preset == "cpu":
      # Three models (RIM, GDN, FFN) for one figure: 4 000 steps each (128 k
      # patches; RIM and GDN ~21, FFN 42-54 patches/s here,
      # docs/training.md), a budget rather than a measured optimum.
      return {"trainer.train_steps": 4000}
    return {}

  @classmethod
  def finetune_overrides(cls, config):
    # At the paper's T = 20 (the first stage's is 10), every step's loss as
    # before: 1 000 steps, a third of the first stage's peak rate.
    del config
    return {"trainer.rim_steps": 20, "trainer.train_steps": 1000,
            "trainer.learning_rate": 1e-3}

  def __post_init__(self):
    if self.train_noise_sigma:
      if not isinstance(self.train_noise_sigma, tuple):
        raise ValueError(f"train_noise_sigma must be () or a range (lo, hi), "
                         f"got {self.train_noise_sigma!r}.")
      try:
        corruptions.check_noise_sigma(self.train_noise_sigma)
      except ValueError as error:
        raise ValueError(f"train_noise_sigma: {error}") from None
    if self.train_noise_spacing not in corruptions.NOISE_SPACINGS:
      raise ValueError(f"train_noise_spacing must be one of "
                       f"{corruptions.NOISE_SPACINGS}, got "
                       f"{self.train_noise_spacing!r}.")
    if self.train_noise_spacing == "log" and not (
        self.train_noise_sigma and self.train_noise_sigma[0] > 0.0):
      raise ValueError(f"train_noise_spacing 'log' needs a train_noise_sigma "
                       f"range with lo > 0, got {self.train_noise_sigma!r}.")
    if self.start not in projections.STARTS:
      raise ValueError(f"start must be one of {projections.STARTS},"
                       f" got {self.start!r}.")

  @property
  def denoise_start(self):
    # Trained from the flat start, this RIM hardly moves from the noisy
    # image, where the likelihood gradient is zero; from the flat start it
    # denoises (docs/probes/rim3task_steps.py on training images;
    # docs/results.md, Table 2's RIM-3task row). Trained from A^T y, its
    # denoising start is A^T y = y.
    return "measurement" if self.start == "adjoint" else "flat"

  @property
  def channels(self):
    return 1

  def corruption(self, kinds=None, ratios=None, noise_sigma=None):
    """The training corruption; `kinds`, `ratios` and `noise_sigma` restrict
    it (Figure 2's one ensemble at one ratio at `self.noise_sigma`)."""
    spacing = "linear"
    if noise_sigma is None:
      noise_sigma = self.train_noise_sigma or self.noise_sigma
      spacing = self.train_noise_spacing
    return corruptions.RandomProjections(
        kinds or self.kinds, ratios or self.ratios, noise_sigma,
        normalize=self.normalize, noise_spacing=spacing)

  def operator(self, batch):
    return projections.MatrixProjection(
        batch["matrix"], tuple(batch["x"].shape[1:]), start=self.start)
