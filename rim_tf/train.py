"""Training: a custom loop under a tf.distribute strategy, resumable.

`Trainer(config, run_dir).train()` builds the task, model, optimizer and the
patch streams, restores the newest checkpoint in `run_dir/checkpoints` (or
warm-starts from `trainer.init_weights`), and trains until
`trainer.train_steps`; with `trainer.init_continue` a warm start goes on
with the exported run's step and budget (for a run whose folder is gone;
from the exported weights, which are the weight average when the run kept
one; Adam's moments start afresh; the schedule is this config's, and a
change from the export's is printed). Everything needed to continue is in
the checkpoint:
model, optimizer, global step; the data position is the global step itself
(the patch stream is a pure function of the step, see
`rim_tf.data.PatchDataset.train_dataset`). A checkpoint is written every
`checkpoint_every` steps and when SIGINT or SIGTERM arrives (at the step
reached; under MultiWorkerMirroredStrategy a signal to any worker stops all
of them after the same step); a NaN or inf loss stops the run with
`DivergedError` before anything is saved, so the last checkpoint stays good.
TensorBoard logs go to `run_dir/logs`. With `trainer.average_decay` the
checkpoint also holds a moving average of the weights, which validation and
exports use (`rim_tf.weight_average`). Every validation that beats the run's
best so far exports its weights to `run_dir/best.weights.h5` (with
best.json), so the best-validated model of a run that went on to overfit
is kept.

Gradients are summed over replicas exactly once (by the trainer) and the
global-norm clip acts on that sum, i.e. on the gradient of the global batch.
The batch norms normalise each replica's share of the batch (the RIM's
tf.while_loop cannot hold the cross-replica sums synchronised batch norm
needs under MirroredStrategy), so R replicas train exactly as one device
would with the global batch split into R "ghost" batches. Only the chief
(the one process of a single-machine run) writes config, logs and
checkpoints; other workers save to a scratch folder they delete, as
tf.distribute requires.
"""

import contextlib
import dataclasses
import json
import math
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import keras
import numpy as np
import tensorflow as tf
import tqdm

from rim_tf import configs
from rim_tf import data as rim_data
from rim_tf import metrics
from rim_tf import model as rim_model
from rim_tf import norm_calibration
from rim_tf import pretrained
from rim_tf import tasks as rim_tasks
from rim_tf import weight_average


class DivergedError(RuntimeError):
  """The loss became NaN or inf; the last checkpoint was left untouched."""


def make_strategy(name):
  """The tf.distribute strategy named by the `trainer.strategy` field.

  "mirrored": all local GPUs, or the CPU (every logical CPU device when the
  CPU has been split, which is how the tests check multi-replica training);
  "multi_worker": MultiWorkerMirroredStrategy configured by TF_CONFIG;
  "default": no distribution.
  """
  if name == "mirrored":
    gpus = tf.config.list_logical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    devices = [d.name for d in (gpus or cpus)]
    return tf.distribute.MirroredStrategy(
        devices, cross_device_ops=None if gpus else
        tf.distribute.ReductionToOneDevice(reduce_to_device=devices[0]))
  if name == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "default":
    return tf.distribute.get_strategy()
  raise ValueError(
      f"strategy must be 'mirrored', 'multi_worker' or 'default', got "
      f"{name!r}.")


def learning_rate_schedule(trainer):
  """The learning rate as a Keras schedule (or a float when constant)."""
  if trainer.lr_schedule == "constant":
    return trainer.learning_rate
  if trainer.lr_schedule == "cosine":
    return keras.optimizers.schedules.CosineDecay(
        0.0 if trainer.warmup_steps else trainer.learning_rate,
        decay_steps=max(1, trainer.train_steps - trainer.warmup_steps),
        alpha=trainer.final_lr_fraction,
        warmup_target=(trainer.learning_rate if trainer.warmup_steps
                       else None),
        warmup_steps=trainer.warmup_steps)
  raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got "
                   f"{trainer.lr_schedule!r}.")


