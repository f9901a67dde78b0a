"""Batch-norm statistics per RIM step, computed on training patches.

In training every RIM step's batch norms normalise with that step's batch
moments, which differ by orders of magnitude from step to step; Keras's
batch norm keeps one moving average over all of them, which fits no step
at inference (docs/training.md, "Batch-norm statistics per RIM step").
`calibrate_export` turns exported weights with shared statistics (or rows
trained as moving averages) into the same RIM with a row of statistics per
RIM step (`rim_tf.layers.StepBatchNormalization`), each row the population
mean and variance of the layer's inputs at that step of inference on
training patches. Nothing trained changes: the kernels, gamma
and beta are copied.
"""

import json

import numpy as np

from rim_tf import configs
from rim_tf import layers as rim_layers
from rim_tf import pretrained
from rim_tf import tasks
from rim_tf.training import exports


def transfer_weights(source, target):
  """Copies the weights of `source` into `target`, the same RIM whose batch
  norms keep their moving statistics per RIM step or shared: a shared [C]
  statistic fills every row of [S, C]; rows [S, C] become their mean over
  the steps [C], what a shared moving average of the steps' batch moments
  converges to. Any other weight is copied as is.

  Raises:
    ValueError: if the two RIMs differ in anything else.
  """
  if len(source.weights) != len(target.weights):
    raise ValueError(f"the RIMs have {len(source.weights)} and "
                     f"{len(target.weights)} weights: not the same RIM.")
  for a, b in zip(source.weights, target.weights):
    value = a.numpy()
    shape = tuple(b.shape)
    # Paths begin with the cell's unique name (rim_cell, rim_cell_1, ...).
    if a.path.split("/", 1)[-1] != b.path.split("/", 1)[-1] or (
        shape not in (value.shape, value.shape[1:]) and
        shape[1:] != value.shape):
      raise ValueError(f"weight {a.path} {value.shape} does not fit "
                       f"{b.path} {shape}: not the same RIM.")
    if shape == value.shape[1:] and shape != value.shape:
      value = value.mean(axis=0)
    b.assign(np.broadcast_to(value, shape))


def calibrate(model, batches, operator_of, condition_of=None):
  """Sets each batch norm's row t to the population statistics of RIM step t.

  Runs inference on every batch step by step; at step t each batch norm in
  turn (the order a step calls them, so a later one sees the earlier ones
  already set) collects its inputs over all batches, and its row t becomes
  their mean and (biased) variance over (N, H, W). Eager; costs
  steps x (batch norms + 1) RIM steps per batch.

  Args:
    model: a `rim_tf.model.RIM` whose cell has norm_steps > 1.
    batches: dicts with "y" [N, h, w, C'] and "sigma" [N], and what
      `operator_of` reads.
    operator_of: batch -> its forward operator (`Task.operator`).
    condition_of: batch -> the cell's condition (`Task.condition`), for a
      cell that reads one.

  Returns:
    {layer name: (mean, variance)}, each float64 [norm_steps, C].
  """
  norms = model.cell.norm_layers()
  if not all(isinstance(n, rim_layers.StepBatchNormalization) for n in norms):
    raise ValueError("calibrate needs a RIM with a row of batch-norm "
                     "statistics per RIM step (model.norm_steps > 1).")
  if not batches:
    raise ValueError("calibrate needs at least one batch.")
  operators = [operator_of(batch) for batch in batches]
  trajectories = []
  for batch, operator in zip(batches, operators):
    eta = model.initial_eta(batch["y"], operator)
    trajectories.append((eta, model.cell.initial_state(eta)))
  found = {norm.name: ([], []) for norm in norms}

  def run_step(t):
    return [model.step(eta, state, batch["y"], operator, batch["sigma"],
                       training=False, t=t,
                       condition=condition_of and condition_of(batch))
            for batch, operator, (eta, state) in zip(batches, operators,
                                                      trajectories)]

  for t in range(norms[0].num_steps):
    for norm in norms:
      norm.collect = rim_layers.NormMoments()
      try:
        run_step(t)
        mean, variance = norm.collect.mean_and_variance()
      finally:
        norm.collect = None
      for variable, value in ((norm.moving_mean, mean),
                              (norm.moving_variance, variance)):
        rows = variable.numpy()
        rows[t] = value
        variable.assign(rows)
      found[norm.name][0].append(mean)
      found[norm.name][1].append(variance)
    trajectories = run_step(t)
  return {name: (np.stack(m), np.stack(v)) for name, (m, v) in found.items()}


def calibration_batches(config, task, patches, num_batches):
  """`num_batches` training batches of every stream of `task` (e.g. each
  super-resolution scale), from the start of the run's patch stream."""
  keys = task.stream_keys()
  batches = []
  for j, key in enumerate(keys):
    stream = patches.train_dataset(
        config.data.batch_size, task.stream_corruption(key),
        seed=config.data.seed, num_batches=num_batches,
        step_subset=(j, len(keys)) if len(keys) > 1 else None)
    batches.extend(stream.take(num_batches))
  return batches


def calibrate_export(weights, output, data_dir=None, num_batches=32):
  """Writes `weights` (a shipped name or .weights.h5) with per-step
  batch-norm statistics calibrated on its task's training patches.

  Args:
    weights: exported weights with shared statistics (model.norm_steps 1)
      or with a row per RIM step (recalibrated).
    output: the new .weights.h5; its JSON is the export's, with
      model.norm_steps set and a "norm_calibration" record added.
    data_dir: folder holding BSDS300/ (default: $RIM_DATA_DIR, then
      data/; not the training machine's folder).
    num_batches: training batches per stream (of the config's batch size).
      The rows are the RIM's training T (trainer.rim_steps).

  Returns:
    {layer name: (mean, variance)} as `calibrate` returns them.
  """
  source, config = pretrained.load(weights)
  norm_steps = config.trainer.rim_steps
  # Rows trained as moving averages (a fine-tuned calibrated model) are
  # recalibrated: they mix the batch moments of many weights and inputs.
  if config.model.norm_steps not in (1, norm_steps):
    raise ValueError(f"{weights} has {config.model.norm_steps} rows of "
                     f"batch-norm statistics per layer, neither one nor one "
                     f"per RIM step of its T = {norm_steps}.")
  new_config = configs.override(config, {"model.norm_steps": norm_steps})
  task = tasks.from_config(config)
  target = task.build_model(new_config)  # float32, as pretrained.load's.
  transfer_weights(source, target)
  run_config = configs.override(config, {"data.data_dir": data_dir})
  patches = task.training_patches(run_config.data)
  statistics = calibrate(target, calibration_batches(
      run_config, task, patches, num_batches), task.operator, task.condition)
  path = pretrained.resolve(weights)
  meta = pretrained.metadata(path)
  meta["config"] = json.loads(new_config.to_json())
  meta["norm_calibration"] = {
      "from": pretrained.provenance(path), "norm_steps": norm_steps,
      "batches_per_stream": num_batches,
      "patches": num_batches * len(task.stream_keys()) *
                 config.data.batch_size}
  exports.write(target, output, meta)
  return statistics
