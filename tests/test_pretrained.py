"""Tests of rim_tf.pretrained: exported RIMs load back exactly; bad files fail
with the file named.

The export comes from a real 2-step `rim_tf.training.Trainer` run of the smoke
preset shrunk to an 8-feature RIM on random 24x24 images.
"""

import json
import os
import shutil

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # pylint: disable=g-import-not-at-top

from rim_tf import configs  # pylint: disable=g-import-not-at-top
from rim_tf.data import bsds  # pylint: disable=g-import-not-at-top
from rim_tf.evaluation import runner  # pylint: disable=g-import-not-at-top
from rim_tf.evaluation import shipped  # pylint: disable=g-import-not-at-top
from rim_tf.evaluation import tables  # pylint: disable=g-import-not-at-top
from rim_tf import operators  # pylint: disable=g-import-not-at-top
from rim_tf import pretrained  # pylint: disable=g-import-not-at-top
from rim_tf import tasks  # pylint: disable=g-import-not-at-top
from rim_tf import training  # pylint: disable=g-import-not-at-top
from synthetic import random_patches  # pylint: disable=g-import-not-at-top

BATCH = 4


def tiny_config():
  return configs.override(configs.preset("smoke", "denoise"), {
      "task_args": {"patch": 8}, "model.features": 8,
      "model.gru_features": 8, "data.batch_size": BATCH,
      "data.num_validation": 2, "trainer.rim_steps": 2,
      "trainer.train_steps": 2, "trainer.strategy": "mirrored",
      "trainer.checkpoint_every": 100, "trainer.log_every": 1,
      "trainer.image_every": 100, "trainer.eval_every": 100})


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  """(trainer, path of the exported .weights.h5) after 2 training steps."""
  root = tmp_path_factory.mktemp("pretrained")
  patches = random_patches(num_validation=2)
  trainer = training.Trainer(tiny_config(), root / "run", patches=patches)
  trainer.train(2)
  path = trainer.export_weights(root / "export" / "tiny.weights.h5")
  return trainer, path


def _copy(path, folder, with_json=True):
  folder.mkdir(parents=True, exist_ok=True)
  target = folder / path.name
  shutil.copy(path, target)
  if with_json:
    shutil.copy(path.with_name("tiny.json"), folder / "tiny.json")
  return target


def _run(model, x, sigma=0.1):
  operator = operators.Identity((None, None, 1))
  return model(tf.constant(x), operator=operator,
               sigma=tf.fill([x.shape[0]], sigma), steps=2)[1].numpy()


def test_export_writes_weights_and_json(exported):
  trainer, path = exported
  assert path.name == "tiny.weights.h5" and path.is_file()
  meta = pretrained.metadata(path)
  assert meta["step"] == 2 and meta["patches_seen"] == 2 * BATCH
  assert configs.ExperimentConfig.from_dict(meta["config"]) == trainer.config


def test_load_gives_the_trained_model(exported):
  trainer, path = exported
  model, config = pretrained.load(str(path))
  assert config == trainer.config
  assert model.channels == 1 and model.num_steps == 2
  # Same architecture, same weight order (names differ by Keras' uniquifying).
  ours, theirs = model.weights, trainer.model.weights
  assert len(ours) == len(theirs) > 10
  for a, b in zip(ours, theirs):
    assert a.shape == b.shape, (a.path, b.path)
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=b.path)
  x = np.random.default_rng(1).random((2, 13, 17, 1)).astype(np.float32)
  np.testing.assert_array_equal(_run(model, x), _run(trainer.model, x))
  # Training moved the weights: a freshly built RIM answers differently.
  fresh = tasks.from_config(config).build_model(config)
  assert not np.allclose(_run(fresh, x), _run(model, x), atol=1e-4)


def test_missing_json_names_the_json(exported, tmp_path):
  _, path = exported
  lonely = _copy(path, tmp_path / "nojson", with_json=False)
  with pytest.raises(FileNotFoundError, match=str(lonely.with_name(
      "tiny.json"))):
    pretrained.load(str(lonely))