class _SummedGradientAdam(keras.optimizers.Adam):
  """Adam that applies gradients the trainer has already summed over replicas.

  Keras 3's TF optimizer clips each replica's gradient and only then sums
  them (`_all_reduce_sum_gradients`), so a global-norm clip would act per
  replica. The trainer sums once, clips the sum, and this optimizer applies
  it as given.
  """

  def _all_reduce_sum_gradients(self, grads_and_vars):
    return list(grads_and_vars)


def make_optimizer(schedule, step, ramp_steps=0):
  """Adam with `schedule` (`learning_rate_schedule`); clip in the step.

  The learning rate follows the global `step` (a tf.Variable), not the
  optimizer's own update count, so a run continued from exported weights
  (fresh Adam state) goes on with its schedule. With `ramp_steps` > 0 it is
  scaled by min(1, (k + 1) / ramp_steps) at the optimizer's update k.
  """
  if not hasattr(keras.optimizers.Adam, "_all_reduce_sum_gradients"):
    raise RuntimeError(
        "this Keras no longer has TFOptimizer._all_reduce_sum_gradients; "
        "rim_tf.train must be updated so gradients are summed exactly once.")
  optimizer = []  # The rate reads the optimizer's update count.

  def rate():
    value = schedule(step) if callable(schedule) else schedule
    if not ramp_steps:
      return value
    done = tf.cast(optimizer[0].iterations + 1, tf.float32)
    return value * tf.minimum(1.0, done / float(ramp_steps))

  optimizer.append(_SummedGradientAdam(
      rate if callable(schedule) or ramp_steps else schedule, name="adam"))
  return optimizer[0]


def build_model(config):
  """The RIM of an ExperimentConfig (under the current dtype policy)."""
  task = make_task(config)
  return rim_model.build_rim(
      config.model.architecture, task.channels, ablation=config.model.ablation,
      num_steps=config.trainer.rim_steps,
      epsilon_init=config.model.epsilon_init, features=config.model.features,
      gru_features=config.model.gru_features,
      norm_steps=config.model.norm_steps)


def make_task(config):
  return rim_tasks.make_task(config.task, **config.task_args)


def load_patches(config, task):
  """The PatchDataset of the training images for `task`."""
  gray = task.channels == 1
  if config.data.source == "bsds300":
    images = rim_data.load_images("train", gray=gray,
                                  data_dir=config.data.data_dir)
  elif config.data.source == "builtin":
    images = rim_data.builtin_images(gray=gray)
  else:
    raise ValueError(f"data.source must be 'bsds300' or 'builtin', got "
                     f"{config.data.source!r}.")
  return rim_data.PatchDataset(
      images, patch_size=task.patch_size, stride=config.data.stride,
      num_validation=config.data.num_validation, seed=config.data.seed)


def set_precision(mixed_precision):
  keras.mixed_precision.set_global_policy(
      "mixed_bfloat16" if mixed_precision else "float32")


