"""Warm starts: a run that begins from exported weights.

A warm start loads the weights of another run (`trainer.init_weights`) into
a new model, adapting what differs in a way that keeps the function the
same: gray weights inflate to colour, a narrower GRU widens, a cell gains
a channel context or a condition, batch-norm statistics go from shared to
per RIM step or back. With `trainer.init_continue` the run goes on with the exported run's
step and budget (`exported_run`).
"""

import dataclasses

from absl import logging

from rim_tf import configs
from rim_tf import model as rim_model
from rim_tf import pretrained
from rim_tf import tasks as rim_tasks
from rim_tf.training import norm_calibration


def _build(config, policy):
  return rim_tasks.from_config(config).build_model(config, policy)


def load_init_weights(model, config, path, policy):
  """Loads exported weights into the model; a gray RIM's (its JSON says
  so) into a colour model by `rim_model.inflate_channels`, a narrower
  GRU's by `rim_model.widen_gru`, a cell's without a channel context or a
  condition into one with it by `rim_model.add_cell_inputs`, and batch-norm
  statistics
  per RIM step into shared ones (or back) by
  `norm_calibration.transfer_weights`."""
  try:
    exported = pretrained.config(path)
  except (FileNotFoundError, ValueError):
    exported = None  # No readable JSON: the weights must fit as they are.
  ours = config.model
  if exported is not None and exported.model.ablation != ours.ablation:
    cell = {None: "the full RIM's cell", "gdn": "the GDN cell",
            "ffn": "the FFN cell"}
    raise ValueError(
        f"{path} holds {cell[exported.model.ablation]}; it cannot "
        f"warm-start {cell[ours.ablation]} (model.ablation="
        f"{ours.ablation}): set trainer.init_weights to weights of the "
        f"same cell.")
  donor = None
  if exported is not None and exported.model.norm_steps != ours.norm_steps:
    stored = _build(exported, policy)
    stored.load_weights(str(path))
    rows = exported.model.norm_steps
    exported = configs.override(exported,
                                {"model.norm_steps": ours.norm_steps})
    donor = _build(exported, policy)
    norm_calibration.transfer_weights(stored, donor)
    logging.info(f"Batch-norm statistics of {path} from {rows} to "
                 f"{ours.norm_steps} rows per layer.")

  def loaded_donor():
    if donor is not None:
      return donor
    model = _build(exported, policy)
    model.load_weights(str(path))
    return model

  donor_task = (rim_tasks.from_config(exported) if exported is not None
                else None)
  extra = [(k, getattr(donor_task, k) if donor_task is not None else 0,
            getattr(model.cell, k)) for k in rim_model.EXTRA_INPUTS]
  gains = donor_task is not None and any(d != m for _, d, m in extra)
  if gains and any(d and d != m for _, d, m in extra):
    have = ", ".join(f"{k}={d}" for k, d, _ in extra)
    want = ", ".join(f"{k}={m}" for k, _, m in extra)
    raise ValueError(
        f"{path} holds a RIM with {have}; it cannot warm-start one with "
        f"{want} (a cell only gains a channel context or a condition).")
  channels = donor_task.channels if donor_task is not None else None
  if channels is not None and channels != model.channels:
    if channels != 1 or any(d for _, d, _ in extra):
      raise ValueError(
          f"{path} holds a {channels}-channel RIM" +
          (" with extra cell inputs" if channels == 1 else "") +
          f"; it cannot warm-start a {model.channels}-channel one (only "
          f"gray weights without a channel context or a condition inflate "
          f"to colour).")
    # Inflated into the same cell without the new inputs, which then join.
    inflated = (rim_model.with_cell_inputs(model) if gains else model)
    rim_model.inflate_channels(loaded_donor(), inflated)
    if gains:
      rim_model.add_cell_inputs(inflated, model)
    logging.info(f"Inflated the gray weights of {path} to "
                 f"{model.channels} channels.")
    return
  if gains:
    rim_model.add_cell_inputs(loaded_donor(), model)
    logging.info(f"Added the input maps of {path}'s cell: " + ", ".join(
        f"{k}={m}" for k, _, m in extra) + ".")
    return
  # eps starts where the run says, whatever the donor's init was.
  if exported is not None and exported.model != ours and dataclasses.replace(
      exported.model, gru_features=ours.gru_features,
      epsilon_init=ours.epsilon_init) == ours:
    rim_model.widen_gru(loaded_donor(), model,
                        seed=config.data.seed)
    logging.info(f"Widened the GRU of {path} from "
                 f"{exported.model.gru_features} to {ours.gru_features} "
                 f"features.")
    return
  if donor is not None:
    norm_calibration.transfer_weights(donor, model)
  else:
    model.load_weights(str(path))


def exported_run(config, weights_path):
  """The JSON of exported weights (its "step" an int), checked to be of the
  model and task of ExperimentConfig `config`, for continuing their run."""
  path = configs.export_json_path(weights_path)
  try:
    meta = pretrained.metadata(weights_path)
    exported = pretrained.config(weights_path)
    step = int(meta["step"])
  except (OSError, ValueError, KeyError, TypeError) as error:
    raise ValueError(
        f"trainer.init_continue needs {path}, the JSON written with the "
        f"exported weights ({error!r}).") from None
  if not configs.same_model(exported, config):
    raise ValueError(
        f"{weights_path} was exported by a run of another model or task "
        f"({exported.task}, {exported.model}); trainer.init_continue "
        f"goes on with the same run only.")
  schedule = ("learning_rate", "lr_schedule", "train_steps",
              "warmup_steps", "final_lr_fraction")
  changed = [f"{k} {getattr(exported.trainer, k)} -> "
             f"{getattr(config.trainer, k)}" for k in schedule
             if getattr(exported.trainer, k) != getattr(config.trainer, k)]
  if changed:
    logging.warning(f"The schedule differs from the exported run's: "
                    f"{', '.join(changed)}.")
  return {**meta, "step": step}
