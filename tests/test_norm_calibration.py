"""rim_tf.training.norm_calibration: per-RIM-step batch-norm statistics of a RIM."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from rim_tf import configs
from rim_tf import model as rim_model
from rim_tf import operators
from rim_tf import pretrained
from rim_tf.training import exports
from rim_tf.training import norm_calibration

REPO = pathlib.Path(__file__).resolve().parent.parent
STEPS = 3


def _rim(norm_steps, features=8, seed=0, ablation=None, condition=0):
  keras.utils.set_random_seed(seed)
  rim = rim_model.build_rim("rim", 1, num_steps=STEPS, features=features,
                            gru_features=8, norm_steps=norm_steps,
                            ablation=ablation, condition_channels=condition)
  rng = np.random.default_rng(seed)
  for norm in rim.cell.norm_layers():
    norm.moving_mean.assign(rng.normal(size=norm.moving_mean.shape))
    norm.moving_variance.assign(rng.uniform(0.5, 2, norm.moving_variance.shape))
  return rim


def _batches(count=3, size=12):
  rng = np.random.default_rng(5)
  out = []
  for _ in range(count):
    x = rng.uniform(0.2, 0.8, (4, size, size, 1)).astype(np.float32)
    sigma = np.full([4], 0.1, np.float32)
    out.append({"x": x, "y": x + sigma[:, None, None, None] * rng.normal(
        size=x.shape).astype(np.float32), "sigma": sigma})
  return out


def _identity(batch):
  del batch
  return operators.Identity((12, 12, 1))


def test_transfer_keeps_what_the_rim_computes():
  shared, per_step = _rim(1), _rim(STEPS, seed=1)
  norm_calibration.transfer_weights(shared, per_step)
  batch = _batches(1)[0]
  np.testing.assert_allclose(
      per_step(batch["y"], operator=operators.Identity((12, 12, 1)),
               sigma=batch["sigma"])[0],
      shared(batch["y"], operator=operators.Identity((12, 12, 1)),
             sigma=batch["sigma"])[0], rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match="not the same RIM"):
    norm_calibration.transfer_weights(_rim(1, features=4), per_step)


def test_transfer_to_shared_statistics_takes_the_mean_over_steps():
  per_step, shared = _rim(STEPS), _rim(1, seed=1)
  norm_calibration.transfer_weights(per_step, shared)
  for a, b in zip(per_step.weights, shared.weights, strict=True):
    want = a.numpy()
    if "moving" in a.path:
      assert want.shape[0] == STEPS
      want = want.mean(axis=0)
    np.testing.assert_array_equal(b.numpy(), want)
  with pytest.raises(ValueError, match="not the same RIM"):
    norm_calibration.transfer_weights(_rim(2), per_step)  # 2 rows, not 3


def _norm_inputs(rim, batch, t, condition=None):
  """The inputs of the strided cell's two batch norms at RIM step t, by the
  cell's layers one by one (the cell's call written out, the GDN's without
  the estimate, the FFN's without a state)."""
  cell, operator = rim.cell, operators.Identity((12, 12, 1))
  eta = rim.initial_eta(batch["y"], operator)
  state = cell.initial_state(eta)
  for s in range(t):
    eta, state = rim.step(eta, state, batch["y"], operator, batch["sigma"],
                          t=s, condition=condition)
  grad = rim.likelihood(eta, y=batch["y"], operator=operator,
                        sigma=batch["sigma"])
  inputs = tf.concat([eta, grad], -1) if cell.use_estimate else grad
  if condition is not None:
    inputs = tf.concat([inputs, tf.broadcast_to(
        condition[:, None, None, :], inputs.shape[:3] + [1])], -1)
  down = cell.down(inputs)  # 12 x 12: even, no padding.
  hidden = tf.tanh(cell.down_norm(down, step=t))
  hidden = (cell.memory(hidden, state[0]) if cell.recurrent
            else cell.memory(hidden))
  up = cell.up(hidden)
  return down.numpy(), up.numpy()


@pytest.mark.parametrize("ablation", [None, "gdn", "ffn"])
def test_calibration_sets_each_row_to_its_steps_population_statistics(
    ablation):
  rim = _rim(STEPS, ablation=ablation)
  batches = _batches()
  found = norm_calibration.calibrate(rim, batches, _identity)
  for t in range(STEPS):
    inputs = [_norm_inputs(rim, batch, t) for batch in batches]
    for k, norm in enumerate(rim.cell.norm_layers()):
      pooled = np.concatenate([i[k] for i in inputs]).reshape(-1, 8)
      np.testing.assert_allclose(norm.moving_mean.numpy()[t],
                                 pooled.mean(axis=0), rtol=1e-4, atol=1e-5)
      np.testing.assert_allclose(norm.moving_variance.numpy()[t],
                                 pooled.var(axis=0), rtol=1e-4, atol=1e-6)
      np.testing.assert_allclose(found[norm.name][0][t],
                                 pooled.mean(axis=0), rtol=1e-4, atol=1e-5)
  assert all(n.collect is None for n in rim.cell.norm_layers())


