"""Tests of rim_tf.training: distribution, resumption, signals, logs, errors.

Tiny synthetic runs: random 24x24 images, 8x8 patches, a RIM of 8 features
unrolled 2 steps, global batches of 4. Runs that need a fresh TensorFlow
(logical CPU devices, MultiWorkerMirroredStrategy, SIGKILL/SIGTERM) execute
this file as a script (`python tests/test_train.py '<json options>'`, see
`_child_main`); its hook prints one JSON line per training step.

Multi-replica equality. The RIM's batch norms normalise each replica's
share of the global batch (synchronised batch norm would need cross-replica
sums inside the RIM's tf.while_loop, which MirroredStrategy cannot do), so
the single-device reference here is the same global batch split into the
same "ghost" halves: loss = mean of the halves' losses, one gradient, Adam
with Keras' own single-device global-norm clip. Everything else (gradients
summed over replicas exactly once, the clip acting on that sum, the loss
scaling, the input sharding) must then agree to float32 round-off. The
super-resolution task with noise-free measurements is used there because its
corruption has no randomness, so a replica's half is corrupted exactly as in
the global batch (noisy corruptions are seeded per replica sub-batch).
"""

import json
import logging
import os
import pathlib
import select
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time

from absl import logging as absl_logging
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from rim_tf import configs  # pylint: disable=g-import-not-at-top
from rim_tf import data as rim_data  # pylint: disable=g-import-not-at-top
from rim_tf import model as rim_model  # pylint: disable=g-import-not-at-top
from rim_tf import precision  # pylint: disable=g-import-not-at-top
from rim_tf import tasks  # pylint: disable=g-import-not-at-top
from rim_tf import training  # pylint: disable=g-import-not-at-top
from rim_tf.training import norm_calibration  # pylint: disable=g-import-not-at-top
from rim_tf.training import trainer as trainer_module  # pylint: disable=g-import-not-at-top
from synthetic import FakeClock  # pylint: disable=g-import-not-at-top

THIS_FILE = pathlib.Path(__file__).resolve()
REPO = THIS_FILE.parent.parent
BATCH = 4
PATCH = 8
RIM_STEPS = 2
# Clip far below the gradient norm (~0.1 here) so clipping is always active.
CLIP = 1e-3
DIST_STEPS = 3  # Steps of the multi-replica comparisons.
# Far from 1, so that after DIST_STEPS steps the average is far from the
# weights.
AVERAGE_DECAY = 0.5


def _policy(config):
  """The dtype policy a Trainer of `config` builds its model in."""
  return precision.policy(config.trainer.mixed_precision)


def tiny_patches(channels=1, seed=0):
  rng = np.random.default_rng(seed)
  images = [rng.integers(0, 256, (24, 24, channels), dtype=np.uint8)
            for _ in range(2)]
  return rim_data.PatchDataset(images, patch_size=PATCH, stride=4,
                               num_validation=2)


def tiny_config(task="denoise", **overrides):
  """The smoke preset shrunk further; `overrides` as {"trainer.x": v}."""
  task_args = {"patch": PATCH}
  if task == "superres":
    task_args.update(scales=(2,), noise_sigma_255=0.0)
  values = {
      "task_args": task_args, "model.features": 8, "model.gru_features": 8,
      "data.batch_size": BATCH, "data.num_validation": 2,
      "trainer.rim_steps": RIM_STEPS, "trainer.train_steps": 12,
      "trainer.learning_rate": 3e-3, "trainer.lr_schedule": "cosine",
      "trainer.strategy": "mirrored", "trainer.checkpoint_every": 4,
      "trainer.log_every": 1, "trainer.image_every": 4,
      "trainer.eval_every": 4}
  values.update(overrides)
  return configs.override(configs.preset("smoke", task), values)


def distributed_config(init_weights, strategy):
  return tiny_config(
      "superres", **{"trainer.clip_norm": CLIP,
                     "trainer.init_weights": str(init_weights),
                     # The shared start, not a warm start: the reference
                     # Adam has no ramp.
                     "trainer.init_ramp_steps": 0,
                     "trainer.average_decay": AVERAGE_DECAY,
                     "trainer.strategy": strategy,
                     "trainer.image_every": 2,
                     "trainer.checkpoint_every": 100})


def hook_steps(trainer, pause_after=None, log=print):
  """Wraps the compiled step: logs each step; may pause for a signal.

  After step `pause_after` it prints "PAUSED" and waits until a
  SIGINT/SIGTERM has reached the trainer's handler (or until the parent
  sends SIGKILL); the parent's own timeouts bound the wait. A deadline here
  would let a slow parent on a loaded machine see one step too many.
  """
  inner = trainer._train_step  # pylint: disable=protected-access
  local = trainer.strategy.experimental_local_results

  def step(batch, flag):
    g = int(trainer.step)
    outputs = inner(batch, flag)
    log(json.dumps({
        "step": g, "loss": float(outputs[0]),
        "x_sum": float(sum(tf.reduce_sum(v) for v in local(batch["x"]))),
        "y_sum": float(sum(tf.reduce_sum(v) for v in local(batch["y"])))}))
    if g == pause_after:
      print("PAUSED", flush=True)
      while trainer._stop_signal is None:  # pylint: disable=protected-access
        time.sleep(0.01)
    return outputs

  trainer._train_step = step  # pylint: disable=protected-access


STATE_KINDS = ("weights", "momentum", "velocity", "average")


def warm_decay(decay, k):
  """The weight average's decay at its k-th update, warm-up included."""
  return min(decay, (1 + k) / (10 + k))


def state_arrays(model, optimizer, average):
  """Trainable weights, Adam's moments m ("momentum"), v ("velocity") and
  their averages (from the average of all weights: a list of arrays, or a
  WeightAverage)."""
  state = {"weights": [v.numpy() for v in model.trainable_variables]}
  for kind in ("momentum", "velocity"):
    state[kind] = [v.numpy() for v in optimizer.variables
                   if v.path.endswith(f"_{kind}")]
  averages = getattr(average, "shadows", average)
  assert len(averages) == len(model.weights)
  # Of the trainable weights: the batch norms' moving statistics differ
  # from the ghost-batch reference's by construction (each replica updates
  # its own copy from its half, the reference updates from both halves in
  # sequence).
  state["average"] = [np.asarray(a) for a, w in zip(averages, model.weights)
                      if w.trainable]
  for kind in STATE_KINDS[1:]:
    assert len(state[kind]) == len(state["weights"]), kind
  return state


def save_state(path, losses, state):
  arrays = {"losses": np.asarray(losses, np.float64)}
  for kind, values in state.items():
    arrays.update({f"{kind}_{i:03d}": a for i, a in enumerate(values)})
  np.savez(path, **arrays)


def load_state(path):
  with np.load(path) as f:
    arrays = dict(f)
  state = {kind: [arrays[k] for k in sorted(arrays) if k.startswith(kind)]
           for kind in STATE_KINDS}
  return arrays["losses"], state


# -- the child process --------------------------------------------------------


def _child_main(options):
  """Runs one training in a fresh process, as described by `options`."""
  if options.get("logical_cpus"):
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] *
        options["logical_cpus"])
  config = configs.ExperimentConfig.from_json(options["config"])
  # The Trainer's own choice, made before the patches start TF's runtime.
  strategy = training.make_strategy(config.trainer.strategy)
  trainer = training.Trainer(config, options["run_dir"], strategy=strategy,
                          patches=tiny_patches(options.get("channels", 1)))
  print(json.dumps({"replicas": trainer.strategy.num_replicas_in_sync,
                    "chief": trainer.is_chief,
                    "start_step": int(trainer.step)}), flush=True)
  losses = []

  def log(line):
    losses.append(json.loads(line)["loss"])
    print(line, flush=True)

  hook_steps(trainer, options.get("pause_after"), log)
  result = trainer.train(options.get("steps"))
  print(json.dumps({"result": result}), flush=True)
  if options.get("out"):
    save_state(options["out"], losses,
               state_arrays(trainer.model, trainer.optimizer, trainer.average))
  if options.get("check_restore"):
    # A second Trainer restores the checkpoint just written: every replica's
    # copy of every weight and Adam moment equals the live state.
    again = training.Trainer(config, options["run_dir"], strategy=strategy,
                          patches=tiny_patches(options.get("channels", 1)))
    def copies(variable):
      # A Keras variable wraps the distributed tf.Variable (the averages
      # are tf.Variables themselves).
      distributed = (variable if isinstance(variable, tf.Variable)
                     else variable.value)
      return [c.numpy() for c in
              strategy.experimental_local_results(distributed)]

    pairs = list(zip(
        trainer.model.weights + trainer.optimizer.variables +
        trainer.average.shadows + [trainer.average.updates],
        again.model.weights + again.optimizer.variables +
        again.average.shadows + [again.average.updates], strict=True))
    equal = int(again.step) == int(trainer.step) and all(
        np.array_equal(c, copies(live)[0])
        for live, restored in pairs for c in copies(restored))
    # The average is updated in cross-replica context: every live copy.
    average_copies_equal = all(
        np.array_equal(c, copies(v)[0])
        for v in trainer.average.shadows + [trainer.average.updates]
        for c in copies(v))
    print(json.dumps({"restored_equal": bool(equal),
                      "average_copies_equal": average_copies_equal,
                      "copies": len(copies(again.model.weights[0]))}),
          flush=True)


