"""The Task: what one inverse problem brings to training, evaluation and inference.

A task turns a training batch (from `rim_tf.data.PatchDataset` with the
task's corruption) into the operator the RIM needs, builds the RIM for its
images, says which input streams the trainer alternates between, and how a
RIM trained on it restores an image. The trainer, the evaluation and the
restoration code only drive tasks; they know no problem by name.
"""

import abc
import dataclasses

import tensorflow as tf

from rim_tf import data as rim_data
from rim_tf import metrics
from rim_tf import model as rim_model


@dataclasses.dataclass(frozen=True)
class Evaluation:
  """How RIMs of a task are scored: the protocol of its paper table.

  Args:
    protocol: the protocol of `rim_tf.evaluation.protocols` that scores it:
      "denoising" (noisy full images), "superres" (Huang et al.'s protocol
      on Y), "projection_curves" (Figure 2's PSNR per RIM step on test
      patches) or "measurements" (the task's own measurements of the test
      images, any task).
    gray: gray (True) or RGB test images.
    baselines: {method flag: (name in the tables, function of
      `rim_tf.baselines`)}, the classical methods scored beside a RIM.
    subsets: the test sets of the task's table ("bsd68", "bsd100").
    options: the protocol's keyword arguments of the table (e.g. the
      noise levels), beyond its defaults.
    paper: the paper's PSNRs, {subset: {row: {setting: dB}}}.
    paper_ssim: the paper's SSIMs, same layout.
    paper_rim: the paper's row of the RIM trained for the task.
    paper_bars: rows a RIM is compared with before the paper's RIM.
    published: other papers' PSNRs on the same protocol, same layout as
      `paper`, shown beside ours when a run scores one of their settings.
    published_sources: {row of `published`: where it was printed}.
    table_of: the task whose table a RIM of this one is scored in when it
      has none of its own (the 3-task RIM denoises: Table 2), with
      `table_row` its row there; None for the task's own.
  """

  protocol: str
  gray: bool = True
  baselines: dict = dataclasses.field(default_factory=dict)
  subsets: tuple = ("bsd68", "bsd100")
  options: dict = dataclasses.field(default_factory=dict)
  paper: dict = dataclasses.field(default_factory=dict)
  paper_ssim: dict = dataclasses.field(default_factory=dict)
  paper_rim: str | None = None
  paper_bars: tuple = ()
  published: dict = dataclasses.field(default_factory=dict)
  published_sources: dict = dataclasses.field(default_factory=dict)
  table_of: str | None = None
  table_row: str | None = None

  def paper_rows(self, subset, metric="psnr"):
    """{row: {setting: value}} of the paper on `subset` ("psnr", "ssim")."""
    return (self.paper if metric == "psnr" else self.paper_ssim).get(
        subset, {})


def usable_noise_255(sigma_range_255):
  """The largest noise std (0-255 scale) a RIM trained on `sigma_range_255`
  restores: half again the largest training noise. Past that it
  extrapolates far and returns images worse than their input."""
  return 1.5 * max(sigma_range_255)


