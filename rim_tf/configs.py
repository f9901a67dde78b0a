"""Experiment configuration: frozen dataclasses and the named presets.

An experiment is an `ExperimentConfig`; `preset(name, task)` gives the
published sizes ("paper"), what trains on 2 CPU cores in hours ("cpu"), that
recipe's second stage ("cpu_finetune") or a tiny end-to-end check
("smoke"). Binaries override single fields with
`override(config, {"trainer.learning_rate": 1e-4, ...})` and write the
resolved config as JSON next to the checkpoints.
"""

import dataclasses
import json
import pathlib
import types
import typing


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """The RIM: cell architecture and sizes (see `rim_tf.layers.make_cell`)."""

  architecture: str = "rim"
  features: int = 64
  gru_features: int = 256
  ablation: str | None = None
  epsilon_init: float = 1e-3
  # Rows of the batch norms' moving statistics: 1 shared by every RIM step
  # (Keras's batch norm), or one per RIM step (`rim_tf.layers.
  # StepBatchNormalization`; docs/training.md, "Batch-norm statistics per
  # RIM step").
  norm_steps: int = 1


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """The patch stream: where the images are and how they are cut."""

  data_dir: str | None = None
  stride: int = 4
  batch_size: int = 32
  num_validation: int = 1000
  seed: int = 0
  source: str = "bsds300"  # or "builtin": the offline scikit-image set
  # Turn every training patch by one of the 8 symmetries of the square
  # (`rim_tf.data.patches.apply_symmetry`). The paper mentions none; the
  # colour cpu recipe uses it (docs/training.md, "The choices").
  augment: bool = False


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
  """The optimisation: steps, schedule, precision, logging cadence."""

  train_steps: int = 25000
  rim_steps: int = 20
  # The loss's weights over the RIM steps (`rim_tf.model.step_weights`):
  # "uniform" is the paper's; "linear" and "final" weigh the later
  # estimates, the one the metric scores, more.
  loss_step_weights: str = "uniform"
  # The loss's weights over the examples of a batch (`rim_tf.model.rim_loss`):
  # "uniform" is the paper's; "inverse_mse" makes the gradient that of the
  # mean PSNR, which weighs the smooth, low-noise examples more.
  loss_example_weights: str = "uniform"
  learning_rate: float = 1e-3
  lr_schedule: str = "cosine"  # "constant" or "cosine" (to lr * final_lr_fraction)
  final_lr_fraction: float = 0.05
  warmup_steps: int = 0
  clip_norm: float | None = 1.0
  # mixed_bfloat16 where bfloat16 is native, else float32 (rim_tf.precision).
  mixed_precision: bool = True
  jit_compile: bool = False
  strategy: str = "mirrored"  # "mirrored", "multi_worker", "default"
  checkpoint_every: int = 200
  keep_checkpoints: int = 3
  log_every: int = 20
  image_every: int = 500
  eval_every: int = 1000
  # Warm start from a .weights.h5 path or a shipped name ("denoise_gray");
  # a gray export warm-starts a colour model through
  # `model.inflate_channels`.
  init_weights: str | None = None
  # With init_weights: go on with that export's run (its step, hence the
  # learning-rate schedule and data position, and its training hours)
  # instead of starting at step 0, from the exported weights (the weight
  # average, if the run kept one). Adam's moments start afresh.
  init_continue: bool = False
  # With init_weights: the learning rate ramps linearly from 0 over the first
  # updates of the fresh Adam, whose first steps move every weight by about
  # the learning rate (at 3e-3 that wrecked a trained model: its training
  # PSNR fell from 28.9 to 9.9 dB in 20 steps). 0 disables the ramp.
  init_ramp_steps: int = 200
  # With init_weights: keep the export's likelihood eps = softplus(phi), or
  # (False) start it at model.epsilon_init. eps is a noise floor the donor
  # learned for its own problem: a denoiser's is about 12 / 255, which
  # tempers a low-noise problem's data term (e.g. deblurring at 2.55).
  init_keep_likelihood: bool = True
  # Decay of an exponential moving average of all the weights, updated
  # after every step (rim_tf.training.weight_average, with its warm-up);
  # validation and exports use it. 0 disables it.
  average_decay: float = 0.0


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
  """Everything that defines one training run."""

  task: str = "denoise"
  task_args: dict = dataclasses.field(default_factory=dict)
  model: ModelConfig = ModelConfig()
  data: DataConfig = DataConfig()
  trainer: TrainerConfig = TrainerConfig()

  def __post_init__(self):
    # JSON has no tuples: store sequences as tuples so a config read back
    # from its JSON equals the one written.
    object.__setattr__(self, "task_args", {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in dict(self.task_args).items()})

  def to_json(self):
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_dict(cls, values):
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
      raise ValueError(f"unknown config fields {unknown}.")
    return cls(task=values["task"], task_args=dict(values["task_args"]),
               model=_section(ModelConfig, values["model"], "model"),
               data=_section(DataConfig, values["data"], "data"),
               trainer=_section(TrainerConfig, values["trainer"], "trainer"))

  @classmethod
  def from_json(cls, text):
    return cls.from_dict(json.loads(text))


