"""Tests of rim_tf.training.recipe_search: chunked, resumable, scored runs and tables."""

import json
import pathlib
import os
import signal

import numpy as np
import pytest

from rim_tf import configs
from rim_tf import tasks
from rim_tf.training import recipe_search
from synthetic import FakeClock
from synthetic import random_patches


def _patches():
  return random_patches(num_validation=4)


@pytest.fixture
def steady_clock(monkeypatch):
  """The trainer's clock, 0.5 s a reading (a few readings a step)."""
  from rim_tf.training import trainer  # pylint: disable=g-import-not-at-top
  clock = FakeClock(per_reading=0.5)
  monkeypatch.setattr(trainer, "time", clock)
  return clock


def _tiny(name):
  return recipe_search.candidate_config(
      name, base=configs.preset("smoke", "denoise"),
      extra={"task_args.patch": 8, "model.features": 8,
             "model.gru_features": 8, "data.batch_size": 4,
             "data.num_validation": 4, "trainer.rim_steps": 2,
             "trainer.train_steps": 10_000, "trainer.log_every": 1000,
             "trainer.image_every": 1000, "trainer.eval_every": 1000,
             "trainer.checkpoint_every": 1000})


def test_every_candidate_is_one_valid_change_to_the_search_base():
  base = configs.override(configs.preset("cpu", "denoise"),
                          tasks.get("denoise").recipe_search()[0])
  assert recipe_search.search_base() == base
  assert base.trainer.learning_rate == 1e-3
  for name in recipe_search.CANDIDATES:
    config = recipe_search.candidate_config(name)
    assert (config == base) == (name == "base"), name
  # Other tasks search from their own cpu preset, average off, rate kept.
  superres = recipe_search.candidate_config("atrous64", "superres")
  assert superres.task == "superres"
  assert superres.trainer.learning_rate == 3e-3
  assert superres.trainer.average_decay == 0.0
  assert (superres.model.architecture, superres.model.gru_features) == (
      "atrous", 64)
  # Super-resolution's "base" is the fresh start that was searched; its
  # preset took the winner, warm_denoise, with a shorter schedule.
  assert superres.trainer.init_weights is None
  assert recipe_search.candidate_config("warm_denoise", "superres") == (
      configs.override(configs.preset("cpu", "superres"),
                       {"trainer.average_decay": 0.0,
                        "trainer.train_steps": 15000}))
  # The search's winner is the preset, bar the weight average and the
  # shorter schedule adopted since (a fresh run's average would be scored,
  # not its weights).
  assert base.trainer.average_decay == 0.0
  assert base.trainer.train_steps == 20000
  assert recipe_search.candidate_config("lr3e-3") == configs.override(
      configs.preset("cpu", "denoise"),
      {"trainer.average_decay": 0.0, "trainer.train_steps": 20000})
  with pytest.raises(ValueError, match="candidate must be one of"):
    recipe_search.candidate_config("bigger")


def test_run_candidate_scores_each_chunk_and_resumes(tmp_path, steady_clock):
  config = _tiny("base")
  rows = recipe_search.run_candidate(config, tmp_path / "run", 0.15, 0.05,
                                     patches=_patches(), sigmas=(25.0,))
  assert len(rows) >= 2
  assert [r["step"] for r in rows] == sorted({r["step"] for r in rows})
  assert all(np.isfinite(r["psnr_sigma25"]) for r in rows)
  assert rows[-1]["minutes"] >= 0.15 - 0.01
  assert recipe_search.read_rows(tmp_path / "run") == rows
  # A second call with a larger budget goes on from the last row.
  more = recipe_search.run_candidate(config, tmp_path / "run", 0.2, 0.05,
                                     patches=_patches(), sigmas=(25.0,))
  assert more[:len(rows)] == rows and more[-1]["step"] > rows[-1]["step"]


def test_a_signal_stops_the_search_with_a_checkpoint_and_no_new_row(
    tmp_path, monkeypatch, steady_clock):
  from rim_tf import training  # pylint: disable=g-import-not-at-top
  config = _tiny("base")
  recipe_search.run_candidate(config, tmp_path / "run", 0.05, 0.05,
                              patches=_patches(), sigmas=(25.0,))
  rows = recipe_search.read_rows(tmp_path / "run")
  assert rows[-1]["step"] >= 1
  install = training.Trainer._install_signal_handlers  # pylint: disable=protected-access

  def install_then_signal(trainer):
    previous = install(trainer)
    os.kill(os.getpid(), signal.SIGTERM)  # To the handler just installed.
    return previous

  monkeypatch.setattr(training.Trainer, "_install_signal_handlers",
                      install_then_signal)
  with pytest.raises(recipe_search.Interrupted, match="rerun to resume"):
    recipe_search.run_candidate(config, tmp_path / "run", 0.2, 0.05,
                                patches=_patches(), sigmas=(25.0,))
  assert recipe_search.read_rows(tmp_path / "run") == rows
  saved = training.Trainer(config, tmp_path / "run", patches=_patches())
  assert int(saved.step) == rows[-1]["step"]


def test_chunks_spent_in_set_up_add_no_rows(tmp_path, steady_clock):
  # Chunks of 0.6 s end before their first step (the set-up reads the
  # clock twice): the budget runs out without steps, and the run has one
  # row, not one per chunk.
  rows = recipe_search.run_candidate(_tiny("base"), tmp_path / "run", 0.1,
                                     0.01, patches=_patches(),
                                     sigmas=(25.0,))
  assert [r["step"] for r in rows] == [0]