class Task(abc.ABC):
  """What every problem provides.

  Attributes:
    name: registry key.
    channels: C of the model's images (1 gray, 3 RGB).
    patch_size: side of the training patches.
    denoise_start: where a RIM trained on this task starts when it
      denoises, one of `rim_tf.operators.identity.STARTS`: from the noisy
      image ("measurement"), or from a flat image ("flat") if its training
      estimates always started flat.
    denoise_steps: T when a RIM trained on this task denoises; None for
      the T it was trained with.
    deblur_start: where a RIM trained on this task starts when it
      deblurs, one of `rim_tf.operators.blur.STARTS`.
    shipped: the name of the shipped weights trained for this task (the
      cpu recipe's second stage starts from them), None if none.
    restores: what a RIM trained on this task does for `rim_tf.restore`
      ("denoise", "superres"), None if nothing.
    evaluation: its `Evaluation`.
    likelihood_sigma_255: the noise std (0-255 scale) a RIM of this task
      assumes for an input that comes without one (super-resolution: its
      training noise).
    image_channels: C of the task's images, which may differ from the
      model's `channels` (a gray RIM restoring colour images channel by
      channel).
    color_space: how a gray RIM of this task restores an RGB image: "rgb"
      (R, G and B one by one) or "opponent" (the channels of
      `rim_tf.data.colour`, each with its own noise std).
    channel_context: the cell's `channel_context` (`rim_tf.layers`): 0, or
      k when a gray RIM restores the k channels of each image together,
      each reading the others' estimates.
    condition_channels: the cell's `condition_channels`: m values per
      example the cell reads beside y and sigma (`condition`,
      `condition_of`); 0 for none.

  Example: a registered task and the RIM of its config (write your own:
  `docs/own_operator.md`):

  >>> from rim_tf import configs, tasks
  >>> config = configs.preset("smoke", "superres")
  >>> task = tasks.from_config(config)
  >>> task.name, task.channels, task.restores
  ('superres', 1, 'superres')
  >>> rim = task.build_model(config)
  >>> rim.num_steps == config.trainer.rim_steps
  True
  """

  name = None
  shipped = None
  restores = None
  # Without a table of its own, a task is scored on its own measurements
  # of the test images (`rim_tf.evaluation.protocols.evaluate_measurements`).
  evaluation = Evaluation(protocol="measurements")
  denoise_start = "measurement"
  deblur_start = "measurement"
  denoise_steps = None
  color_space = "rgb"
  channel_context = 0
  condition_channels = 0

  @property
  @abc.abstractmethod
  def channels(self):
    """C of the model's images (see `image_channels`)."""

  @property
  def image_channels(self):
    """C of the task's images (the model's `channels` unless a task says
    otherwise)."""
    return self.channels

  @classmethod
  def preset_overrides(cls, preset, config):
    """Dotted config overrides (`rim_tf.configs.override`) that this task
    applies on top of the named preset's `config` ("paper", "cpu",
    "cpu_finetune", "smoke"); {} by default."""
    del preset, config
    return {}

  @classmethod
  def recipe_search(cls):
    """(overrides of the cpu preset, default candidate names) of the recipe
    search for this task (`rim_tf.training.recipe_search`): by default no
    weight average (a short run's average lags its weights) and no default
    candidates."""
    return {"trainer.average_decay": 0.0}, ()

  def held_out_conditions(self, sigmas=None):
    """{score name: corruption} of fixed held-out conditions that compare
    runs trained on different distributions; {} (the task's own
    validation streams) by default."""
    if sigmas is not None:
      raise ValueError(f"sigmas score denoisers; a {self.name!r} run is "
                       f"scored on its own validation streams.")
    return {}

  @classmethod
  def finetune_overrides(cls, config):
    """The cpu recipe's second stage as overrides of the cpu preset's
    `config`: by default the final estimate only is trained, each example's
    error weighed by its inverse (the batch's mean PSNR), on patches of
    twice the side (batch / 4: the same pixels per step), at a lower rate.
    Measured on the gray denoiser, which it took above BM3D at every sigma
    (docs/training.md)."""
    return {"trainer.train_steps": 3000, "trainer.learning_rate": 2e-4,
            "trainer.loss_step_weights": "final",
            "trainer.loss_example_weights": "inverse_mse",
            "trainer.average_decay": 0.995,
            "task_args.patch": 2 * cls().patch,
            "data.batch_size": config.data.batch_size // 4}

  @property
  def likelihood_sigma_255(self):
    return 0.0

  @property
  def usable_sigma_255(self):
    """The largest noise std (0-255 scale) a RIM of this task restores, or
    None for no bound beyond the image's range."""
    return None

  @property
  def usable_scales(self):
    """The upscaling factors a RIM of this task restores, or None if it
    takes none."""
    return None

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

  def scored(self, images):
    """The model's images [M, H, W, C] as the task scores them, [N, H, W,
    C_image]: the loss, the training PSNR and the held-out PSNR compare
    these (the model's own images by default)."""
    return images

  def scored_steps(self, estimates):
    """`scored` of each step's estimate, [T, M, ...] -> [T, N, ...] (the T
    batches scored as one: `scored` maps groups of consecutive examples)."""
    steps = estimates.shape[0]
    scored = self.scored(tf.reshape(
        estimates, tf.concat([[-1], tf.shape(estimates)[2:]], 0)))
    return tf.reshape(scored, tf.concat([[steps, -1], tf.shape(scored)[1:]],
                                        0))

  def get_config(self):
    return {"name": self.name, **dataclasses.asdict(self)}

  # -- the model and its inputs --------------------------------------------

  def build_model(self, config, policy="float32"):
    """The RIM of an ExperimentConfig for this task's images.

    `policy` is the Keras dtype policy of the cell ("float32" or
    "mixed_bfloat16"); it holds for this model only (`rim_tf.model.
    build_model`), never for the process.
    """
    return rim_model.build_model(config.model, self.channels,
                                 config.trainer.rim_steps, policy,
                                 channel_context=self.channel_context,
                                 condition_channels=self.condition_channels)

  def condition(self, batch):
    """The cell's condition of a training batch, [N, m] float32 (one row
    per example of the model's batch), or None (`condition_channels` 0)."""
    del batch
    return None

  def condition_of(self, images):
    """The cell's condition of the task's images as a user gives them
    (float32 [N, H, W, C_image], before any colour transform): [N, m], one
    row per image, or None. Restoring and exports compute it from the
    input, so it must be a function of the image alone; they do so for
    denoising RIMs (`restores` "denoise"), the only ones that read one."""
    del images
    return None

  def training_patches(self, data_config):
    """The `rim_tf.data.PatchDataset` of the training images (gray or RGB
    by `image_channels`, patches of `patch_size`) of a DataConfig."""
    gray = self.image_channels == 1
    if data_config.source == "bsds300":
      images = rim_data.load_images("train", gray=gray,
                                    data_dir=data_config.data_dir)
    elif data_config.source == "builtin":
      images = rim_data.builtin_images(gray=gray)
    else:
      raise ValueError(f"data.source must be 'bsds300' or 'builtin', got "
                       f"{data_config.source!r}.")
    return rim_data.PatchDataset(
        images, patch_size=self.patch_size, stride=data_config.stride,
        num_validation=data_config.num_validation, seed=data_config.seed)

  def build_inputs(self, patches, data_config, key, start_batch,
                   input_context=None):
    """The tf.data stream `key` of `stream_keys()` from batch `start_batch`
    on (a pure function of the step, so a resumed run draws the same)."""
    keys = self.stream_keys()
    j = keys.index(key)
    return patches.train_dataset(
        data_config.batch_size, self.stream_corruption(key),
        start_batch=start_batch, seed=data_config.seed,
        input_context=input_context,
        step_subset=(j, len(keys)) if len(keys) > 1 else None,
        augment=data_config.augment)

  # -- the steps -------------------------------------------------------------

  def infer(self, model, batch, steps):
    """(estimates [T, N, H, W, C], initial estimate) of a batch."""
    operator = self.operator(batch)
    estimates, _ = model(batch["y"], operator=operator, sigma=batch["sigma"],
                         steps=steps, condition=self.condition(batch))
    return estimates, operator.initial_estimate(batch["y"])

  def train_step(self, model, optimizer, batch, trainer_config, step_weights,
                 num_replicas):
    """One replica's training step: the loss of every RIM step, the gradient
    summed once over the replicas and clipped by its global norm, applied.

    Returns (loss, loss per RIM step [T], PSNR per RIM step [T], gradient
    norm), each this replica's.
    """
    steps = trainer_config.rim_steps
    operator = self.operator(batch)
    with tf.GradientTape() as tape:
      estimates, _ = model(batch["y"], operator=operator,
                           sigma=batch["sigma"], steps=steps, training=True,
                           condition=self.condition(batch))
      estimates = self.scored_steps(estimates)
      target = self.scored(batch["x"])
      loss, per_step = rim_model.rim_loss(
          estimates, target, weights=step_weights,
          example_weights=self.example_weights(batch),
          example_weighting=trainer_config.loss_example_weights)
      scaled = loss / num_replicas
    variables = model.trainable_variables
    gradients = tape.gradient(scaled, variables)
    missing = [v.path for v, g in zip(variables, gradients) if g is None]
    if missing:
      raise ValueError(f"the loss does not depend on the weights {missing}.")
    # The one sum over replicas: the gradient of the global batch's mean loss.
    gradients = tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, gradients)
    norm = tf.linalg.global_norm(gradients)
    if trainer_config.clip_norm:
      gradients, _ = tf.clip_by_global_norm(
          gradients, trainer_config.clip_norm, use_norm=norm)
    optimizer.apply_gradients(zip(gradients, variables))
    psnr = tf.reduce_mean(tf.stack([
        metrics.psnr_tf(e, target)
        for e in tf.unstack(estimates, num=steps)]), axis=1)
    return loss, per_step, psnr, norm

  def validation_streams(self):
    """{name: corruption} of the held-out scores: "psnr" for one stream,
    "psnr_x2" ... for one per key."""
    return {("psnr" if key is None else f"psnr_x{key}"):
            self.stream_corruption(key) for key in self.stream_keys()}