class Trainer:
  """Drives one training run of an ExperimentConfig in `run_dir`.

  Args:
    config: `rim_tf.configs.ExperimentConfig`.
    run_dir: folder of the run (checkpoints/, logs/, config.json).
    strategy: optional tf.distribute strategy; default from the config.
    patches: optional PatchDataset (tests pass small synthetic ones).
  """

  def __init__(self, config, run_dir, strategy=None, patches=None):
    self.config = config
    self.run_dir = pathlib.Path(run_dir)
    self._check_config()
    self.task = make_task(config)
    # The strategy first: MultiWorkerMirroredStrategy must configure the
    # collectives before TensorFlow's runtime starts (the patches start it).
    self.strategy = strategy or make_strategy(config.trainer.strategy)
    self.patches = patches if patches is not None else load_patches(
        config, self.task)
    # The chief writes config, logs and checkpoints; other workers only
    # take part in the collective saves (into a scratch folder).
    self.is_chief = bool(self.strategy.extended.should_checkpoint)
    self._multi_worker = isinstance(
        self.strategy, tf.distribute.MultiWorkerMirroredStrategy)
    self.checkpoint_dir = self.run_dir / "checkpoints"
    # Training time of an exported run this one continues (init_continue).
    self._carried_seconds = 0.0
    self._clock_running = False
    set_precision(config.trainer.mixed_precision)
    self._schedule = learning_rate_schedule(config.trainer)
    # Outside the scope: one host-side counter, updated between steps.
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False,
                            name="global_step")
    with self.strategy.scope():
      self.model = build_model(config)
      self.optimizer = make_optimizer(
          self._schedule, self.step,
          ramp_steps=(config.trainer.init_ramp_steps
                      if config.trainer.init_weights else 0))
      self.optimizer.build(self.model.trainable_variables)
      # All the weights: averaged kernels with the batch norms' statistics
      # of the last weights scored below the raw weights (docs/training.md).
      self.average = (weight_average.WeightAverage(
          self.model.weights, config.trainer.average_decay)
                      if config.trainer.average_decay else None)
    self.checkpoint = tf.train.Checkpoint(
        model=self.model, optimizer=self.optimizer, step=self.step,
        **({"weight_average": self.average.state} if self.average else {}))
    # Created by each save and deleted right after it.
    self._scratch_dir = None if self.is_chief else os.path.join(
        tempfile.gettempdir(), f"rim_worker_checkpoints_{os.getpid()}")
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, self._scratch_dir or str(self.checkpoint_dir),
        max_to_keep=config.trainer.keep_checkpoints if self.is_chief else 1)
    self._restore()
    if self.is_chief:
      self._write_config()  # Only once the folder is known to fit.
    self._saved_step = int(self.step)
    self._budget_clock = time.time()
    self._stop_signal = None
    # No shape relaxation: every input stream keeps its static shapes (the
    # super-resolution operator reads its scale from them).
    self._train_step = tf.function(
        self._distributed_step, jit_compile=config.trainer.jit_compile or None)
    self._infer_fn = tf.function(self._infer_graph)

  # -- set-up -----------------------------------------------------------

  def _check_config(self):
    """Raises ValueError if run_dir holds a run of another model or task."""
    trainer = self.config.trainer
    if trainer.init_continue and not trainer.init_weights:
      raise ValueError("trainer.init_continue needs trainer.init_weights (the "
                       "exported weights whose run to continue).")
    # Raises on an unknown kind before any work is done.
    self._step_weights = rim_model.step_weights(trainer.loss_step_weights,
                                                trainer.rim_steps)
    rim_model.check_example_weighting(trainer.loss_example_weights,
                                      "trainer.loss_example_weights")
    if trainer.average_decay:  # 0 is no average
      weight_average.check_decay(trainer.average_decay,
                                 "trainer.average_decay")
    path = self.run_dir / "config.json"
    if not path.exists():
      return
    try:
      previous = configs.ExperimentConfig.from_json(path.read_text())
    except (ValueError, KeyError, TypeError) as error:
      raise ValueError(
          f"{path} is not a readable rim_tf config ({error!r}); this "
          f"folder does not hold a run of this code. Use a new run "
          f"folder.") from None
    if dataclasses.asdict(previous)["model"] != dataclasses.asdict(
        self.config)["model"] or previous.task != self.config.task:
      raise ValueError(
          f"{self.run_dir} holds a run of another model or task "
          f"({previous.task}, {previous.model}); use a new run folder.")

  def _write_config(self):
    """The resolved config as run_dir/config.json (next to checkpoints/)."""
    self.run_dir.mkdir(parents=True, exist_ok=True)
    path = self.run_dir / "config.json"
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(self.config.to_json())
    os.replace(scratch, path)  # Atomic: a reader never sees half a file.

  def _restore(self):
    # Every worker restores the chief's newest checkpoint.
    latest = tf.train.latest_checkpoint(str(self.checkpoint_dir))
    if latest:
      try:
        checkpoint, start_average = self._checkpoint_of(latest)
        status = checkpoint.restore(latest).assert_existing_objects_matched()
        if checkpoint is not self.checkpoint or self.average is None:
          status.expect_partial()  # A saved average this run does not keep.
      except Exception as error:  # pylint: disable=broad-except
        # The reader fails in many ways (OpError, IndexError on a truncated
        # file, ValueError on a shape mismatch, AssertionError on missing
        # objects); all mean this folder's checkpoint does not fit.
        raise ValueError(
            f"checkpoint {latest} could not be restored (corrupt, or from "
            f"another model): {error}") from error
      print(f"Resumed from {latest} at step {int(self.step)}.")
    elif self.config.trainer.init_weights:
      init = pathlib.Path(self.config.trainer.init_weights)
      if not init.is_file():  # Else a shipped name (or a missing file).
        init = pretrained.resolve(self.config.trainer.init_weights)
      self._load_init_weights(init)
      start_average = True
      if self.config.trainer.init_continue:
        exported = self._exported_run(init)
        self.step.assign(exported["step"])
        self._carried_seconds = 3600.0 * exported.get("train_hours", 0.0)
        print(f"Continuing the run of {init} at step {exported['step']}.")
      else:
        print(f"Warm start from {init}.")
    else:
      start_average = False  # The average was made from these weights.
    if start_average and self.average is not None:
      self.average.reset()

  def _load_init_weights(self, path):
    """Loads exported weights into the model; a gray RIM's (its JSON says
    so) into a colour model by `rim_model.inflate_channels`, a narrower
    GRU's by `rim_model.widen_gru`, and batch-norm statistics per RIM step
    into shared ones (or back) by `norm_calibration.transfer_weights`."""
    try:
      exported = pretrained.config(path)
    except (FileNotFoundError, ValueError):
      exported = None  # No readable JSON: the weights must fit as they are.
    ours = self.config.model
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
      stored = build_model(exported)
      stored.load_weights(str(path))
      rows = exported.model.norm_steps
      exported = configs.override(exported,
                                  {"model.norm_steps": ours.norm_steps})
      donor = build_model(exported)
      norm_calibration.transfer_weights(stored, donor)
      print(f"Batch-norm statistics of {path} from {rows} to "
            f"{ours.norm_steps} rows per layer.")

    def loaded_donor():
      if donor is not None:
        return donor
      model = build_model(exported)
      model.load_weights(str(path))
      return model

    channels = (make_task(exported).channels if exported is not None
                else None)
    if channels is not None and channels != self.model.channels:
      if channels != 1:
        raise ValueError(
            f"{path} holds a {channels}-channel RIM; it cannot "
            f"warm-start a {self.model.channels}-channel one (only gray "
            f"weights inflate to colour).")
      rim_model.inflate_channels(loaded_donor(), self.model)
      print(f"Inflated the gray weights of {path} to "
            f"{self.model.channels} channels.")
      return
    if exported is not None and exported.model != ours and dataclasses.replace(
        exported.model, gru_features=ours.gru_features) == ours:
      rim_model.widen_gru(loaded_donor(), self.model,
                          seed=self.config.data.seed)
      print(f"Widened the GRU of {path} from {exported.model.gru_features} "
            f"to {ours.gru_features} features.")
      return
    if donor is not None:
      norm_calibration.transfer_weights(donor, self.model)
    else:
      self.model.load_weights(str(path))

  def _checkpoint_of(self, path):
    """(what to restore from checkpoint `path`, whether the weight average
    starts afresh): a run that switches averaging on, or whose checkpoint
    holds an average of other variables (older code), goes on from it, the
    average starting at the restored weights."""
    if self.average is None:
      return self.checkpoint, False
    saved = {name for name, _ in tf.train.list_variables(path)
             if name.startswith("weight_average/")}
    suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
    expected = {f"weight_average/shadows/{i}{suffix}"
                for i in range(len(self.average.shadows))}
    if saved == expected | {f"weight_average/updates{suffix}"}:
      return self.checkpoint, False
    if saved:
      print(f"{path} holds a weight average of another layout: the average "
            f"restarts at the restored weights.")
    return tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                               step=self.step), True

  def _exported_run(self, weights_path):
    """The JSON of exported weights, checked to be of this model and task."""
    path = configs.export_json_path(weights_path)
    try:
      meta = pretrained.metadata(weights_path)
      exported = pretrained.config(weights_path)
      step = int(meta["step"])
    except (OSError, ValueError, KeyError, TypeError) as error:
      raise ValueError(
          f"trainer.init_continue needs {path}, the JSON written with the "
          f"exported weights ({error!r}).") from None
    if (dataclasses.asdict(exported)["model"] != dataclasses.asdict(
        self.config)["model"] or exported.task != self.config.task):
      raise ValueError(
          f"{weights_path} was exported by a run of another model or task "
          f"({exported.task}, {exported.model}); trainer.init_continue "
          f"goes on with the same run only.")
    schedule = ("learning_rate", "lr_schedule", "train_steps",
                "warmup_steps", "final_lr_fraction")
    changed = [f"{k} {getattr(exported.trainer, k)} -> "
               f"{getattr(self.config.trainer, k)}" for k in schedule
               if getattr(exported.trainer, k) != getattr(self.config.trainer, k)]
    if changed:
      print(f"The schedule differs from the exported run's: "
            f"{', '.join(changed)}.")
    return {**meta, "step": step}

  def _datasets(self):
    """One distributed iterator per stream, positioned at the global step."""
    batch_size = self.config.data.batch_size
    start = int(self.step)
    keys = self.task.stream_keys()
    iterators = {}
    for j, key in enumerate(keys):
      corruption = self.task.stream_corruption(key)

      def dataset_fn(context, corruption=corruption, j=j):
        return self.patches.train_dataset(
            batch_size, corruption, start_batch=start,
            seed=self.config.data.seed, input_context=context,
            step_subset=(j, len(keys)) if len(keys) > 1 else None,
            augment=self.config.data.augment)

      iterators[key] = iter(
          self.strategy.distribute_datasets_from_function(dataset_fn))
    return keys, iterators

  # -- the step ---------------------------------------------------------

  def _replica_step(self, batch):
    operator = self.task.operator(batch)
    with tf.GradientTape() as tape:
      estimates, _ = self.model(
          batch["y"], operator=operator, sigma=batch["sigma"],
          steps=self.config.trainer.rim_steps, training=True)
      loss, per_step = rim_model.rim_loss(
          estimates, batch["x"], weights=self._step_weights,
          example_weights=self.task.example_weights(batch),
          example_weighting=self.config.trainer.loss_example_weights)
      scaled = loss / self.strategy.num_replicas_in_sync
    variables = self.model.trainable_variables
    gradients = tape.gradient(scaled, variables)
    missing = [v.path for v, g in zip(variables, gradients) if g is None]
    if missing:
      raise ValueError(f"the loss does not depend on the weights {missing}.")
    # The one sum over replicas: the gradient of the global batch's mean loss.
    gradients = tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, gradients)
    norm = tf.linalg.global_norm(gradients)
    if self.config.trainer.clip_norm:
      gradients, _ = tf.clip_by_global_norm(
          gradients, self.config.trainer.clip_norm, use_norm=norm)
    self.optimizer.apply_gradients(zip(gradients, variables))
    psnr = tf.reduce_mean(
        tf.stack([metrics.psnr_tf(e, batch["x"]) for e in tf.unstack(
            estimates, num=self.config.trainer.rim_steps)]), axis=1)
    return loss, per_step, psnr, norm

  def _distributed_step(self, batch, stop):
    """One step; also sums the workers' stop flags so all stop together."""
    loss, per_step, psnr, norm = self.strategy.run(self._replica_step,
                                                   (batch,))
    mean = lambda v: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v,
                                          axis=None)
    stop = self.strategy.reduce(
        tf.distribute.ReduceOp.SUM, self.strategy.run(tf.identity, (stop,)),
        axis=None)
    if self.average is not None:
      self.average.update()  # Cross-replica: every copy takes the same value.
    return mean(loss), mean(per_step), mean(psnr), mean(norm), stop

  # -- the loop ---------------------------------------------------------

  def _on_signal(self, signum, frame):
    del frame
    self._stop_signal = signum

  def save(self):
    """Writes a checkpoint at the current step (all workers must call it).

    Returns the chief's checkpoint path (None on other workers).
    """
    path = self.manager.save(checkpoint_number=int(self.step))
    self._saved_step = int(self.step)
    if not self.is_chief:
      shutil.rmtree(self._scratch_dir, ignore_errors=True)
      return None
    self._write_budget()
    return path

  def _budget_path(self):
    return self.run_dir / "budget.json"

  def training_seconds(self):
    """Wall-clock seconds spent training this run, over all its sessions."""
    previous = self._carried_seconds
    if self._budget_path().exists():
      previous = json.loads(self._budget_path().read_text())["train_seconds"]
    if not self._clock_running:
      return previous  # train() saved its time before returning.
    return previous + time.time() - self._budget_clock

  def _write_budget(self):
    # Beside the checkpoint, not in it: old checkpoints stay restorable.
    seconds = self.training_seconds()
    self._budget_path().write_text(json.dumps(
        {"step": int(self.step), "train_seconds": seconds,
         "patches_seen": int(self.step) * self.config.data.batch_size}))
    self._budget_clock = time.time()

  def _install_signal_handlers(self):
    if threading.current_thread() is not threading.main_thread():
      return {}  # Python delivers signals to the main thread only.
    return {s: signal.signal(s, self._on_signal)
            for s in (signal.SIGINT, signal.SIGTERM)}

  def learning_rate_at(self, step):
    """The scheduled learning rate of global step `step` (0-based), before
    the ramp of a run started from init_weights (`make_optimizer`)."""
    if callable(self._schedule):
      return float(self._schedule(step))
    return float(self._schedule)

  def train(self, steps=None, max_seconds=None):
    """Trains to `steps` (default `trainer.train_steps`) global steps.

    `max_seconds` bounds the wall-clock time of this call: the run stops at
    the first step boundary after it (all workers at the same step) and
    checkpoints, as for a signal, so a session can end on time.

    Returns:
      dict with the final step, last loss, and whether a signal or the time
      limit stopped it.

    Raises:
      DivergedError: the loss became NaN or inf (nothing of that step saved).
    """
    trainer = self.config.trainer
    target = trainer.train_steps if steps is None else steps
    deadline = None if max_seconds is None else time.time() + max_seconds
    out_of_time = False
    # The budget counts time in this call, not the time between calls.
    self._budget_clock = time.time()
    self._clock_running = True
    keys, iterators = self._datasets()
    writer = (tf.summary.create_file_writer(str(self.run_dir / "logs"))
              if self.is_chief else tf.summary.create_noop_writer())
    self._stop_signal = None
    stopped = False
    previous = self._install_signal_handlers()
    batch_size = self.config.data.batch_size
    last_loss = float("nan")
    tick, tick_step = time.time(), int(self.step)
    progress = tqdm.tqdm(total=target, initial=int(self.step), unit="step",
                         dynamic_ncols=True,
                         disable=None if self.is_chief else True)
    try:
      while int(self.step) < target and not stopped:
        out_of_time = deadline is not None and time.time() >= deadline
        asked_to_stop = self._stop_signal is not None or out_of_time
        if asked_to_stop and not self._multi_worker:
          stopped = True  # One process: stop now; workers agree in the step.
          break
        g = int(self.step)
        batch = next(iterators[keys[g % len(keys)]])
        flag = tf.constant(int(asked_to_stop), tf.int32)
        loss, per_step, psnr, norm, stop = self._train_step(batch, flag)
        last_loss = float(loss)
        if not math.isfinite(last_loss):
          good = tf.train.latest_checkpoint(str(self.checkpoint_dir))
          raise DivergedError(
              f"loss is {last_loss} at step {g}; stopped without saving. The "
              f"last good checkpoint is {good or 'none (none written yet)'}. "
              f"Lower trainer.learning_rate or set trainer.clip_norm.")
        stopped = int(stop) > 0
        self.step.assign_add(1)
        progress.update(1)
        progress.set_postfix(loss=f"{last_loss:.4g}",
                             psnr=f"{float(psnr[-1]):.2f}")
        done = g + 1
        with writer.as_default(step=done):
          if done % trainer.log_every == 0:
            rate = batch_size * (done - tick_step) / (time.time() - tick)
            tick, tick_step = time.time(), done
            self._log_scalars(last_loss, per_step, psnr, rate,
                              self.learning_rate_at(g), float(norm))
            if progress.disable and self.is_chief:
              # No terminal (nohup, CI): one line per log interval instead.
              print(f"step {done}/{target} loss {last_loss:.5g} psnr(T) "
                    f"{float(psnr[-1]):.2f} dB {rate:.1f} patches/s",
                    flush=True)
          if self.is_chief and done % trainer.image_every == 0:
            self._log_images(batch)
          if self.is_chief and done % trainer.eval_every == 0:
            self._log_validation(done)
        if done % trainer.checkpoint_every == 0:
          self.save()
      if int(self.step) != self._saved_step:
        self.save()  # The step reached, also when a signal stopped the run.
    finally:
      self._clock_running = False
      progress.close()
      writer.flush()
      for s, handler in previous.items():
        signal.signal(s, handler)
    by_signal = self._stop_signal is not None or (stopped and not out_of_time)
    return {"step": int(self.step), "loss": last_loss,
            "stopped_by_signal": by_signal,
            "stopped_by_time": stopped and not by_signal}

  # -- summaries --------------------------------------------------------

  def _log_scalars(self, loss, per_step, psnr, rate, learning_rate,
                   gradient_norm):
    tf.summary.scalar("loss/total", loss)
    for t, (l, p) in enumerate(zip(per_step.numpy(), psnr.numpy()), 1):
      tf.summary.scalar(f"loss_per_rim_step/t{t:02d}", l)
      tf.summary.scalar(f"psnr_per_rim_step/t{t:02d}", p)
    tf.summary.scalar("learning_rate", learning_rate)
    tf.summary.scalar("gradient_norm", gradient_norm)
    tf.summary.scalar("patches_per_second", rate)

  def _first_replica(self, batch):
    return {k: self.strategy.experimental_local_results(v)[0]
            for k, v in batch.items()}

  def _log_images(self, batch, count=3):
    batch = self._first_replica(batch)
    # Scalars (kind, ratio, scale) describe the whole batch and stay as is.
    batch = {k: v[:count] if v.shape.rank else v for k, v in batch.items()}
    estimates, measurement = self._infer(batch)
    # One row per example: truth | measurement | x_1 ... x_T.
    panels = [batch["x"], measurement] + list(tf.unstack(estimates))
    row = tf.concat([tf.clip_by_value(p, 0.0, 1.0) for p in panels], axis=2)
    tf.summary.image("truth_measurement_estimates", row, max_outputs=count)

  @property
  def best_path(self):
    """run_dir/best.weights.h5: the weights of the best validation so far,
    with best.json (the export JSON plus its "validation")."""
    return self.run_dir / "best.weights.h5"

  def best_validation(self):
    """The mean over streams of the best validation written to `best_path`,
    or None before the first."""
    path = configs.export_json_path(self.best_path)
    if not path.exists():
      return None
    try:
      return float(np.mean(list(json.loads(path.read_text())[
          "validation"].values())))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
      raise ValueError(f"{path} is not a best-weights record of this "
                       f"trainer ({error!r}); delete it and its weights to "
                       f"start the record afresh.") from None

  def _log_validation(self, step):
    results = self.validate()
    for name, value in results.items():
      tf.summary.scalar(f"validation/{name}", value, step=step)
    self.record_best(results)
    if self.average is not None:
      for name, value in self.validate(raw=True).items():
        tf.summary.scalar(f"validation_raw_weights/{name}", value, step=step)

  def record_best(self, results):
    """Exports the weights to `best_path` if `results` (of `validate`, for
    the weights as they are now) beat the best so far; returns whether."""
    best = self.best_validation()
    better = best is None or float(np.mean(list(results.values()))) > best
    if better and self.is_chief:
      self.export_weights(self.best_path, validation=results)
    return better

  def _weights(self, raw=False):
    """Context in which the model holds the weights validated and exported:
    the weight average when trainer.average_decay is set (unless `raw`)."""
    if self.average is None or raw:
      return contextlib.nullcontext()
    return self.average.applied()

  def _infer_graph(self, batch, steps):
    operator = self.task.operator(batch)
    estimates, _ = self.model(batch["y"], operator=operator,
                              sigma=batch["sigma"], steps=steps)
    return estimates, operator.initial_estimate(batch["y"])

  def _infer(self, batch, steps=None):
    """(estimates [T, N, H, W, C], initial estimate) of a batch, compiled."""
    return self._infer_fn(batch, steps or self.config.trainer.rim_steps)

  def validate(self, steps=None, corruption=None, raw=False):
    """Mean PSNR (dB, peak 1) of the final estimate on the held-out patches.

    The validation patches are corrupted with fixed seeds, so numbers are
    comparable across runs of one task. `corruption` replaces the task's
    own (e.g. one fixed sigma, to compare runs trained on different sigma
    ranges). The weights are their average when trainer.average_decay is
    set, unless `raw`. Returns {stream: psnr} ("psnr", or "psnr_x2" ... for
    super-resolution).
    """
    steps = steps or self.config.trainer.rim_steps
    clean = self.patches.validation()
    results = {}
    with self._weights(raw):
      for key in self.task.stream_keys():
        corrupt = corruption or self.task.stream_corruption(key)
        values = []
        for start in range(0, len(clean), 100):
          batch = corrupt({"x": tf.constant(clean[start:start + 100])},
                          tf.constant([12345, start], tf.int64))
          estimates, _ = self._infer(batch, steps)
          values.append(metrics.psnr_tf(estimates[-1], batch["x"]).numpy())
        name = "psnr" if key is None else f"psnr_x{key}"
        results[name] = float(np.mean(np.concatenate(values)))
    return results

  def export_weights(self, path, validation=None):
    """Writes the model's weights (weights only, .weights.h5) to `path`: their
    average when trainer.average_decay is set, as validated. The JSON beside
    them holds the budget, the config and `validation` when given."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with self._weights():
      self.model.save_weights(str(path))
    meta = {"step": int(self.step), "patches_seen":
            int(self.step) * self.config.data.batch_size,
            "train_hours": round(self.training_seconds() / 3600.0, 3),
            "commit": _git_commit(),
            "config": json.loads(self.config.to_json()),
            **({} if validation is None else {"validation": validation})}
    configs.export_json_path(path).write_text(json.dumps(meta, indent=2))
    return path

  def export_best_weights(self, path):
    """Copies the best-validated weights (`best_path`) and their JSON to
    `path`; raises FileNotFoundError if no validation has run yet."""
    if self.best_validation() is None or not self.best_path.exists():
      raise FileNotFoundError(
          f"{self.run_dir} has no best-validated weights yet: they are "
          f"written at every trainer.eval_every steps "
          f"({self.config.trainer.eval_every}).")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(self.best_path, path)
    shutil.copyfile(configs.export_json_path(self.best_path),
                    configs.export_json_path(path))
    return path


def _git_commit():
  """The commit of the rim_tf source tree, or None outside a git checkout."""
  try:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True,
        text=True, check=True, timeout=10,
        cwd=pathlib.Path(__file__).parent).stdout.strip() or None
  except (OSError, subprocess.SubprocessError):
    return None