def test_calibration_runs_a_conditioned_cell_on_each_batchs_condition():
  rim = _rim(STEPS, condition=1)
  batches = _batches()
  for i, batch in enumerate(batches):
    batch["flag"] = np.full([4, 1], float(i % 2), np.float32)
  with pytest.raises(ValueError, match=r"pass condition \[N, 1\]"):
    norm_calibration.calibrate(rim, batches, _identity)
  norm_calibration.calibrate(rim, batches, _identity,
                             lambda batch: batch["flag"])
  for t in range(STEPS):
    inputs = [_norm_inputs(rim, batch, t, tf.constant(batch["flag"]))
              for batch in batches]
    for k, norm in enumerate(rim.cell.norm_layers()):
      pooled = np.concatenate([i[k] for i in inputs]).reshape(-1, 8)
      np.testing.assert_allclose(norm.moving_mean.numpy()[t],
                                 pooled.mean(axis=0), rtol=1e-4, atol=1e-5)


def test_calibration_refuses_shared_statistics_and_no_batches():
  with pytest.raises(ValueError, match="per RIM step"):
    norm_calibration.calibrate(_rim(1), _batches(), _identity)
  with pytest.raises(ValueError, match="at least one batch"):
    norm_calibration.calibrate(_rim(STEPS), [], _identity)


def test_calibrate_binary_writes_a_loadable_per_step_export(tmp_path):
  """Trains 2 steps on the builtin images, exports, calibrates the export."""
  env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
  weights = tmp_path / "tiny.weights.h5"
  common = ["--set=data.source=builtin", "--set=model.features=8",
            "--set=model.gru_features=8", "--set=trainer.rim_steps=2",
            "--set=data.batch_size=4", "--set=data.num_validation=4"]
  trained = subprocess.run(
      [sys.executable, str(REPO / "experiments" / "train.py"),
       "--task=denoise", "--preset=smoke", f"--run_dir={tmp_path / 'run'}",
       "--steps=2", f"--export={weights}"] + common,
      capture_output=True, text=True, timeout=300, env=env, check=False)
  assert trained.returncode == 0, trained.stderr[-3000:]
  output = tmp_path / "calibrated.weights.h5"
  done = subprocess.run(
      [sys.executable, str(REPO / "experiments" / "calibrate_norms.py"),
       f"--weights={weights}", f"--output={output}", "--num_batches=2"],
      capture_output=True, text=True, timeout=300, env=env, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  assert "down_norm" in done.stdout and "up_norm" in done.stdout
  meta = json.loads((tmp_path / "calibrated.json").read_text())
  assert meta["config"]["model"]["norm_steps"] == 2
  assert meta["norm_calibration"]["patches"] == 2 * 4
  assert meta["norm_calibration"]["from"]["sha256"] == pretrained.sha256(
      weights)
  model, config = pretrained.load(output)
  assert config.model.norm_steps == 2
  norms = model.cell.norm_layers()
  assert all(n.moving_mean.shape == (2, 8) for n in norms)
  # Calibrated rows differ from the shared statistics they started from.
  assert not np.allclose(norms[1].moving_variance.numpy()[0],
                         norms[1].moving_variance.numpy()[1])
  # Per-step rows that are not their steps' statistics (here each row
  # the mean of all, as a trained moving average might leave them) are
  # recalibrated to the rows above: each row is computed from the rows
  # before it only.
  averaged, _ = pretrained.load(output)
  for norm in averaged.cell.norm_layers():
    for variable in (norm.moving_mean, norm.moving_variance):
      rows = variable.numpy()
      variable.assign(np.broadcast_to(rows.mean(axis=0), rows.shape))
  exports.write(averaged, tmp_path / "rows.weights.h5", meta)
  assert not np.allclose(
      averaged.cell.norm_layers()[1].moving_variance.numpy(),
      norms[1].moving_variance.numpy(), rtol=1e-2)
  again = subprocess.run(
      [sys.executable, str(REPO / "experiments" / "calibrate_norms.py"),
       f"--weights={tmp_path / 'rows.weights.h5'}",
       f"--output={tmp_path / 'x.weights.h5'}", "--num_batches=2"],
      capture_output=True, text=True, timeout=300, env=env, check=False)
  assert again.returncode == 0, again.stderr[-3000:]
  recalibrated, _ = pretrained.load(tmp_path / "x.weights.h5")
  for old, new in zip(norms, recalibrated.cell.norm_layers()):
    np.testing.assert_allclose(new.moving_mean.numpy(),
                               old.moving_mean.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(new.moving_variance.numpy(),
                               old.moving_variance.numpy(), rtol=1e-4,
                               atol=1e-6)
  # Rows that are neither shared nor one per step are refused.
  meta_t3 = dict(meta, config={**meta["config"], "trainer": {
      **meta["config"]["trainer"], "rim_steps": 3}})
  (tmp_path / "x.json").write_text(json.dumps(meta_t3))
  refused = subprocess.run(
      [sys.executable, str(REPO / "experiments" / "calibrate_norms.py"),
       f"--weights={tmp_path / 'x.weights.h5'}",
       f"--output={tmp_path / 'y.weights.h5'}"],
      capture_output=True, text=True, timeout=300, env=env, check=False)
  assert refused.returncode != 0
  assert "has 2 rows" in refused.stderr and "T = 3" in refused.stderr
  assert not (tmp_path / "y.weights.h5").exists()
  assert configs.ExperimentConfig.from_dict(meta["config"]) == config
