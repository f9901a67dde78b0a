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
exports use (`rim_tf.training.weight_average`). Every validation that beats
the run's best so far exports its weights to `run_dir/best.weights.h5` (with
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
import json
import math
import os
import pathlib
import shutil
import signal
import tempfile
import threading
import time

from absl import logging
import numpy as np
import tensorflow as tf
import tqdm

from rim_tf import configs
from rim_tf import model as rim_model
from rim_tf import precision
from rim_tf import pretrained
from rim_tf import tasks as rim_tasks
from rim_tf.training import allocator
from rim_tf.training import checkpoints
from rim_tf.training import exports
from rim_tf.training import optimization
from rim_tf.training import run_folder
from rim_tf.training import strategy as rim_strategy
from rim_tf.training import validation as rim_validation
from rim_tf.training import warm_start
from rim_tf.training import weight_average


class DivergedError(RuntimeError):
  """The loss became NaN or inf; the last checkpoint was left untouched."""


class Trainer:
  """Drives one training run of an ExperimentConfig in `run_dir`.

  Args:
    config: `rim_tf.configs.ExperimentConfig`.
    run_dir: folder of the run (checkpoints/, logs/, config.json).
    strategy: optional tf.distribute strategy; default from the config.
    patches: optional PatchDataset (tests pass small synthetic ones).
    keep_large_buffers: whether to raise glibc's malloc thresholds, so
      that activations are not mapped afresh every step
      (`rim_tf.training.allocator`; process-wide, on a CPU with glibc).
      False leaves them as they are, also if an earlier Trainer raised
      them (`experiments/benchmarks/allocator_speed.py` compares the two).

  Example: two steps of a tiny denoiser on the built-in photos, resumed
  from the run folder's checkpoint by a second trainer:

  >>> import tempfile
  >>> from rim_tf import configs, training
  >>> config = configs.override(configs.preset("smoke", "denoise"), {
  ...     "data.source": "builtin", "model.features": 8,
  ...     "model.gru_features": 8, "trainer.rim_steps": 2,
  ...     "data.batch_size": 4, "data.num_validation": 4})
  >>> with tempfile.TemporaryDirectory() as run_dir:
  ...   first = training.Trainer(config, run_dir).train(steps=2)["step"]
  ...   again = int(training.Trainer(config, run_dir).step)
  >>> first, again
  (2, 2)
  """

  def __init__(self, config, run_dir, strategy=None, patches=None,
               keep_large_buffers=True):
    self.config = config
    self.run_dir = pathlib.Path(run_dir).expanduser()
    self.folder = run_folder.RunFolder(self.run_dir)
    self._check_config()
    self.task = rim_tasks.from_config(config)
    # The strategy first: MultiWorkerMirroredStrategy must configure the
    # collectives before TensorFlow's runtime starts (the patches start it).
    self.strategy = strategy or rim_strategy.make_strategy(
        config.trainer.strategy)
    # Else every activation is mapped afresh each step (rim_tf.training.
    # allocator). It runs a tf.data pipeline, which starts TensorFlow's
    # runtime: after the strategy, for the reason above.
    if keep_large_buffers:
      allocator.keep_large_buffers()
    self.patches = (patches if patches is not None
                    else self.task.training_patches(config.data))
    # The chief writes config, logs and checkpoints; other workers only
    # take part in the collective saves (into a scratch folder).
    self.is_chief = bool(self.strategy.extended.should_checkpoint)
    if self.is_chief:
      self.folder.lock()
    self._multi_worker = isinstance(
        self.strategy, tf.distribute.MultiWorkerMirroredStrategy)
    self.checkpoint_dir = self.folder.checkpoints
    # Training time of an exported run this one continues (init_continue).
    self._carried_seconds = 0.0
    self._clock_running = False
    self.policy = precision.policy(config.trainer.mixed_precision)
    if config.trainer.mixed_precision and self.policy == "float32":
      logging.warning(
          "trainer.mixed_precision: this machine has no native bfloat16 "
          "(no GPU of compute capability 8.0 or later, no AVX-512 BF16 or "
          "AMX), where it is emulated and about 10x slower than float32; "
          "training in float32.")
    self._schedule = optimization.learning_rate_schedule(config.trainer)
    # Outside the scope: one host-side counter, updated between steps.
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False,
                            name="global_step")
    with self.strategy.scope():
      self.model = self.task.build_model(config, self.policy)
      self.optimizer = optimization.make_optimizer(
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
    # Before the manager reads the folder's list of checkpoints.
    self._resume_from = self._newest_good_checkpoint()
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, self._scratch_dir or str(self.checkpoint_dir),
        max_to_keep=config.trainer.keep_checkpoints if self.is_chief else 1)
    self._restore()
    if self.is_chief:
      self.folder.write_config(config)  # Once the folder is known to fit.
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
    self.folder.check_config(self.config)

  def _restore(self):
    # Every worker restores the chief's newest good checkpoint.
    latest = self._resume_from
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
      logging.info(f"Resumed from {latest} at step {int(self.step)}.")
    elif self.config.trainer.init_weights:
      init = pathlib.Path(self.config.trainer.init_weights)
      if not init.is_file():  # Else a shipped name (or a missing file).
        init = pretrained.resolve(self.config.trainer.init_weights)
      warm_start.load_init_weights(self.model, self.config, init,
                                   self.policy)
      # A continued run is the same run: its eps was learned for this
      # problem, so only a warm start from a donor can start it afresh.
      if not (self.config.trainer.init_keep_likelihood
              or self.config.trainer.init_continue):
        self.model.likelihood.reset()
      start_average = True
      if self.config.trainer.init_continue:
        exported = warm_start.exported_run(self.config, init)
        self.step.assign(exported["step"])
        self._carried_seconds = 3600.0 * exported.get("train_hours", 0.0)
        logging.info(f"Continuing the run of {init} at step "
                     f"{exported['step']}, with its eps (not started "
                     f"afresh, whatever trainer.init_keep_likelihood says).")
      else:
        logging.info(f"Warm start from {init}.")
    else:
      start_average = False  # The average was made from these weights.
    if start_average and self.average is not None:
      self.average.reset()

  def _newest_good_checkpoint(self):
    """The newest checkpoint of the run folder that reads, or None if the
    folder has none. The chief sets newer unreadable ones aside
    (`checkpoints.set_aside`, one warning each) and lists only the good
    ones, so that saving never rotates a good checkpoint out for a bad one.

    Raises:
      ValueError: the folder has checkpoints and none of them reads;
        training does not start over them from step 0.
    """
    present = checkpoints.present(self.checkpoint_dir)
    good = [p for p in present if checkpoints.problem(p) is None]
    bad = [p for p in present if p not in good]
    if present and not good:
      reasons = "; ".join(f"{pathlib.Path(p).name}: "
                          f"{checkpoints.problem(p)}" for p in present)
      raise ValueError(
          f"no checkpoint in {self.checkpoint_dir} can be restored "
          f"({reasons}); training does not start over them. Continue from "
          f"exported weights with --set=trainer.init_weights=PATH "
          f"--set=trainer.init_continue=true in a new run folder, or move "
          f"the checkpoints away.")
    if self.is_chief:
      for path in checkpoints.remove_unfinished(self.checkpoint_dir):
        logging.warning(f"removed {path}: the partial files of a save that "
                        f"was interrupted.")
    if bad and self.is_chief:
      for prefix in bad:
        reason = checkpoints.problem(prefix)
        checkpoints.set_aside(prefix)
        logging.warning(f"checkpoint {prefix} is unusable ({reason}); set "
                        f"aside as {pathlib.Path(prefix).name}.bad.*.")
      checkpoints.list_only(self.checkpoint_dir, good)
    return good[-1] if good else None

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
      logging.warning(f"{path} holds a weight average of another layout: "
                      f"the average restarts at the restored weights.")
    return tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                               step=self.step), True

  def _datasets(self):
    """One distributed iterator per stream, positioned at the global step."""
    start = int(self.step)
    keys = self.task.stream_keys()
    iterators = {}
    for key in keys:

      def dataset_fn(context, key=key):
        return self.task.build_inputs(self.patches, self.config.data, key,
                                      start, input_context=context)

      iterators[key] = iter(
          self.strategy.distribute_datasets_from_function(dataset_fn))
    return keys, iterators

  # -- the step ---------------------------------------------------------

  def _replica_step(self, batch):
    return self.task.train_step(
        self.model, self.optimizer, batch, self.config.trainer,
        self._step_weights, self.strategy.num_replicas_in_sync)

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

  def training_seconds(self):
    """Wall-clock seconds spent training this run, over all its resumptions."""
    previous = self.folder.budget_seconds()
    if previous is None:
      previous = self._carried_seconds
    if not self._clock_running:
      return previous  # train() saved its time before returning.
    return previous + time.time() - self._budget_clock

  def _write_budget(self):
    self.folder.write_budget(
        int(self.step), self.training_seconds(),
        int(self.step) * self.config.data.batch_size)
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
    checkpoints, as for a signal, so a run fits a time slot.

    Returns:
      dict with the final step, last loss, and whether a signal or the time
      limit stopped it.

    Raises:
      DivergedError: the loss became NaN or inf (nothing of that step saved).
    """
    trainer = self.config.trainer
    target = trainer.train_steps if steps is None else steps
    start = time.time()
    deadline = None if max_seconds is None else start + max_seconds
    out_of_time = False
    # The budget counts time in this call, not the time between calls.
    self._budget_clock = start
    self._clock_running = True
    keys, iterators = self._datasets()
    writer = (tf.summary.create_file_writer(str(self.folder.logs))
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
              logging.info(f"step {done}/{target} loss {last_loss:.5g} "
                           f"psnr(T) {float(psnr[-1]):.2f} dB {rate:.1f} "
                           f"patches/s")
          if self.is_chief and done % trainer.image_every == 0:
            self._log_images(batch)
          if self.is_chief and done % trainer.eval_every == 0:
            self._log_validation(done)
        if done % trainer.checkpoint_every == 0:
          self.save()
      if int(self.step) != self._saved_step:
        self.save()  # The step reached, also when a signal stopped the run.
      elif self.is_chief:
        # No step since the last save (a limit shorter than the set-up, a
        # finished run): the time still counts, or a loop of such calls
        # would never end.
        self._write_budget()
    finally:
      self._clock_running = False
      progress.close()
      writer.flush()
      for s, handler in previous.items():
        signal.signal(s, handler)
    by_signal = self._stop_signal is not None or (stopped and not out_of_time)
    return {"step": int(self.step), "loss": last_loss,
            "stopped_by_signal": by_signal,
            "stopped_by_time": stopped and not by_signal,
            "signal": self._stop_signal}

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
    columns = [batch["x"], measurement] + list(tf.unstack(estimates))
    row = tf.concat([tf.clip_by_value(c, 0.0, 1.0) for c in columns], axis=2)
    tf.summary.image("truth_measurement_estimates", row, max_outputs=count)

  @property
  def best_path(self):
    """run_dir/best.weights.h5: the weights of the best validation so far
    (`RunFolder.best_weights`)."""
    return self.folder.best_weights

  def best_validation(self):
    """The mean over streams of the best validation written to `best_path`,
    or None before the first."""
    return self.folder.best_validation()

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
    return self.task.infer(self.model, batch, steps)

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
    with self._weights(raw):
      return rim_validation.held_out_psnr(
          self.task, lambda batch: self._infer(batch, steps),
          self.patches.validation(), corruption)

  def export_weights(self, path, validation=None):
    """Writes the model's weights (weights only, .weights.h5) to `path`: their
    average when trainer.average_decay is set, as validated. The JSON beside
    them holds the budget, the config and `validation` when given."""
    meta = {"step": int(self.step), "patches_seen":
            int(self.step) * self.config.data.batch_size,
            "train_hours": round(self.training_seconds() / 3600.0, 3),
            "commit": exports.git_commit(),
            # What it trained in: trainer.mixed_precision asks for bfloat16
            # only where the machine has it (rim_tf.precision).
            "policy": self.policy,
            "config": json.loads(self.config.to_json()),
            **({} if validation is None else {"validation": validation})}
    with self._weights():
      return exports.write(self.model, path, meta)

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