def test_truncated_weights_name_the_file(exported, tmp_path):
  _, path = exported
  broken = _copy(path, tmp_path / "broken")
  data = broken.read_bytes()
  broken.write_bytes(data[:len(data) // 2])
  with pytest.raises(ValueError, match=str(broken)):
    pretrained.load(str(broken))


def test_corrupt_json_names_the_json(exported, tmp_path):
  _, path = exported
  copy = _copy(path, tmp_path / "badjson")
  (copy.parent / "tiny.json").write_text("{not json")
  with pytest.raises(ValueError, match=str(copy.parent / "tiny.json")):
    pretrained.load(str(copy))
  (copy.parent / "tiny.json").write_text(json.dumps({"step": 1}))
  with pytest.raises(ValueError, match="has no \"config\""):
    pretrained.load(str(copy))


def test_json_of_another_architecture_names_the_file(exported, tmp_path):
  trainer, path = exported
  copy = _copy(path, tmp_path / "other")
  other = configs.override(trainer.config, {"model.features": 16})
  (copy.parent / "tiny.json").write_text(json.dumps(
      {"step": 2, "config": json.loads(other.to_json())}))
  with pytest.raises(ValueError, match=f"{copy}.*do not fit"):
    pretrained.load(str(copy))


def test_unknown_name_or_no_name_is_a_clear_error(tmp_path):
  with pytest.raises(FileNotFoundError,
                     match="'no_such_rim' not found.*shipped names"):
    pretrained.load("no_such_rim")
  with pytest.raises(FileNotFoundError, match="nothere.weights.h5"):
    pretrained.load(str(tmp_path / "nothere.weights.h5"))
  with pytest.raises(ValueError, match="no RIM weights given"):
    pretrained.load(None)
  other = tmp_path / "model.h5"
  other.write_bytes(b"x")
  with pytest.raises(ValueError, match="must be a .weights.h5 file"):
    pretrained.load(str(other))


@pytest.mark.parametrize("name", pretrained.shipped())
def test_shipped_weights_have_their_json_and_load(name):
  model, config = pretrained.load(name)
  meta = pretrained.metadata(name)
  assert meta["step"] > 0
  assert model.num_steps == config.trainer.rim_steps


# A quick look: no BM3D, one noise level.
_QUICK = {"with_baselines": False,
          "options": {"sigmas": (25,), "quantized": (False,)}}


def test_evaluate_shipped_runs_every_shipped_model_on_its_subsets(
    exported, tmp_path, monkeypatch, bsds_dir):
  _, path = exported
  shipped_dir = tmp_path / "shipped"
  _copy(path, shipped_dir)
  monkeypatch.setattr(pretrained, "HERE", shipped_dir)
  # BM3D takes ~10 s per image; the protocol's plumbing is what is tested.
  report = shipped.evaluate_shipped(tmp_path / "out", bsds_dir, num_images=1,
                                    **_QUICK)
  assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
      "tiny.done", "tiny_bsd100.json", "tiny_bsd100.md", "tiny_bsd68.json",
      "tiny_bsd68.md"]
  results = json.loads((tmp_path / "out" / "tiny_bsd68.json").read_text())
  assert list(results) == ["tiny"] and list(results["tiny"]) == ["sigma25"]
  assert results["tiny"]["sigma25"]["n"] == 1
  assert "# denoise on bsd68" in report and "# denoise on bsd100" in report


def test_evaluate_shipped_resumes_and_redoes_what_changed(
    exported, tmp_path, monkeypatch, bsds_dir):
  _, path = exported
  shipped_dir = tmp_path / "shipped"
  weights = _copy(path, shipped_dir)
  monkeypatch.setattr(pretrained, "HERE", shipped_dir)
  out = tmp_path / "out"
  runs = []
  run_evaluation = runner.run_evaluation

  def counted(*args, **kwargs):
    runs.append(kwargs["num_images"])
    return run_evaluation(*args, **kwargs)

  monkeypatch.setattr(runner, "run_evaluation", counted)
  shipped.evaluate_shipped(out, bsds_dir, num_images=1, **_QUICK)
  report = shipped.evaluate_shipped(out, bsds_dir, num_images=1, **_QUICK)
  assert runs == [1]  # The rerun found the stamp of these weights.
  assert f"tiny: done with these weights ({out / 'tiny.done'}" in report
  shipped.evaluate_shipped(out, bsds_dir, num_images=2, **_QUICK)
  assert runs == [1, 2]  # Other images: evaluated again.
  model, _ = pretrained.load(str(weights))
  model.set_weights([w + 0.01 for w in model.get_weights()])
  model.save_weights(str(weights))
  shipped.evaluate_shipped(out, bsds_dir, num_images=2, **_QUICK)
  assert runs == [1, 2, 2]  # Other weights: evaluated again.
  shipped.evaluate_shipped(out, bsds_dir, num_images=2, with_baselines=False,
                           options={"sigmas": (15,), "quantized": (False,)})
  assert runs == [1, 2, 2, 2]  # Other options: evaluated again.


def test_evaluate_shipped_keeps_the_baselines_in_the_cache_it_is_given(
    exported, tmp_path, monkeypatch):
  # An interrupted table goes on from the baselines' kept results.
  _, path = exported
  shipped_dir = tmp_path / "shipped"
  _copy(path, shipped_dir)
  monkeypatch.setattr(pretrained, "HERE", shipped_dir)
  calls = []
  monkeypatch.setattr(runner, "run_evaluation",
                      lambda *args, **kwargs: calls.append(kwargs) or "")
  shipped.evaluate_shipped(tmp_path / "out", baseline_cache=tmp_path / "c")
  assert [c["baseline_cache"] for c in calls] == [tmp_path / "c"]


def test_evaluate_shipped_without_weights_is_a_clear_error(tmp_path,
                                                          monkeypatch):
  monkeypatch.setattr(pretrained, "HERE", tmp_path)
  with pytest.raises(ValueError, match="no weights are shipped"):
    shipped.evaluate_shipped(tmp_path / "out")


@pytest.fixture(scope="module")
def projection_exports(tmp_path_factory):
  """Folder with a tiny random-projection RIM, GDN and FFN, 1 step each."""
  root = tmp_path_factory.mktemp("projections")
  patches = random_patches(num_validation=2)
  for suffix, ablation in (("", None), ("_gdn", "gdn"), ("_ffn", "ffn")):
    config = configs.override(tiny_config(), {
        "task": "random_projections", "task_args": {"patch": 8},
        "model.ablation": ablation})
    trainer = training.Trainer(config, root / f"run{suffix}", patches=patches)
    trainer.train(1)
    trainer.export_weights(
        root / "shipped" / f"random_projections{suffix}.weights.h5")
  return root / "shipped"


def test_evaluate_shipped_draws_figure2_and_the_rim_3task_row(
    projection_exports, tmp_path, monkeypatch, bsds_dir):
  monkeypatch.setattr(pretrained, "HERE", projection_exports)
  # The paper's rows are compared with whole test sets only: make the first
  # 2 test images whole ones.
  first_two = bsds.read_ids(bsds.find_bsds300(bsds_dir, download=False),
                            "test")[:2]
  monkeypatch.setattr(tables, "SUBSET_SIZES", {
      "bsd68": len(tables.subset_ids("bsd68", first_two)), "bsd100": 2})
  out = tmp_path / "out"
  report = shipped.evaluate_shipped(out, bsds_dir, num_images=2, **_QUICK)
  # The ablations are in Figure 2 only; the full RIM also denoises.
  assert sorted(p.name for p in out.iterdir()) == [
      "figure2.done", "figure2.png", "figure2_curves.json",
      "figure2_curves.md",
      "random_projections.done",
      "random_projections_bsd100.json", "random_projections_bsd100.md",
      "random_projections_bsd68.json", "random_projections_bsd68.md"]
  curves = json.loads((out / "figure2_curves.json").read_text())
  # The figure's order, not the file names'.
  assert curves["weights"] == {"RIM": "random_projections",
                               "GDN": "random_projections_gdn",
                               "FFN": "random_projections_ffn"}
  assert list(curves["curves"]) == ["RIM", "GDN", "FFN"]
  for by_kind in curves["curves"].values():
    assert sorted(by_kind) == ["binary", "fourier", "gaussian"]
    assert all(len(c["mean"]) == 51 and c["n"] == 2
               for c in by_kind.values())
  # Figure 2's table, written beside its curves too.
  assert "| model, ensemble | step 0 | 1 | 2 (= T) | 5 | 10 | 20 | 30 | 50 |" \
      in report
  assert (out / "figure2_curves.md").read_text() in report
  # Denoising it never trained on, from a flat start and for 20 steps: the
  # paper's RIM-3task row.
  assert "# denoise on bsd68" in report
  assert "- rim_steps: random_projections=20\n" in report
  assert "- rim_start: random_projections=flat\n" in report
  assert "| random_projections − RIM-3task (paper) |" in report


def test_evaluate_shipped_refuses_two_projection_models_of_one_cell(
    projection_exports, tmp_path, monkeypatch):
  folder = tmp_path / "shipped"
  shutil.copytree(projection_exports, folder)
  for ending in (".weights.h5", ".json"):
    shutil.copy(folder / f"random_projections_gdn{ending}",
                folder / f"random_projections_gdn2{ending}")
  monkeypatch.setattr(pretrained, "HERE", folder)
  with pytest.raises(ValueError, match=r"two shipped random-projection "
                     r"models are GDNs \(random_projections_gdn, "
                     r"random_projections_gdn2\)"):
    shipped.evaluate_shipped(tmp_path / "out")


def test_loading_weights_leaves_the_process_dtype_policy_alone(exported):
  """A process that trains in bfloat16 and loads a model for a check keeps
  its policy; the loaded model computes in the policy asked for."""
  import keras  # pylint: disable=g-import-not-at-top
  _, path = exported
  before = keras.mixed_precision.global_policy().name
  keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    model, _ = pretrained.load(str(path))
    assert model.cell.compute_dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    model, _ = pretrained.load(str(path), policy="mixed_bfloat16")
    assert model.cell.compute_dtype == "bfloat16"
  finally:
    keras.mixed_precision.set_global_policy(before)