def same_model(first, second):
  """True when ExperimentConfigs `first` and `second` train the same RIM:
  the same task, model section and cell inputs (the task's
  `channel_context` and `condition_channels`), so that a checkpoint of one
  is a checkpoint of the other."""
  from rim_tf import tasks  # pylint: disable=g-import-not-at-top
  inputs = [(task.channel_context, task.condition_channels) for task in
            (tasks.from_config(first), tasks.from_config(second))]
  return (first.task == second.task and first.model == second.model and
          inputs[0] == inputs[1])


def export_json_path(weights_path):
  """NAME.json beside an exported NAME.weights.h5 (its config and budget)."""
  path = pathlib.Path(weights_path)
  name = path.name[:-len(".weights.h5")] if path.name.endswith(
      ".weights.h5") else path.stem
  return path.with_name(name + ".json")


_SECTIONS = {"model": ModelConfig, "data": DataConfig,
             "trainer": TrainerConfig}


def _section(cls, values, name):
  unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
  if unknown:
    names = [f"{name}.{k}" for k in unknown]
    raise ValueError(f"unknown config fields {names}.")
  return cls(**values)


def _checked(key, value, annotation):
  """`value` if it fits the field's type annotation (ints widen to float)."""
  if typing.get_origin(annotation) in (typing.Union, types.UnionType):
    allowed = typing.get_args(annotation)
  else:
    allowed = (annotation,)
  if value is None and type(None) in allowed:
    return value
  for kind in allowed:
    if kind is float and isinstance(value, (int, float)) and not isinstance(
        value, bool):
      return float(value)
    if kind is int and isinstance(value, bool):
      continue
    if kind is dict and isinstance(value, dict):
      return value
    if isinstance(kind, type) and kind is not type(None) and isinstance(
        value, kind):
      return value
  names = " or ".join("None" if k is type(None) else k.__name__
                      for k in allowed)
  raise ValueError(f"config field {key!r} must be {names}, got {value!r}.")


def _paper(task):
  """The published sizes and budget: ~400 k patches x 2 epochs, batch 32."""
  return ExperimentConfig(
      task=task,
      model=ModelConfig(architecture="rim", features=64, gru_features=256),
      data=DataConfig(batch_size=32),
      trainer=TrainerConfig(train_steps=25000, rim_steps=20,
                            learning_rate=1e-3, mixed_precision=False))


def _cpu(task):
  """What trains to a useful model on 2 CPU cores in hours (see docs/training.md)."""
  # 15 000 steps (480 k patches, ~5.3 h at 25 patches/s): the schedule the
  # shipped denoise_gray finished on (docs/training.md).
  return ExperimentConfig(
      task=task,
      model=ModelConfig(architecture="rim", features=64, gru_features=128),
      data=DataConfig(batch_size=32),
      trainer=TrainerConfig(train_steps=15000, rim_steps=10,
                            learning_rate=3e-3, lr_schedule="cosine",
                            mixed_precision=True, checkpoint_every=100,
                            eval_every=500, average_decay=0.999))