def _python_env(extra=None):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
             PYTHONPATH=os.pathsep.join(
                 [str(REPO)] + [p for p in os.environ.get(
                     "PYTHONPATH", "").split(os.pathsep) if p]))
  env.pop("TF_CONFIG", None)
  env.update(extra or {})
  return env


def start_child(options, log_path, env=None):
  return subprocess.Popen(
      [sys.executable, str(THIS_FILE), json.dumps(options)],
      stdout=subprocess.PIPE, stderr=open(log_path, "wb"), text=True,
      env=_python_env(env), cwd=str(REPO))


def read_lines(process, until=None, timeout=180.0):
  """stdout lines of `process` until the line `until` (or its end).

  Reads the pipe's file descriptor directly: a buffered readline after
  select() can pull several lines into Python's buffer, and select() then
  never reports the ones left there.
  """
  lines, deadline = [], time.time() + timeout
  fd = process.stdout.fileno()
  pending = getattr(process, "pending_output", b"")
  try:
    while True:
      while b"\n" in pending:
        line, pending = pending.split(b"\n", 1)
        lines.append(line.decode())
        if until is not None and lines[-1] == until:
          return lines
      remaining = deadline - time.time()
      if remaining <= 0:
        raise TimeoutError(f"child gave no {until!r} within {timeout} s; "
                           f"got {lines}")
      ready, _, _ = select.select([fd], [], [], remaining)
      if not ready:
        continue
      chunk = os.read(fd, 65536)
      if not chunk:
        if pending:
          lines.append(pending.decode())
          pending = b""
        return lines
      pending += chunk
  finally:
    process.pending_output = pending


def header(lines):
  return next(json.loads(l) for l in lines if l.startswith('{"replicas"'))


def final_result(lines):
  return next(json.loads(l)["result"] for l in lines
              if l.startswith('{"result"'))


def step_records(lines):
  records = [json.loads(l) for l in lines if l.startswith('{"step"')]
  return {r["step"]: r for r in records}


def stop(process):
  if process.poll() is None:
    process.kill()
  process.wait(timeout=30)


def child_stderr(path):
  text = pathlib.Path(path).read_text(errors="replace")
  return "\n".join(text.splitlines()[-30:])