def test_scores_use_the_same_noisy_patches_whatever_the_training_sigma(
    tmp_path):
  a = _tiny("base")
  b = configs.override(a, {"task_args.sigma_range_255": [40.0, 50.0]})
  from rim_tf import training  # pylint: disable=g-import-not-at-top
  first = training.Trainer(a, tmp_path / "a", patches=_patches())
  second = training.Trainer(b, tmp_path / "b", patches=_patches())
  second.model.set_weights(first.model.get_weights())
  assert recipe_search.score(first, (25.0,)) == recipe_search.score(
      second, (25.0,))
  # By default, the task's sigmas: the same for every candidate.
  assert recipe_search.score(first) == recipe_search.score(second)
  assert list(recipe_search.score(first)) == [
      "psnr_sigma15", "psnr_sigma25", "psnr_sigma50"]


def test_score_weights_scores_an_export_as_its_run_scored_it(tmp_path):
  from rim_tf import training  # pylint: disable=g-import-not-at-top
  config = configs.override(_tiny("base"), {"trainer.average_decay": 0.5})
  trainer = training.Trainer(config, tmp_path / "run", patches=_patches())
  trainer.train(3)
  export = trainer.export_weights(tmp_path / "out" / "d.weights.h5")
  row = recipe_search.score_weights(export, patches=_patches(),
                                    sigmas=(25.0, 50.0))
  # The export holds the weight average, which the run validates.
  assert row == {"step": 3, "patches": 12,
                 "hours": pytest.approx(trainer.training_seconds() / 3600,
                                        abs=1e-3),
                 **recipe_search.score(trainer, (25.0, 50.0))}
  # The binary's loop: a line per file, the rows so far in the JSON.
  lines = []
  rows = recipe_search.score_exports(
      [str(export)], output=tmp_path / "rows.json",
      log=lines.append, patches=_patches())
  assert json.loads((tmp_path / "rows.json").read_text()) == rows
  assert lines[0].startswith(f"{export}: step 3, 12 patches")
  with pytest.raises(FileNotFoundError, match="missing.weights.h5"):
    recipe_search.score_exports([str(export), "missing.weights.h5"],
                                output=tmp_path / "partial.json",
                                log=lines.append, patches=_patches())
  # Keyed by the file's name: no folder of the machine that scored it.
  assert list(json.loads((tmp_path / "partial.json").read_text())) == [
      pathlib.Path(export).name]
  # Super-resolution is scored at each of its scales.
  superres = configs.override(config, {
      "task": "superres", "task_args": {"patch": 8, "scales": [2, 4]}})
  other = training.Trainer(superres, tmp_path / "sr", patches=_patches())
  row = recipe_search.score_weights(
      other.export_weights(tmp_path / "out" / "s.weights.h5"),
      patches=_patches())
  assert row == {"step": 0, "patches": 0, "hours": 0.0,
                 **other.validate()}
  assert recipe_search.score_keys(row) == ["psnr_x2", "psnr_x4"]
  with pytest.raises(ValueError, match="sigmas score denoisers"):
    recipe_search.score(other, (25.0,))
  lines = []
  recipe_search.score_exports([str(tmp_path / "out" / "s.weights.h5")],
                              log=lines.append, patches=_patches())
  assert "held-out PSNR x2 / x4: " in lines[0]


def test_markdown_table_picks_the_last_row_before_each_time():
  rows = {"gru64": [{"minutes": 5.0, "step": 10, "patches": 320,
                     "psnr_sigma15": 30.0, "psnr_sigma25": 27.0},
                    {"minutes": 10.1, "step": 20, "patches": 640,
                     "psnr_sigma15": 31.0, "psnr_sigma25": 28.0}]}
  table = recipe_search.markdown_table(rows, [5, 10, 15])
  assert ("| candidate | change | patches/s | 5 min (sigma 15 / 25) | "
          "10 min (sigma 15 / 25) | 15 min (sigma 15 / 25) |") in table
  assert ("| gru64 | model.gru_features=64 | 1.1 | 30.00 / 27.00 | "
          "31.00 / 28.00 | 31.00 / 28.00 |") in table
  superres = {"atrous64": [{"minutes": 10.0, "step": 5, "patches": 160,
                            "psnr_x2": 31.0, "psnr_x3": 28.5,
                            "psnr_x4": 27.0}]}
  table = recipe_search.markdown_table(superres, [10])
  assert "| 10 min (x2 / x3 / x4) |" in table
  assert "| 31.00 / 28.50 / 27.00 |" in table
  assert recipe_search.conditions_label(["psnr"]) == "mixed"
  # A candidate without a score the others have gets a dash, not an error.
  rows["short"] = [{"minutes": 5.0, "step": 10, "patches": 320,
                    "psnr_sigma25": 26.0}]
  table = recipe_search.markdown_table(rows, [5])
  assert "| short | none | 1.1 | – / 26.00 |" in table


def test_two_weights_of_one_file_name_are_refused_before_scoring(tmp_path):
  import shutil  # pylint: disable=g-import-not-at-top
  from rim_tf import pretrained  # pylint: disable=g-import-not-at-top
  for run in ("a", "b"):
    (tmp_path / run).mkdir()
    for suffix in (".weights.h5", ".json"):
      shutil.copy(pretrained.HERE / f"denoise_gray{suffix}",
                  tmp_path / run / f"best{suffix}")
  scored = []
  with pytest.raises(ValueError, match="distinct names"):
    recipe_search.score_exports(
        [str(tmp_path / "a" / "best.weights.h5"),
         str(tmp_path / "b" / "best.weights.h5")],
        log=scored.append, patches=_patches())
  assert len(scored) == 1