def _cpu_finetune(task):
  """The cpu recipe's second stage: trained weights (`trainer.init_weights`,
  default the task's shipped model) trained on as the task says
  (`Task.finetune_overrides`) from its cpu preset."""
  cls = _task_class(task)
  config = preset("cpu", task)
  # Without shipped weights the stage starts from nothing unless the run
  # names its start (--set=trainer.init_weights=PATH), which replaces this.
  # The stage trains its own task's weights on: their eps is the task's,
  # kept even where the first stage started it afresh.
  return override(config, {"trainer.init_weights": cls.shipped,
                           "trainer.init_keep_likelihood": True,
                           **cls.finetune_overrides(config)})


def _smoke(task):
  """A few minutes end to end: tiny cell, few steps, builtin images allowed."""
  return ExperimentConfig(
      task=task,
      model=ModelConfig(architecture="rim", features=16, gru_features=16),
      data=DataConfig(batch_size=8, num_validation=64, stride=8),
      trainer=TrainerConfig(train_steps=60, rim_steps=4, learning_rate=3e-3,
                            mixed_precision=False, checkpoint_every=20,
                            log_every=5, image_every=20, eval_every=30))


PRESETS = {"paper": _paper, "cpu": _cpu, "cpu_finetune": _cpu_finetune,
           "smoke": _smoke}


def _task_class(task):
  from rim_tf import tasks  # pylint: disable=g-import-not-at-top
  return tasks.get(task)


def preset(name, task):
  """The named preset for `task`: the preset's settings, then the task's
  own for it (`rim_tf.tasks.Task.preset_overrides`)."""
  if name not in PRESETS:
    raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}.")
  config = PRESETS[name](task)
  return override(config, _task_class(task).preset_overrides(name, config))


def override(config, values):
  """A copy of `config` with dotted fields replaced, e.g. {"trainer.rim_steps": 5}.

  Keys are "section.field" for the sections model, data and trainer,
  "task" or "task_args" (a whole dict), or "task_args.<field>" for one field
  of the task's dataclass (`rim_tf.tasks`). Values must fit the field's type
  (an int is accepted for a float). Raises ValueError naming a bad key or
  value.
  """
  from rim_tf import tasks  # pylint: disable=g-import-not-at-top

  config_dict = dataclasses.asdict(config)
  # The task first: it decides which task_args fields exist.
  items = sorted(values.items(), key=lambda item: item[0] != "task")
  for key, value in items:
    section, _, field = key.rpartition(".")
    if section == "":
      if field == "task":
        if value not in tasks.names():
          raise ValueError(f"config field 'task' must be one of "
                           f"{tasks.names()}, got {value!r}.")
      elif field == "task_args":
        if not isinstance(value, dict):
          raise ValueError(f"config field 'task_args' must be a dict, got "
                           f"{value!r}.")
        value = dict(value)
      else:
        raise ValueError(
            f"unknown config field {key!r}; expected 'task', 'task_args', "
            f"'task_args.<field>' or one of {sorted(_SECTIONS)} as "
            f"'section.field'.")
      config_dict[field] = value
    elif section == "task_args":
      task_fields = tasks.fields(config_dict["task"])
      if field not in task_fields:
        raise ValueError(
            f"unknown config field {key!r}: task {config_dict['task']!r} has "
            f"the fields {task_fields}.")
      config_dict["task_args"][field] = value
    elif section in _SECTIONS:
      types_of = {f.name: f.type
                  for f in dataclasses.fields(_SECTIONS[section])}
      if field not in types_of:
        raise ValueError(
            f"unknown config field {key!r}; {section} has the fields "
            f"{sorted(types_of)}.")
      config_dict[section][field] = _checked(key, value, types_of[field])
    else:
      raise ValueError(
          f"unknown config field {key!r}: {section!r} is not a section; "
          f"expected one of {sorted(_SECTIONS)} or 'task_args'.")
  return ExperimentConfig.from_dict(config_dict)


def parse_overrides(assignments):
  """{"section.field": value} from ["section.field=value", ...] (flag text).

  Values are read as JSON where they parse (10, 1e-3, true, null, [2, 3])
  and as plain strings otherwise (rim, cosine).
  """
  values = {}
  for assignment in assignments:
    key, sep, text = assignment.partition("=")
    if not sep or not key:
      raise ValueError(
          f"--set expects section.field=value, got {assignment!r}.")
    try:
      values[key.strip()] = json.loads(text)
    except json.JSONDecodeError:
      values[key.strip()] = text
  return values