# -- fixtures -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ghost_batch_reference(tmp_path_factory):
  """DIST_STEPS steps on one device of the global batch as two ghost halves.

  Written independently of the Trainer: Keras Adam with its own
  global-norm clip (correct on one device), the loss the mean of the
  halves' losses. Returns (initial weights file, losses, state arrays).
  """
  folder = tmp_path_factory.mktemp("reference")
  config = distributed_config(folder / "init.weights.h5", "default")
  task = tasks.from_config(config)
  model = tasks.from_config(config).build_model(config)
  model.save_weights(str(folder / "init.weights.h5"))
  optimizer = keras.optimizers.Adam(
      training.learning_rate_schedule(config.trainer), global_clipnorm=CLIP,
      name="adam")
  optimizer.build(model.trainable_variables)
  dataset = tiny_patches().train_dataset(
      BATCH, task.stream_corruption(task.stream_keys()[0]),
      seed=config.data.seed, num_batches=DIST_STEPS)
  losses, norms = [], []
  # A warm start: the average takes its full decay from the first step.
  average = [v.numpy() for v in model.weights]
  for batch in dataset:
    with tf.GradientTape() as tape:
      halves = []
      for half in (slice(0, BATCH // 2), slice(BATCH // 2, BATCH)):
        part = {k: v[half] if v.shape.rank else v for k, v in batch.items()}
        estimates, _ = model(part["y"], operator=task.operator(part),
                             sigma=part["sigma"], training=True)
        halves.append(rim_model.rim_loss(estimates, part["x"])[0])
      loss = (halves[0] + halves[1]) / 2
    gradients = tape.gradient(loss, model.trainable_variables)
    norms.append(float(tf.linalg.global_norm(gradients)))
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    average = [AVERAGE_DECAY * a + (1 - AVERAGE_DECAY) * v.numpy()
               for a, v in zip(average, model.weights)]
    losses.append(float(loss))
  assert min(norms) > 10 * CLIP, "the clip must be active in this test"
  return (folder / "init.weights.h5", np.asarray(losses),
          state_arrays(model, optimizer, average))


def assert_same_training(losses, state, reference):
  """Equal up to float32 round-off of a different summation order.

  The replicas add the same terms as the reference in another order
  (relative error ~1e-7 per sum). Losses: rtol 1e-5. Weights (and their
  average) move by ~lr = 3e-3 per step; atol 2e-6 is < 0.1 % of a step. A wrong clip or a
  gradient summed twice changes Adam's moments by factors (its updates
  hide a scale error, Adam being scale invariant), so m and v are compared
  too, to 1e-4 of the largest entry of their kind (the biases feeding a
  batch norm have a zero true gradient: their moments are round-off noise).
  """
  _, ref_losses, ref_state = reference
  np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
  for kind in STATE_KINDS:
    got, want = state[kind], ref_state[kind]
    assert len(got) == len(want)
    scale = max(np.abs(w).max() for w in want)
    atol = 2e-6 if kind in ("weights", "average") else 1e-4 * scale
    for g, w in zip(got, want):
      np.testing.assert_allclose(g, w, rtol=0, atol=atol, err_msg=kind)


# -- 1. MirroredStrategy over two logical CPU devices -----------------------------


def test_mirrored_two_replicas_train_as_one_device(ghost_batch_reference,
                                                    tmp_path):
  init, _, _ = ghost_batch_reference
  config = distributed_config(init, "mirrored")
  out = tmp_path / "mirrored.npz"
  process = start_child(
      {"config": config.to_json(), "run_dir": str(tmp_path / "run"),
       "logical_cpus": 2, "steps": DIST_STEPS, "out": str(out),
       "check_restore": True},
      tmp_path / "stderr.txt")
  try:
    lines = read_lines(process, timeout=180)
    assert process.wait(timeout=30) == 0, child_stderr(tmp_path / "stderr.txt")
  finally:
    stop(process)
  assert header(lines)["replicas"] == 2
  # The optimizer state restores into both replicas' variables.
  assert json.loads(lines[-1]) == {"restored_equal": True,
                                   "average_copies_equal": True, "copies": 2}
  losses, state = load_state(out)
  assert len(losses) == DIST_STEPS
  assert_same_training(losses, state, ghost_batch_reference)
  # The image panels were logged from a per-replica batch (step 2).
  tags = event_tags(tmp_path / "run" / "logs")
  assert "truth_measurement_estimates" in tags


# -- 2. MultiWorkerMirroredStrategy: two processes on this machine -----------------


def free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  try:
    for s in sockets:
      s.bind(("127.0.0.1", 0))
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def test_multi_worker_two_processes_train_as_one_device(
    ghost_batch_reference, tmp_path):
  """Two workers on 127.0.0.1; SIGTERM to the non-chief stops both.

  Worker 1 pauses after step DIST_STEPS - 2 until its SIGTERM arrives; the
  stop flag is summed over workers in the next step, so both take step
  DIST_STEPS - 1 and stop together with a checkpoint at DIST_STEPS.
  """
  init, _, _ = ghost_batch_reference
  config = distributed_config(init, "multi_worker")
  ports = free_ports(2)
  cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
  run_dir = tmp_path / "run"
  processes = []
  try:
    for index in range(2):
      options = {"config": config.to_json(), "run_dir": str(run_dir),
                 "steps": 100, "out": str(tmp_path / f"worker{index}.npz")}
      if index == 1:
        options["pause_after"] = DIST_STEPS - 2
      tf_config = {"cluster": cluster,
                   "task": {"type": "worker", "index": index}}
      processes.append(start_child(
          options, tmp_path / f"stderr{index}.txt",
          env={"TF_CONFIG": json.dumps(tf_config)}))
    lines1 = read_lines(processes[1], until="PAUSED", timeout=200)
    processes[1].send_signal(signal.SIGTERM)
    lines1 += read_lines(processes[1], timeout=60)
    lines0 = read_lines(processes[0], timeout=60)
    for index, process in enumerate(processes):
      assert process.wait(timeout=30) == 0, child_stderr(
          tmp_path / f"stderr{index}.txt")
  finally:
    for process in processes:
      stop(process)
  for lines in (lines0, lines1):
    assert header(lines)["replicas"] == 2
    result = final_result(lines)
    assert {k: v for k, v in result.items() if k != "signal"} == {
        "step": DIST_STEPS, "loss": result["loss"],
        "stopped_by_signal": True, "stopped_by_time": False}
  assert header(lines0)["chief"] and not header(lines1)["chief"]
  losses, state = load_state(tmp_path / "worker0.npz")
  assert_same_training(losses, state, ghost_batch_reference)
  # Only the chief writes into the run folder, at the step both reached.
  assert tf.train.latest_checkpoint(str(run_dir / "checkpoints")).endswith(
      f"ckpt-{DIST_STEPS}")
  assert sorted(p.name for p in run_dir.iterdir()) == [
      "budget.json", "checkpoints", "config.json", "logs"]


# -- 3. SIGKILL and SIGTERM: resume at the same step and data position --------------


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
  """12 steps of the denoising run in one go, with its per-step records."""
  run_dir = tmp_path_factory.mktemp("uninterrupted")
  # Every run of this config starts from the same weights (warm start).
  init = tmp_path_factory.mktemp("init") / "init.weights.h5"
  config = tiny_config(**{"trainer.init_weights": str(init)})
  tasks.from_config(config).build_model(config, _policy(config)).save_weights(str(init))
  trainer = training.Trainer(config, run_dir, patches=tiny_patches())
  lines = []
  hook_steps(trainer, log=lines.append)
  result = trainer.train()
  return run_dir, config, trainer, step_records(lines), result


def assert_records_match(records, reference):
  assert records
  for g, record in records.items():
    want = reference[g]
    # The same patches and noise: the same data position.
    assert record["x_sum"] == want["x_sum"], g
    assert record["y_sum"] == pytest.approx(want["y_sum"], rel=1e-6), g
    assert record["loss"] == pytest.approx(want["loss"], rel=1e-5), g


def test_killed_run_resumes_at_same_step_and_data(uninterrupted, tmp_path):
  _, config, _, reference, _ = uninterrupted
  run_dir = tmp_path / "run"
  options = {"config": config.to_json(), "run_dir": str(run_dir)}
  checkpoints = run_dir / "checkpoints"
  # Run 1: SIGKILL after step 6 (checkpoint_every 4: steps 4-6 are lost).
  process = start_child({**options, "pause_after": 6}, tmp_path / "e1.txt")
  try:
    lines = read_lines(process, until="PAUSED", timeout=120)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
  finally:
    stop(process)
  first = step_records(lines)
  assert sorted(first) == list(range(7))
  assert tf.train.latest_checkpoint(str(checkpoints)).endswith("ckpt-4")

  # Run 2: resumes at 4; SIGTERM after step 8 saves at step 9, exits cleanly.
  process = start_child({**options, "pause_after": 8}, tmp_path / "e2.txt")
  try:
    lines = read_lines(process, until="PAUSED", timeout=120)
    process.send_signal(signal.SIGTERM)
    lines += read_lines(process, timeout=60)
    assert process.wait(timeout=30) == 0, child_stderr(tmp_path / "e2.txt")
  finally:
    stop(process)
  assert header(lines)["start_step"] == 4
  second = step_records(lines)
  assert sorted(second) == list(range(4, 9))
  assert final_result(lines)["stopped_by_signal"]
  assert final_result(lines)["step"] == 9
  assert tf.train.latest_checkpoint(str(checkpoints)).endswith("ckpt-9")

  # Run 3 (here): resumes at 9 and finishes.
  trainer = training.Trainer(config, run_dir, patches=tiny_patches())
  assert int(trainer.step) == 9
  lines = []
  hook_steps(trainer, log=lines.append)
  assert trainer.train()["step"] == 12
  third = step_records(lines)
  assert sorted(third) == [9, 10, 11]
  for records in (first, second, third):
    assert_records_match(records, reference)


# -- 4. TensorBoard and the resolved config ----------------------------------------


def read_events(log_dir):
  """{tag: {step: value}}; image summaries give the decoded [H, W, C]."""
  events = {}
  for path in sorted(pathlib.Path(log_dir).glob("events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(str(path)):
      for value in event.summary.value:
        array = tf.make_ndarray(value.tensor)
        if value.metadata.plugin_data.plugin_name == "images":
          array = tf.io.decode_png(array[2]).numpy()
        events.setdefault(value.tag, {})[event.step] = array
  return events


def event_tags(log_dir):
  return set(read_events(log_dir))


def test_tensorboard_has_scalars_and_image_panels(uninterrupted):
  run_dir, config, trainer, reference, _ = uninterrupted
  events = read_events(run_dir / "logs")
  steps = list(range(1, 13))
  for t in range(1, RIM_STEPS + 1):
    assert sorted(events[f"loss_per_rim_step/t{t:02d}"]) == steps
    assert sorted(events[f"psnr_per_rim_step/t{t:02d}"]) == steps
  for tag in ("patches_per_second", "gradient_norm"):
    assert all(v > 0 for v in events[tag].values())
  # loss/total at TB step g + 1 is the loss of step g, and the sum over t.
  for g, record in reference.items():
    assert events["loss/total"][g + 1] == pytest.approx(record["loss"],
                                                        rel=1e-6)
    assert events["loss/total"][g + 1] == pytest.approx(sum(
        events[f"loss_per_rim_step/t{t:02d}"][g + 1]
        for t in range(1, RIM_STEPS + 1)), rel=1e-5)
  # The learning rate the update of step g used: cosine from 3e-3.
  schedule = training.learning_rate_schedule(config.trainer)
  for g in range(12):
    assert events["learning_rate"][g + 1] == pytest.approx(
        float(schedule(g)), rel=1e-6)
  assert events["learning_rate"][1] == pytest.approx(3e-3)
  assert events["learning_rate"][12] < 1e-3
  assert sorted(events["validation/psnr"]) == [4, 8, 12]
  # Panels: one row per example, truth | measurement | x_1 .. x_T.
  panels = events["truth_measurement_estimates"]
  assert sorted(panels) == [4, 8, 12]
  assert panels[4].shape == (PATCH, (2 + RIM_STEPS) * PATCH, 1)
  # The resolved config next to the checkpoints.
  assert configs.ExperimentConfig.from_json(
      (run_dir / "config.json").read_text()) == config
  assert (run_dir / "checkpoints" / "checkpoint").exists()
  assert trainer.manager.latest_checkpoint.endswith("ckpt-12")


# -- 5. NaN loss ------------------------------------------------------------------------


class PoisonedPatches(rim_data.PatchDataset):
  """From global step `poison_from` on, every measurement y is NaN.

  Stands for a corrupt input batch; one replica, one stream, so element i
  of a stream started at `start_batch` is global step start_batch + i.
  """

  poison_from = 5

  def train_dataset(self, batch_size, corruption=None, start_batch=0,
                    **kwargs):
    dataset = super().train_dataset(batch_size, corruption,
                                    start_batch=start_batch, **kwargs)

    def poison(i, batch):
      bad = start_batch + i >= self.poison_from
      nan = tf.fill(tf.shape(batch["y"]), np.float32(np.nan))
      return {**batch, "y": tf.where(bad, nan, batch["y"])}

    return dataset.enumerate().map(poison)


def folder_snapshot(folder):
  return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_nan_loss_raises_diverged_error_and_keeps_checkpoints(tmp_path):
  config = tiny_config(**{"trainer.clip_norm": None,"trainer.checkpoint_every": 2,
                          "trainer.eval_every": 100,
                          "trainer.image_every": 100})
  images = tiny_patches()._images  # pylint: disable=protected-access
  patches = PoisonedPatches(images, patch_size=PATCH, stride=4,
                            num_validation=2)
  trainer = training.Trainer(config, tmp_path, patches=patches)
  assert trainer.train(4)["step"] == 4
  before = folder_snapshot(tmp_path / "checkpoints")
  with pytest.raises(training.DivergedError) as error:
    trainer.train(10)
  message = str(error.value)
  assert "at step 5" in message
  assert str(tmp_path / "checkpoints" / "ckpt-4") in message
  assert folder_snapshot(tmp_path / "checkpoints") == before
  assert int(trainer.step) == 5  # Step 4 ran (finite); 5 did not count.


# -- 6. Corrupt checkpoints, folders of other models ------------------------------


@pytest.fixture
def finished_run(tmp_path):
  config = tiny_config(**{"trainer.eval_every": 100,
                          "trainer.image_every": 100})
  trainer = training.Trainer(config, tmp_path, patches=tiny_patches())
  trainer.train(2)
  return tmp_path, config


@pytest.mark.parametrize("part", ["data-00000-of-00001", "index"])
def test_corrupt_checkpoint_gives_clear_error(finished_run, part):
  run_dir, config = finished_run
  target = run_dir / "checkpoints" / f"ckpt-2.{part}"
  content = target.read_bytes()
  target.write_bytes(content[:len(content) // 2] + b"\x00garbage")
  with pytest.raises(ValueError, match=r"no checkpoint in .* can be "
                     r"restored \(ckpt-2: it cannot be read"):
    training.Trainer(config, run_dir, patches=tiny_patches())


def test_run_folder_of_another_model_gives_clear_error(finished_run):
  run_dir, config = finished_run
  other = configs.override(config, {"model.features": 16})
  with pytest.raises(ValueError, match="another model"):
    training.Trainer(other, run_dir, patches=tiny_patches())
  # Without its config.json, the checkpoint itself does not fit.
  (run_dir / "config.json").unlink()
  with pytest.raises(ValueError, match="could not be restored"):
    training.Trainer(other, run_dir, patches=tiny_patches())
  assert not (run_dir / "config.json").exists()  # Nothing claimed the folder.
  superres = configs.override(config, {"task": "superres",
                                       "task_args": {"patch": PATCH}})
  (run_dir / "config.json").write_text(superres.to_json())
  with pytest.raises(ValueError, match="another model or task"):
    training.Trainer(config, run_dir, patches=tiny_patches())
  (run_dir / "config.json").write_text("{not json")
  with pytest.raises(ValueError, match="not a readable rim_tf config"):
    training.Trainer(config, run_dir, patches=tiny_patches())


# -- Augmentation and the best-validated weights ---------------------------------


def test_an_augmenting_run_trains_on_the_augmented_stream(tmp_path):
  config = tiny_config(**{"data.augment": True})
  trainer = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  keys, iterators = trainer._datasets()  # pylint: disable=protected-access
  got = trainer._first_replica(next(iterators[keys[0]]))  # pylint: disable=protected-access
  want = next(iter(tiny_patches().train_dataset(
      BATCH, trainer.task.stream_corruption(None), seed=config.data.seed,
      augment=True, include_coordinates=True)))
  assert np.any(want["transform"].numpy() != 0)
  np.testing.assert_array_equal(got["x"].numpy(), want["x"].numpy())


def test_a_run_with_step_statistics_moves_one_row_per_rim_step(tmp_path):
  config = tiny_config(**{"model.norm_steps": RIM_STEPS})
  trainer = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  trainer.train(1)
  for norm in trainer.model.cell.norm_layers():
    rows = norm.moving_mean.numpy()
    assert rows.shape == (RIM_STEPS, 8)
    assert np.all(np.any(rows != 0.0, axis=1))  # Every step's row moved,
    assert not np.allclose(rows[0], rows[1])  # each to its own step's.


def test_the_best_validation_is_exported_as_it_happens(uninterrupted,
                                                       tmp_path):
  run_dir, config, trainer, _, _ = uninterrupted
  logged = read_events(run_dir / "logs")["validation/psnr"]
  assert sorted(logged) == [4, 8, 12]
  best_step = max(logged, key=lambda step: float(logged[step]))
  meta = json.loads((run_dir / "best.json").read_text())
  assert meta["step"] == best_step
  assert meta["validation"]["psnr"] == pytest.approx(
      float(logged[best_step]), rel=1e-6)
  assert trainer.best_validation() == meta["validation"]["psnr"]
  # They are the weights that scored it.
  copy = trainer.export_best_weights(tmp_path / "best" / "b.weights.h5")
  assert copy.read_bytes() == (run_dir / "best.weights.h5").read_bytes()
  assert json.loads((tmp_path / "best" / "b.json").read_text()) == meta
  scorer = training.Trainer(configs.override(config, {
      "trainer.init_weights": str(copy)}), tmp_path / "score",
                         patches=tiny_patches())
  assert scorer.validate()["psnr"] == pytest.approx(
      meta["validation"]["psnr"], abs=1e-4)


def test_record_best_keeps_only_improvements_across_resumes(finished_run):
  run_dir, config = finished_run
  trainer = training.Trainer(config, run_dir, patches=tiny_patches())
  assert trainer.best_validation() is None
  with pytest.raises(FileNotFoundError, match="no best-validated weights"):
    trainer.export_best_weights(run_dir / "x.weights.h5")
  assert trainer.record_best({"psnr": 10.0})
  before = (run_dir / "best.json").read_text()
  assert not trainer.record_best({"psnr": 9.5})
  assert (run_dir / "best.json").read_text() == before
  assert json.loads(before)["validation"] == {"psnr": 10.0}
  resumed = training.Trainer(config, run_dir, patches=tiny_patches())
  assert resumed.best_validation() == 10.0
  assert not resumed.record_best({"psnr": 10.0})  # Ties keep the first.
  assert resumed.record_best({"psnr": 10.5})
  (run_dir / "best.json").write_text('{"step": 2}')
  with pytest.raises(ValueError, match="best.json is not a best-weights"):
    resumed.best_validation()


# -- The binary ---------------------------------------------------------------------


def test_train_binary_resolves_flags_trains_and_exports(tmp_path):
  run_dir, weights = tmp_path / "run", tmp_path / "rim.weights.h5"
  command = [
      sys.executable, str(REPO / "experiments" / "train.py"),
      "--task=denoise", "--preset=smoke", f"--run_dir={run_dir}",
      "--steps=2", f"--export={weights}", "--export_best",
      "--set=data.source=builtin",
      "--set=model.features=8", "--set=model.gru_features=8",
      "--set=trainer.rim_steps=2", "--set=data.batch_size=4",
      "--set=data.num_validation=4", f"--data_dir={tmp_path / 'data'}"]
  done = subprocess.run(command, capture_output=True, text=True,
                        timeout=180, env=_python_env(), cwd=str(REPO),
                        check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  assert "stopped at step 2" in done.stdout
  assert "validation: {'psnr':" in done.stdout
  config = configs.ExperimentConfig.from_json(
      (run_dir / "config.json").read_text())
  assert (config.model.features, config.trainer.rim_steps) == (8, 2)
  assert config.data.source == "builtin"
  assert tf.train.latest_checkpoint(str(run_dir / "checkpoints")).endswith(
      "ckpt-2")
  meta = json.loads(weights.with_suffix("").with_suffix(".json").read_text())
  assert meta["step"] == 2 and meta["patches_seen"] == 8
  # The run folder keeps its data folder; the export names none.
  assert config.data.data_dir == str(tmp_path / "data")
  assert meta["config"]["data"]["data_dir"] is None
  assert str(tmp_path) not in json.dumps(meta)
  # --export_best: the one validation (the final one) is the best.
  assert f"validation: {meta['validation']}" in done.stdout
  assert weights.read_bytes() == (run_dir / "best.weights.h5").read_bytes()


if __name__ == "__main__":
  _child_main(json.loads(sys.argv[1]))


def test_budget_accumulates_over_resumptions_and_reaches_the_export(tmp_path):
  config = tiny_config(**{"trainer.train_steps": 4})
  first = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  first.train(2)
  budget = json.loads((tmp_path / "run" / "budget.json").read_text())
  assert budget["step"] == 2 and budget["patches_seen"] == 2 * BATCH
  assert budget["train_seconds"] > 0
  second = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  second.train(4)
  later = json.loads((tmp_path / "run" / "budget.json").read_text())
  assert later["step"] == 4
  assert later["train_seconds"] > budget["train_seconds"]
  path = second.export_weights(tmp_path / "out" / "tiny.weights.h5")
  meta = json.loads((tmp_path / "out" / "tiny.json").read_text())
  assert path.exists()
  assert meta["step"] == 4 and meta["patches_seen"] == 4 * BATCH
  assert meta["train_hours"] >= later["train_seconds"] / 3600.0 - 1e-3
  assert meta["commit"] is None or len(meta["commit"]) >= 7
  assert configs.ExperimentConfig.from_dict(meta["config"]) == config


# -- continuing an exported run (a run folder that is gone) -------------------------


def test_init_continue_goes_on_at_the_exported_step_and_schedule(
    uninterrupted, tmp_path):
  _, config, _, reference, _ = uninterrupted
  first = training.Trainer(config, tmp_path / "a", patches=tiny_patches())
  first.train(4)
  export = first.export_weights(tmp_path / "export" / "run.weights.h5")
  continued_config = configs.override(config, {
      "trainer.init_weights": str(export), "trainer.init_continue": True})
  # A new folder: nothing to resume, so the export is continued.
  second = training.Trainer(continued_config, tmp_path / "b",
                         patches=tiny_patches())
  assert int(second.step) == 4
  # The schedule at step 4, ramped in over the fresh Adam's first updates.
  ramp = continued_config.trainer.init_ramp_steps
  assert float(second.optimizer.learning_rate) == pytest.approx(
      second.learning_rate_at(4) / ramp)
  assert second.learning_rate_at(4) < config.trainer.learning_rate
  assert int(second.optimizer.iterations.numpy()) == 0  # Adam starts afresh
  lines = []
  hook_steps(second, log=lines.append)
  second.train(7)
  records = step_records(lines)
  assert sorted(records) == [4, 5, 6]
  # The same patches as the uninterrupted run at those steps, and at step
  # 4 the same weights, so the same loss.
  for g in records:
    assert records[g]["x_sum"] == reference[g]["x_sum"], g
  assert records[4]["loss"] == pytest.approx(reference[4]["loss"], rel=1e-5)
  # The budget carries the exported run's hours.
  budget = json.loads((tmp_path / "b" / "budget.json").read_text())
  exported_hours = json.loads(export.with_name("run.json").read_text())[
      "train_hours"]
  assert budget["train_seconds"] >= 3600 * exported_hours
  assert budget["step"] == 7
  # Its own export names the warm start by file name, not by folder.
  meta = json.loads(second.export_weights(
      tmp_path / "export" / "second.weights.h5").with_name(
          "second.json").read_text())
  assert meta["config"]["trainer"]["init_weights"] == "run.weights.h5"
  # The same command again resumes the folder's checkpoint, not the export
  # (also when it switches the weight average on).
  for decay in (0.0, 0.9):
    again = training.Trainer(
        configs.override(continued_config, {"trainer.average_decay": decay}),
        tmp_path / "b", patches=tiny_patches())
    assert int(again.step) == 7
    np.testing.assert_array_equal(again.model.trainable_variables[0].numpy(),
                                  second.model.trainable_variables[0].numpy())


def test_init_continue_keeps_the_exported_eps_whatever_the_warm_start_says(
    tmp_path):
  # A preset that starts a donor's eps afresh (deblurring's) must not reset
  # the learned eps of the run it continues.
  config = tiny_config(**{"trainer.train_steps": 4})
  first = training.Trainer(config, tmp_path / "a", patches=tiny_patches())
  first.model.likelihood.phi.assign(0.25)
  export = first.export_weights(tmp_path / "export" / "run.weights.h5")
  for keep in (True, False):
    second = training.Trainer(configs.override(config, {
        "trainer.init_weights": str(export), "trainer.init_continue": True,
        "trainer.init_keep_likelihood": keep}), tmp_path / f"b{keep}",
        patches=tiny_patches())
    assert float(second.model.likelihood.phi.numpy()) == pytest.approx(0.25)
  # A plain warm start still starts it afresh when told to.
  warm = training.Trainer(configs.override(config, {
      "trainer.init_weights": str(export),
      "trainer.init_keep_likelihood": False}), tmp_path / "c",
      patches=tiny_patches())
  assert float(warm.model.likelihood.phi.numpy()) != pytest.approx(0.25)


@pytest.mark.parametrize("native", [True, False])
def test_mixed_precision_trains_in_float32_where_bfloat16_is_emulated(
    tmp_path, caplog, monkeypatch, native):
  monkeypatch.setattr(precision, "native_bfloat16", lambda: native)
  config = tiny_config(**{"trainer.mixed_precision": True})
  with caplog.at_level(logging.WARNING):
    trainer = training.Trainer(config, tmp_path, patches=tiny_patches())
  expected = "mixed_bfloat16" if native else "float32"
  assert trainer.model.dtype_policy.name == expected
  assert trainer.model.cell.compute_dtype == expected.replace("mixed_", "")
  said = [r.getMessage() for r in caplog.records
          if "no native bfloat16" in r.getMessage()]
  assert len(said) == (0 if native else 1)
  # The export says what it trained in.
  export = trainer.export_weights(tmp_path / "run.weights.h5")
  assert json.loads(configs.export_json_path(export).read_text(
      encoding="utf-8"))["policy"] == expected


def test_init_continue_names_a_schedule_that_differs_from_the_exports(
    tmp_path, caplog):
  absl_logging.set_verbosity(absl_logging.INFO)
  config = tiny_config()
  first = training.Trainer(config, tmp_path / "a", patches=tiny_patches())
  export = first.export_weights(tmp_path / "run.weights.h5")
  with caplog.at_level(logging.INFO):
    training.Trainer(configs.override(config, {
        "trainer.init_weights": str(export), "trainer.init_continue": True,
        "trainer.train_steps": 9}), tmp_path / "b", patches=tiny_patches())
  assert ("The schedule differs from the exported run's: train_steps 12 -> "
          "9." in caplog.text)
  caplog.clear()
  with caplog.at_level(logging.INFO):
    training.Trainer(configs.override(config, {
        "trainer.init_weights": str(export), "trainer.init_continue": True}),
        tmp_path / "c", patches=tiny_patches())
  assert "Continuing the run of" in caplog.text
  assert "schedule differs" not in caplog.text


def test_a_run_from_init_weights_ramps_the_learning_rate_in(tmp_path):
  config = tiny_config(**{"trainer.learning_rate": 1e-2,
                          "trainer.lr_schedule": "constant"})
  path = tmp_path / "init.weights.h5"
  tasks.from_config(config).build_model(config, _policy(config)).save_weights(str(path))
  ramped = configs.override(config, {"trainer.init_weights": str(path),
                                     "trainer.init_ramp_steps": 4})
  trainer = training.Trainer(ramped, tmp_path / "run", patches=tiny_patches())
  rates = []
  for k in range(6):
    rates.append(float(trainer.optimizer.learning_rate))
    trainer.train(k + 1)
  np.testing.assert_allclose(rates, [2.5e-3, 5e-3, 7.5e-3, 1e-2, 1e-2, 1e-2],
                             rtol=1e-6)
  # A run from scratch has no ramp.
  fresh = training.Trainer(config, tmp_path / "fresh", patches=tiny_patches())
  assert float(fresh.optimizer.learning_rate.numpy()) == pytest.approx(1e-2)


def test_init_weights_takes_a_shipped_name_even_of_another_task(
    tmp_path, monkeypatch):
  from rim_tf import pretrained  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(pretrained, "HERE", tmp_path)
  denoiser = training.Trainer(tiny_config(), tmp_path / "d",
                           patches=tiny_patches())
  denoiser.train(2)
  denoiser.export_weights(tmp_path / "mine.weights.h5")
  # A super-resolution run started from a denoiser: same cell, new task.
  superres = training.Trainer(
      tiny_config("superres", **{"trainer.init_weights": "mine"}),
      tmp_path / "s", patches=tiny_patches())
  assert int(superres.step) == 0
  for got, want in zip(superres.model.weights, denoiser.model.weights):
    np.testing.assert_array_equal(got.numpy(), want.numpy())
  with pytest.raises(FileNotFoundError, match=r"'yours' not found.*\['mine'\]"):
    training.Trainer(tiny_config(**{"trainer.init_weights": "yours"}),
                  tmp_path / "y", patches=tiny_patches())


def test_a_colour_run_from_gray_weights_starts_from_their_inflation(
    tmp_path):
  gray = training.Trainer(tiny_config(), tmp_path / "g", patches=tiny_patches())
  gray.train(2)
  export = gray.export_weights(tmp_path / "gray.weights.h5")
  colour = training.Trainer(
      tiny_config("denoise_color", **{"trainer.init_weights": str(export)}),
      tmp_path / "c", patches=tiny_patches(channels=3))
  assert colour.model.channels == 3
  want = tasks.from_config(colour.config).build_model(colour.config)
  rim_model.inflate_channels(gray.model, want)
  for got, expected in zip(colour.model.weights, want.weights):
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
  # Colour weights do not deflate to gray.
  back = colour.export_weights(tmp_path / "colour.weights.h5")
  with pytest.raises(ValueError, match="3-channel RIM; it cannot warm-start "
                     "a 1-channel one"):
    training.Trainer(tiny_config(**{"trainer.init_weights": str(back)}),
                  tmp_path / "g2", patches=tiny_patches())
  # Without the JSON there is no telling what the weights are: plain load.
  export.with_name("gray.json").unlink()
  with pytest.raises(ValueError, match="do not fit this RIM"):
    training.Trainer(
        tiny_config("denoise_color", **{"trainer.init_weights": str(export)}),
        tmp_path / "c2", patches=tiny_patches(channels=3))


def test_a_context_run_from_gray_weights_starts_as_them_and_trains(
    tmp_path):
  gray = training.Trainer(tiny_config(), tmp_path / "g", patches=tiny_patches())
  gray.train(2)
  export = gray.export_weights(tmp_path / "gray.weights.h5")
  context = {"task_args.space": "opponent", "task_args.context": True,
             "task_args.quantize": 0.5}
  run = training.Trainer(
      tiny_config("denoise_color", **context,
                  **{"trainer.init_weights": str(export)}),
      tmp_path / "c", patches=tiny_patches(channels=3))
  assert run.model.cell.channel_context == 3
  want = tasks.from_config(run.config).build_model(run.config)
  rim_model.add_cell_inputs(gray.model, want)
  for got, expected in zip(run.model.weights, want.weights):
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
  run.train(2)
  # The context rows of the first convolution learn from zero.
  assert np.abs(run.model.cell.down.kernel.numpy()[:, :, 2:]).max() > 0
  # A context cell's weights do not warm-start a cell without one.
  back = run.export_weights(tmp_path / "context.weights.h5")
  plain = tiny_config("denoise_color", **{"task_args.space": "opponent"})
  with pytest.raises(ValueError, match="channel_context=3, "
                     "condition_channels=0; it cannot warm-start one with "
                     "channel_context=0"):
    training.Trainer(
        configs.override(plain, {"trainer.init_weights": str(back)}),
        tmp_path / "p", patches=tiny_patches(channels=3))
  # Nor is it the same run: neither to continue its export nor to resume
  # its folder.
  assert not configs.same_model(plain, run.config)
  plain_path = tmp_path / "plain.weights.h5"
  tasks.from_config(plain).build_model(plain).save_weights(str(plain_path))
  (tmp_path / "plain.json").write_text(json.dumps(
      {"config": json.loads(plain.to_json()), "step": 3}))
  with pytest.raises(ValueError, match="another model or task"):
    training.Trainer(
        configs.override(run.config, {"trainer.init_weights": str(plain_path),
                                      "trainer.init_continue": True}),
        tmp_path / "q", patches=tiny_patches(channels=3))
  with pytest.raises(ValueError, match="another model or task"):
    training.Trainer(plain, tmp_path / "c", patches=tiny_patches(channels=3))


def test_a_run_refuses_init_weights_of_another_cell(tmp_path):
  # Figure 2's three models share a task; each trains on from its own.
  rim = training.Trainer(tiny_config(), tmp_path / "r", patches=tiny_patches())
  export = rim.export_weights(tmp_path / "rim.weights.h5")
  with pytest.raises(ValueError, match=(
      r"holds the full RIM's cell; it cannot warm-start the GDN cell")):
    training.Trainer(tiny_config(**{"trainer.init_weights": str(export),
                                 "model.ablation": "gdn"}),
                  tmp_path / "g", patches=tiny_patches())
  ffn = training.Trainer(tiny_config(**{"model.ablation": "ffn"}),
                      tmp_path / "f", patches=tiny_patches())
  export = ffn.export_weights(tmp_path / "ffn.weights.h5")
  with pytest.raises(ValueError, match=(
      r"holds the FFN cell; it cannot warm-start the full RIM's cell")):
    training.Trainer(tiny_config(**{"trainer.init_weights": str(export)}),
                  tmp_path / "r2", patches=tiny_patches())
  # The same cell loads as it is.
  again = training.Trainer(
      tiny_config(**{"model.ablation": "ffn",
                     "trainer.init_weights": str(export)}),
      tmp_path / "f2", patches=tiny_patches())
  for got, want in zip(again.model.weights, ffn.model.weights, strict=True):
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_a_wider_run_from_narrower_weights_starts_from_their_widening(
    tmp_path):
  narrow = training.Trainer(tiny_config(), tmp_path / "n", patches=tiny_patches())
  narrow.train(2)
  export = narrow.export_weights(tmp_path / "narrow.weights.h5")
  config = tiny_config(**{"trainer.init_weights": str(export),
                          "model.gru_features": 12})
  wide = training.Trainer(config, tmp_path / "w", patches=tiny_patches())
  want = tasks.from_config(config).build_model(config)
  rim_model.widen_gru(narrow.model, want, seed=config.data.seed)
  for got, expected in zip(wide.model.weights, want.weights, strict=True):
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
  # Another eps to start from (deblurring's preset) is still a widening.
  other_eps = training.Trainer(
      configs.override(config, {"model.epsilon_init": 1e-4}), tmp_path / "e",
      patches=tiny_patches())
  for got, expected in zip(other_eps.model.cell.weights, want.cell.weights,
                           strict=True):
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
  # Wider in another field too: not a widening, the load fails plainly.
  with pytest.raises(ValueError, match="do not fit this RIM"):
    training.Trainer(configs.override(config, {"model.features": 4}),
                  tmp_path / "w2", patches=tiny_patches())


def test_a_run_from_per_step_statistics_starts_from_their_transfer(tmp_path):
  # The shipped models keep batch-norm statistics per RIM step; the cpu
  # presets' warm starts (superres from denoise_gray, colour from gray)
  # train with shared ones.
  per_step = training.Trainer(tiny_config(**{"model.norm_steps": RIM_STEPS}),
                           tmp_path / "p", patches=tiny_patches())
  per_step.train(2)
  export = per_step.export_weights(tmp_path / "per_step.weights.h5")
  superres = training.Trainer(
      tiny_config("superres", **{"trainer.init_weights": str(export)}),
      tmp_path / "s", patches=tiny_patches())
  want = tasks.from_config(superres.config).build_model(superres.config)
  norm_calibration.transfer_weights(per_step.model, want)
  for got, expected in zip(superres.model.weights, want.weights, strict=True):
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
  colour = training.Trainer(
      tiny_config("denoise_color", **{"trainer.init_weights": str(export)}),
      tmp_path / "c", patches=tiny_patches(channels=3))
  want = tasks.from_config(colour.config).build_model(colour.config)
  rim_model.inflate_channels(superres.model, want)
  for got, expected in zip(colour.model.weights, want.weights, strict=True):
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
  # Other widths as well: not the same RIM, a clear error.
  with pytest.raises(ValueError, match="not the same RIM"):
    training.Trainer(tiny_config(**{"trainer.init_weights": str(export),
                                 "model.features": 4}),
                  tmp_path / "f", patches=tiny_patches())


def test_init_continue_refuses_another_task_or_a_missing_json(tmp_path):
  config = tiny_config()
  path = tmp_path / "other.weights.h5"
  tasks.from_config(config).build_model(config, _policy(config)).save_weights(str(path))
  continued = configs.override(config, {"trainer.init_weights": str(path),
                                        "trainer.init_continue": True})
  with pytest.raises(ValueError, match="needs .*other.json"):
    training.Trainer(continued, tmp_path / "r1", patches=tiny_patches())
  other_task = tiny_config("superres")  # same cell, another problem
  (tmp_path / "other.json").write_text(json.dumps(
      {"config": json.loads(other_task.to_json()), "step": 3}))
  with pytest.raises(ValueError, match="another model or task"):
    training.Trainer(continued, tmp_path / "r2", patches=tiny_patches())
  with pytest.raises(ValueError, match="needs trainer.init_weights"):
    training.Trainer(configs.override(config, {"trainer.init_continue": True}),
                  tmp_path / "r3", patches=tiny_patches())


def first_batch_errors(trainer):
  """(the first training batch, MSE [T, N] of each step's estimate of each
  example) before any training, computed without `rim_loss`."""
  batch = next(iter(tiny_patches().train_dataset(
      BATCH, trainer.task.stream_corruption(None),
      seed=trainer.config.data.seed, num_batches=1)))
  estimates, _ = trainer.model(batch["y"], operator=trainer.task.operator(batch),
                               sigma=batch["sigma"], training=True)
  return batch, np.mean(
      np.square(estimates.numpy() - batch["x"].numpy()[None]), axis=(2, 3, 4))


def first_step_loss(trainer):
  """The loss the trainer logs for its first step."""
  lines = []
  hook_steps(trainer, log=lines.append)
  trainer.train(1)
  return step_records(lines)[0]["loss"]


def test_loss_sigma_power_weights_each_examples_mse_by_its_sigma(tmp_path):
  config = tiny_config(**{"task_args.loss_sigma_power": 1.0})
  trainer = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  batch, errors = first_batch_errors(trainer)
  mse = errors.sum(axis=0)  # Per example, summed over the RIM steps.
  inverse_sigma = 1.0 / batch["sigma"].numpy()
  weighted = np.mean(mse * inverse_sigma / inverse_sigma.mean())
  # The weights matter here: weighted and plain means differ by 100 times
  # the tolerance below (how much depends on the CPU's float32 kernels).
  assert abs(weighted / mse.mean() - 1.0) > 1e-3
  assert first_step_loss(trainer) == pytest.approx(weighted, rel=1e-5)


def test_final_step_weights_train_the_last_estimate_only(tmp_path):
  config = tiny_config(**{"trainer.loss_step_weights": "final"})
  trainer = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  _, errors = first_batch_errors(trainer)
  mse = errors.mean(axis=1)  # Per step.
  steps = config.trainer.rim_steps
  assert abs(steps * mse[-1] / mse.sum() - 1.0) > 0.01  # The weights matter.
  assert first_step_loss(trainer) == pytest.approx(steps * mse[-1], rel=1e-5)


def test_inverse_mse_example_weights_log_the_harmonic_mean_mse(tmp_path):
  config = tiny_config(**{"trainer.loss_example_weights": "inverse_mse"})
  trainer = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  _, errors = first_batch_errors(trainer)
  harmonic = (1.0 / np.mean(1.0 / errors, axis=1)).sum()
  assert abs(harmonic / errors.mean(axis=1).sum() - 1.0) > 0.01  # They matter.
  assert first_step_loss(trainer) == pytest.approx(harmonic, rel=1e-5)


def test_unknown_loss_weights_are_refused_before_training(tmp_path):
  config = tiny_config(**{"trainer.loss_step_weights": "last"})
  with pytest.raises(ValueError, match="step weights must be one of"):
    training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  assert not (tmp_path / "run").exists()
  config = tiny_config(**{"trainer.loss_example_weights": "psnr"})
  with pytest.raises(ValueError, match="loss_example_weights must be one of"):
    training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  assert not (tmp_path / "run").exists()


# -- the weight average --------------------------------------------------------------


def test_weight_average_follows_the_steps_resumes_and_is_what_is_exported(
    tmp_path):
  decay = 0.6
  config = tiny_config(**{"trainer.average_decay": decay,
                          "trainer.eval_every": 3})
  trainer = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  # Every weight, the batch norms' moving statistics included.
  assert len(trainer.average.shadows) == len(trainer.model.weights) > len(
      trainer.model.trainable_variables)
  expected = [v.numpy() for v in trainer.model.weights]
  for step in range(1, 4):
    trainer.train(step)
    d = warm_decay(decay, step - 1)
    expected = [d * a + (1 - d) * v.numpy()
                for a, v in zip(expected, trainer.model.weights)]
  for got, want in zip(trainer.average.shadows, expected, strict=True):
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-7)
  for a, v in zip(expected, trainer.model.weights):
    assert not np.allclose(a, v.numpy()), v.path
  # Validation and export use the average; the raw weights are logged too.
  assert {"validation/psnr", "validation_raw_weights/psnr"} <= event_tags(
      tmp_path / "run" / "logs")
  export = trainer.export_weights(tmp_path / "export" / "avg.weights.h5")
  exported = tasks.from_config(config).build_model(config, _policy(config))
  exported.load_weights(str(export))
  for got, want in zip(exported.weights, expected, strict=True):
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-7)
  plain = training.Trainer(
      configs.override(config, {"trainer.average_decay": 0.0,
                                "trainer.init_weights": str(export)}),
      tmp_path / "plain", patches=tiny_patches())
  assert plain.validate() == pytest.approx(trainer.validate(), abs=1e-4)
  # The checkpoint holds the average: a resumed run has it back exactly.
  resumed = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  for got, want in zip(resumed.average.shadows, trainer.average.shadows):
    np.testing.assert_array_equal(got.numpy(), want.numpy())
  assert int(resumed.average.updates.numpy()) == 3  # the warm-up goes on


def assert_average_restarted_at(trainer, weights):
  """The trainer's average equals `weights`, with no warm-up (trained
  weights)."""
  for shadow, weight in zip(trainer.average.shadows, weights, strict=True):
    np.testing.assert_array_equal(shadow.numpy(), weight.numpy())
  assert int(trainer.average.updates.numpy()) == trainer.average.warm_updates


def test_weight_average_switched_on_starts_at_the_restored_weights(tmp_path):
  config = tiny_config()
  first = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  first.train(2)
  averaged = configs.override(config, {"trainer.average_decay": 0.9})
  second = training.Trainer(averaged, tmp_path / "run", patches=tiny_patches())
  assert int(second.step) == 2
  assert_average_restarted_at(second, first.model.weights)
  second.train(3)  # and checkpoints it from then on
  third = training.Trainer(averaged, tmp_path / "run", patches=tiny_patches())
  for got, want in zip(third.average.shadows, second.average.shadows):
    np.testing.assert_array_equal(got.numpy(), want.numpy())
  # A checkpoint whose average is of other variables (older code): the run
  # goes on from it, the average restarting at its weights.
  tf.train.CheckpointManager(
      tf.train.Checkpoint(model=third.model, optimizer=third.optimizer,
                          step=third.step,
                          weight_average=[tf.Variable([1.0])]),
      str(tmp_path / "run" / "checkpoints"), max_to_keep=5).save(
          checkpoint_number=3)
  fourth = training.Trainer(averaged, tmp_path / "run", patches=tiny_patches())
  assert int(fourth.step) == 3
  assert_average_restarted_at(fourth, third.model.weights)


@pytest.mark.parametrize("decay", [1.0, -0.5, 1.5])
def test_weight_average_decay_out_of_range_is_refused(tmp_path, decay):
  config = tiny_config(**{"trainer.average_decay": decay})
  with pytest.raises(ValueError,
                     match=r"trainer.average_decay must be in \(0, 1\), got"):
    training.Trainer(config, tmp_path / "run", patches=tiny_patches())


def test_max_seconds_stops_at_a_step_boundary_with_a_checkpoint(
    tmp_path, monkeypatch):
  config = tiny_config(**{"trainer.checkpoint_every": 100})
  trainer = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  inner = trainer._train_step  # pylint: disable=protected-access
  # Steps of 0.5 s on the trainer's clock, set-up of none, whatever the
  # machine's load.
  clock = FakeClock()
  monkeypatch.setattr(trainer_module, "time", clock)

  def slow_step(batch, flag):
    clock.advance(0.5)
    return inner(batch, flag)

  trainer._train_step = slow_step  # pylint: disable=protected-access
  result = trainer.train(max_seconds=3.0)
  assert result["stopped_by_time"] and not result["stopped_by_signal"]
  assert result["step"] == 6 < config.trainer.train_steps
  latest = tf.train.latest_checkpoint(str(tmp_path / "run" / "checkpoints"))
  assert latest.endswith(f"ckpt-{result['step']}")
  # Without a limit the run goes on from there to the end.
  monkeypatch.undo()  # The real clock.
  trainer._train_step = inner  # pylint: disable=protected-access
  assert not trainer.train()["stopped_by_time"]
  assert int(trainer.step) == config.trainer.train_steps


def test_a_call_that_makes_no_step_still_spends_its_time(tmp_path):
  # A time limit shorter than the set-up: no step is made, nothing new is
  # checkpointed, but the budget must grow (a budgeted loop ends) and a
  # resumed trainer must see the same time.
  config = tiny_config()
  trainer = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  result = trainer.train(max_seconds=0.0)
  assert result["stopped_by_time"] and result["step"] == 0
  first = trainer.training_seconds()
  assert first > 0.0 and trainer.training_seconds() == first
  trainer.train(max_seconds=0.0)
  spent = trainer.training_seconds()
  assert spent > first
  resumed = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  assert resumed.training_seconds() == spent


def test_a_run_of_the_trainer_before_the_rooms_resumes(tmp_path):
  """Checkpoints written by the trainer of commit 7cbe36d (tests/testdata/
  old_trainer_run) resume at their step with their weights."""
  old = pathlib.Path(__file__).parent / "testdata" / "old_trainer_run"
  run_dir = tmp_path / "run"
  shutil.copytree(old, run_dir)
  config = configs.ExperimentConfig.from_json(
      (run_dir / "config.json").read_text())
  rng = np.random.default_rng(0)
  images = [rng.integers(0, 256, (24, 24, 1), dtype=np.uint8)
            for _ in range(2)]
  patches = rim_data.PatchDataset(images, patch_size=8, stride=4,
                                  num_validation=2)
  trainer = training.Trainer(config, run_dir, patches=patches)
  assert int(trainer.step) == 3
  weights = np.concatenate([w.numpy().ravel() for w in trainer.model.weights])
  np.testing.assert_array_equal(weights, np.load(run_dir / "weights_at_3.npy"))
  assert trainer.train()["step"] == 6


# --- the checkpoint store: faults made for real -------------------------------


def _trained_run(tmp_path, steps=12):
  """A run folder checkpointed at steps 4, 8 and 12, and the trainer."""
  config = tiny_config(**{"trainer.train_steps": steps,
                          "trainer.keep_checkpoints": 3})
  trainer = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  trainer.train()
  return config, trainer


def _checkpoint_files(run):
  return sorted(p.name for p in (run / "checkpoints").iterdir())


def test_a_newest_checkpoint_without_its_files_falls_back_to_the_previous(
    tmp_path, caplog):
  config, _ = _trained_run(tmp_path)
  run = tmp_path / "run"
  for data in (run / "checkpoints").glob("ckpt-12.data-*"):
    data.unlink()
  with caplog.at_level(logging.WARNING):
    resumed = training.Trainer(config, run, patches=tiny_patches())
  assert int(resumed.step) == 8
  assert "ckpt-12 is unusable (its data file is missing)" in caplog.text
  # Set aside, not deleted, and no longer listed: the next saves rotate
  # out neither step 4 nor step 8 for it.
  assert "ckpt-12.bad.index" in _checkpoint_files(run)
  resumed.train(steps=9)
  names = _checkpoint_files(run)
  assert {"ckpt-4.index", "ckpt-8.index", "ckpt-9.index"} <= set(names)


def test_a_truncated_newest_checkpoint_falls_back_without_a_traceback(
    tmp_path):
  config, trained = _trained_run(tmp_path)
  run = tmp_path / "run"
  expected = [w.numpy() for w in trained.model.weights]
  data = next((run / "checkpoints").glob("ckpt-12.data-*"))
  data.write_bytes(data.read_bytes()[:100])
  resumed = training.Trainer(config, run, patches=tiny_patches())
  assert int(resumed.step) == 8
  # Step 8's weights, not step 12's.
  assert any(not np.array_equal(w.numpy(), e)
             for w, e in zip(resumed.model.weights, expected))


def test_no_readable_checkpoint_refuses_to_start_over_them(tmp_path):
  config, _ = _trained_run(tmp_path)
  run = tmp_path / "run"
  for data in (run / "checkpoints").glob("ckpt-*.data-*"):
    data.write_bytes(b"")
  before = _checkpoint_files(run)
  with pytest.raises(ValueError, match=r"no checkpoint in .* can be "
                     r"restored .*ckpt-12: it cannot be read.*init_continue"):
    training.Trainer(config, run, patches=tiny_patches())
  assert _checkpoint_files(run) == before  # Nothing moved or deleted.


def test_checkpoints_without_their_list_still_resume(tmp_path):
  config, _ = _trained_run(tmp_path)
  run = tmp_path / "run"
  (run / "checkpoints" / "checkpoint").unlink()
  resumed = training.Trainer(config, run, patches=tiny_patches())
  assert int(resumed.step) == 12


def test_a_run_killed_while_saving_resumes_from_its_last_complete_save(
    tmp_path, caplog):
  # Wide enough that a save takes tens of milliseconds: the parent sees the
  # save's scratch folder appear and kills the trainer inside the save.
  config = tiny_config(**{"model.features": 256, "model.gru_features": 256,
                          "trainer.train_steps": 10000,
                          "trainer.checkpoint_every": 1,
                          "trainer.keep_checkpoints": 2,
                          "trainer.eval_every": 10000,
                          "trainer.image_every": 10000})
  run = tmp_path / "run"
  folder = run / "checkpoints"
  caught = None
  for attempt in range(5):
    process = start_child({"config": config.to_json(), "run_dir": str(run)},
                          tmp_path / f"e{attempt}.txt")
    try:
      deadline = time.time() + 240
      while time.time() < deadline and process.poll() is None:
        scratch = list(folder.glob("ckpt-*_temp")) if folder.exists() else []
        if scratch and int(scratch[0].name[5:-5]) >= 3:
          process.send_signal(signal.SIGKILL)
          break
      process.wait(timeout=30)
    finally:
      stop(process)
    caught = [p for p in folder.glob("ckpt-*_temp") if p.is_dir()]
    if caught:
      break
  assert caught, "the kill never landed inside a save"
  interrupted = int(caught[0].name[5:-5])
  listed = tf.train.latest_checkpoint(str(folder))
  with caplog.at_level(logging.WARNING):
    resumed = training.Trainer(config, run, patches=tiny_patches())
  # The newest complete save: the interrupted one, if its files had just
  # been moved into place, else the one before it.
  assert int(resumed.step) in (interrupted - 1, interrupted)
  assert int(resumed.step) >= int(listed.rsplit("-", 1)[1])
  assert "a save that was interrupted" in caplog.text
  assert not list(folder.glob("ckpt-*_temp"))
  assert not list(folder.glob("*.bad*"))
  resumed.train(steps=int(resumed.step) + 1)


def test_a_second_trainer_on_one_run_folder_is_refused(tmp_path):
  config = tiny_config()
  run = tmp_path / "run"
  training.Trainer(config, run, patches=tiny_patches())  # Holds the lock.
  script = textwrap.dedent(f"""
      import sys
      sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})
      import test_train
      from rim_tf import training
      try:
        training.Trainer(test_train.tiny_config(), {str(run)!r},
                         patches=test_train.tiny_patches())
      except ValueError as error:
        print("REFUSED", error)
      """)
  out = subprocess.run([sys.executable, "-c", script], capture_output=True,
                       text=True, timeout=300).stdout
  assert f"REFUSED run folder {run} is in use by process {os.getpid()}" in out


def test_the_lock_of_a_dead_process_is_taken_over(tmp_path):
  run = tmp_path / "run"
  run.mkdir()
  dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                        capture_output=True, text=True, check=True)
  (run / "lock").write_text(f"{dead.stdout.strip()} {socket.gethostname()}")
  training.Trainer(tiny_config(), run, patches=tiny_patches())
  assert (run / "lock").read_text() == f"{os.getpid()} {socket.gethostname()}"


def test_a_run_folder_under_the_home_tilde_is_the_home_folder(
    tmp_path, monkeypatch):
  monkeypatch.setenv("HOME", str(tmp_path / "home"))
  monkeypatch.chdir(tmp_path)
  trainer = training.Trainer(tiny_config(), "~/runs/x", patches=tiny_patches())
  assert trainer.run_dir == tmp_path / "home" / "runs" / "x"
  assert (tmp_path / "home" / "runs" / "x" / "config.json").exists()
  assert not (tmp_path / "~").exists()


def test_train_py_checkpoints_and_exits_at_once_on_sigterm(tmp_path):
  run_dir = tmp_path / "run"
  process = subprocess.Popen(
      [sys.executable, str(REPO / "experiments" / "train.py"),
       "--preset=smoke", "--set=data.source=builtin",
       "--set=trainer.train_steps=100000", "--set=trainer.log_every=1",
       "--set=trainer.checkpoint_every=100000", f"--run_dir={run_dir}"],
      stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  try:
    for line in process.stderr:
      if " step 3/" in line:
        break
    process.send_signal(signal.SIGTERM)
    start = time.monotonic()
    code = process.wait(timeout=60)
    seconds = time.monotonic() - start
  finally:
    if process.poll() is None:
      process.kill()
  assert code == 128 + signal.SIGTERM
  assert seconds < 10, seconds
  saved = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
  assert saved is not None and int(saved.rsplit("-", 1)[1]) >= 3
  assert not (run_dir / "lock").exists()


def test_a_deblurring_rim_trains_and_restores_with_its_kernel(tmp_path):
  # Nothing in the trainer names the task: the kernels travel in the batch.
  config = tiny_config("deblur", **{
      "task_args": {"patch": PATCH, "kernel_size": 5},
      "trainer.train_steps": 3, "trainer.eval_every": 3})
  trainer = training.Trainer(config, tmp_path / "run", patches=tiny_patches())
  assert np.isfinite(trainer.train()["loss"])
  path = trainer.export_weights(tmp_path / "deblur.weights.h5")
  from rim_tf import pretrained  # pylint: disable=g-import-not-at-top
  from rim_tf.operators import blur  # pylint: disable=g-import-not-at-top
  model, loaded = pretrained.load(str(path))
  assert loaded.task == "deblur"
  kernel = np.full((5, 5), 1 / 25, np.float32)
  x = tf.random.stateless_uniform([1, 16, 16, 1], [0, 1])
  operator = blur.Blur(kernel, (None, None, 1))
  _, final = model(operator.forward(x), operator=operator, sigma=0.01,
                   steps=RIM_STEPS)
  assert final.shape == (1, 16, 16, 1)
  assert np.isfinite(final.numpy()).all()


def test_a_warm_start_keeps_or_restarts_the_likelihoods_eps(tmp_path):
  config = tiny_config()
  donor = tasks.from_config(config).build_model(config, _policy(config))
  donor.likelihood.phi.assign(-3.0)  # A noise floor learned elsewhere.
  init = tmp_path / "init.weights.h5"
  donor.save_weights(str(init))
  kept = training.Trainer(
      configs.override(config, {"trainer.init_weights": str(init)}),
      tmp_path / "kept", patches=tiny_patches())
  assert float(kept.model.likelihood.phi.numpy()) == pytest.approx(-3.0)
  fresh = training.Trainer(
      configs.override(config, {"trainer.init_weights": str(init),
                                "trainer.init_keep_likelihood": False,
                                "model.epsilon_init": 1e-5}),
      tmp_path / "fresh", patches=tiny_patches())
  assert float(fresh.model.likelihood.epsilon.numpy()) == pytest.approx(
      1e-5, rel=1e-3)
  # The cell's weights came from the export all the same.
  np.testing.assert_array_equal(fresh.model.cell.out.kernel.numpy(),
                                donor.cell.out.kernel.numpy())


def test_an_opponent_space_colour_run_starts_from_gray_weights_and_trains(
    tmp_path):
  from rim_tf.inference import engine  # pylint: disable=g-import-not-at-top
  gray = training.Trainer(tiny_config(**{"trainer.train_steps": 4}),
                          tmp_path / "gray", patches=tiny_patches())
  gray.train()
  donor = tmp_path / "gray.weights.h5"
  gray.export_weights(donor)
  config = tiny_config("denoise_color", **{
      "task_args": {"patch": PATCH, "space": "opponent", "quantize": 0.5},
      "trainer.train_steps": 4, "trainer.init_weights": str(donor)})
  trainer = training.Trainer(config, tmp_path / "colour",
                             patches=tiny_patches(channels=3))
  # The gray cell as it is: one channel in and out.
  assert trainer.model.channels == 1
  for got, want in zip(trainer.model.get_weights(), gray.model.get_weights()):
    np.testing.assert_array_equal(got, want)
  trainer.train()
  assert int(trainer.step) == 4
  trainer.export_weights(tmp_path / "colour.weights.h5")
  restorer, _ = engine.Restorer.from_weights(str(tmp_path /
                                                 "colour.weights.h5"))
  assert restorer.color_space == "opponent"
  rgb = np.random.default_rng(0).random((20, 24, 3)).astype(np.float32)
  assert restorer.denoise(rgb, 25).shape == (20, 24, 3)


def test_a_quantization_flag_run_from_context_weights_starts_as_them(
    tmp_path):
  context = {"task_args.space": "opponent", "task_args.context": True,
             "task_args.quantize": 0.5}
  donor = training.Trainer(tiny_config("denoise_color", **context),
                           tmp_path / "c", patches=tiny_patches(channels=3))
  donor.train(1)
  export = donor.export_weights(tmp_path / "context.weights.h5")
  flagged = {**context, "task_args.quantization_flag": True}
  run = training.Trainer(
      tiny_config("denoise_color", **flagged,
                  **{"trainer.init_weights": str(export)}),
      tmp_path / "f", patches=tiny_patches(channels=3))
  assert run.model.cell.condition_channels == 1
  kernel = run.model.cell.down.kernel.numpy()
  assert kernel.shape[2] == 9
  np.testing.assert_array_equal(kernel[:, :, :8],
                                donor.model.cell.down.kernel.numpy())
  np.testing.assert_array_equal(kernel[:, :, 8], 0.0)
  run.train(2)
  # Half the examples quantized, half not: the flag's row learns.
  assert np.abs(run.model.cell.down.kernel.numpy()[:, :, 8]).max() > 0
  assert not configs.same_model(run.config, donor.config)
  # The flag's weights warm-start no cell without it.
  back = run.export_weights(tmp_path / "flag.weights.h5")
  with pytest.raises(ValueError, match="condition_channels=1; it cannot "
                     "warm-start one with channel_context=3, "
                     "condition_channels=0"):
    training.Trainer(
        configs.override(donor.config, {"trainer.init_weights": str(back)}),
        tmp_path / "p", patches=tiny_patches(channels=3))


def test_gray_weights_inflate_into_a_colour_cell_with_a_quantization_flag(
    tmp_path):
  gray = training.Trainer(tiny_config(), tmp_path / "g", patches=tiny_patches())
  gray.train(1)
  export = gray.export_weights(tmp_path / "gray.weights.h5")
  run = training.Trainer(
      tiny_config("denoise_color", **{"task_args.quantize": 0.5,
                                      "task_args.quantization_flag": True,
                                      "trainer.init_weights": str(export)}),
      tmp_path / "c", patches=tiny_patches(channels=3))
  want = rim_model.with_cell_inputs(run.model)
  rim_model.inflate_channels(gray.model, want)
  kernel = run.model.cell.down.kernel.numpy()
  assert kernel.shape[2] == 7
  np.testing.assert_array_equal(kernel[:, :, :6],
                                want.cell.down.kernel.numpy())
  np.testing.assert_array_equal(kernel[:, :, 6], 0.0)
  for got, expected in zip(run.model.weights[1:], want.weights[1:]):
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
  # A flagged gray cell does not inflate: its flag row has no colour form.
  flagged = training.Trainer(
      tiny_config(**{"task_args.quantize": 0.5,
                     "task_args.quantization_flag": True}),
      tmp_path / "fg", patches=tiny_patches())
  back = flagged.export_weights(tmp_path / "flagged.weights.h5")
  with pytest.raises(ValueError, match="1-channel RIM with extra cell inputs; "
                     "it cannot warm-start a 3-channel one"):
    training.Trainer(
        configs.override(run.config, {"trainer.init_weights": str(back)}),
        tmp_path / "c2", patches=tiny_patches(channels=3))
