"""The reproductions' wiring (`rim_tf.reproduce`, `make reproduce-*`):
which commands a reproduction runs, and which weights each one hands to the
next."""

import pathlib
import shutil
import subprocess
import sys

import pytest

from rim_tf import reproduce

REPO = pathlib.Path(__file__).resolve().parent.parent
_TARGETS = {"reproduce-denoise": "denoise", "reproduce-color": "color",
            "reproduce-sr": "sr", "reproduce-rp": "rp",
            "reproduce-deblur": "deblur"}


def _dry_run(target, *variables):
  """The commands of `make target VARIABLES` (PRESET, OUT, RUNS), each
  joined to one line."""
  values = dict(v.split("=", 1) for v in variables)
  return [" ".join(step) for step in reproduce.commands(
      _TARGETS[target], values.get("PRESET", "cpu"),
      values.get("OUT", "results/cpu"), values.get("RUNS", "runs"), "data")]


@pytest.mark.skipif(shutil.which("make") is None,
                    reason="make is not installed")
@pytest.mark.parametrize("target", sorted(_TARGETS))
def test_each_reproduce_target_is_one_command_of_the_reproduce_binary(
    target):
  out = subprocess.run(["make", "-n", "-C", str(REPO), target,
                        "PRESET=smoke", "OUT=out", "RUNS=runs",
                        "DATA_DIR=data"],
                       capture_output=True, text=True, check=True).stdout
  lines = [line for line in out.splitlines() if line.startswith("python")]
  assert lines == [
      "python experiments/reproduce.py --preset=smoke --data_dir=data "
      f"--runs=runs --out=out --target={_TARGETS[target]}"]


def test_the_binarys_dry_run_prints_the_commands(tmp_path, monkeypatch):
  # Paths given relative to the caller's folder are made absolute: the
  # commands run from the repository.
  monkeypatch.chdir(tmp_path)
  printed = subprocess.run(
      [sys.executable, str(REPO / "experiments" / "reproduce.py"),
       "--target=denoise", "--preset=cpu", "--out=out", "--runs=runs",
       "--data_dir=data", "--dry_run"],
      capture_output=True, text=True, check=True, timeout=300).stdout
  assert printed.splitlines() == [" ".join(step) for step in
                                  reproduce.commands(
                                      "denoise", "cpu", str(tmp_path / "out"),
                                      str(tmp_path / "runs"),
                                      str(tmp_path / "data"))]


def test_an_unknown_target_is_one_line():
  result = subprocess.run(
      [sys.executable, str(REPO / "experiments" / "reproduce.py"),
       "--target=inpaint", "--dry_run"], capture_output=True, text=True,
      timeout=300)
  assert result.returncode != 0 and "Traceback" not in result.stderr
  assert "error: target must be one of ['color', 'deblur', 'denoise', 'rp', " \
      "'sr'], got 'inpaint'." in result.stderr


def test_cpu_denoise_reproduction_trains_two_stages_and_scores_the_second():
  train, finetune, calibrate, evaluate, figure = _dry_run(
      "reproduce-denoise", "PRESET=cpu", "OUT=out", "RUNS=runs")
  assert "--preset=cpu " in train
  assert "--export=out/denoise_gray.weights.h5" in train
  assert "--preset=cpu_finetune " in finetune
  assert "--run_dir=runs/denoise_cpu_finetune" in finetune
  assert "--set=trainer.init_weights=out/denoise_gray.weights.h5" in finetune
  assert "--export=out/denoise_gray_finetuned.weights.h5" in finetune
  assert calibrate.startswith("python experiments/calibrate_norms.py ")
  assert "--weights=out/denoise_gray_finetuned.weights.h5" in calibrate
  assert ("--output=out/denoise_gray_finetuned_calibrated.weights.h5"
          in calibrate)
  for command in (evaluate, figure):
    assert ("--weights=out/denoise_gray_finetuned_calibrated.weights.h5"
            in command)


@pytest.mark.parametrize("preset", ["paper", "smoke"])
def test_other_presets_train_the_denoiser_in_one_stage(preset):
  train, calibrate, evaluate, figure = _dry_run(
      "reproduce-denoise", f"PRESET={preset}", "OUT=out")
  assert f"--preset={preset} " in train
  assert "cpu_finetune" not in " ".join([train, evaluate, figure])
  assert "--weights=out/denoise_gray.weights.h5" in calibrate
  for command in (evaluate, figure):
    assert "--weights=out/denoise_gray_calibrated.weights.h5" in command


@pytest.mark.parametrize("target,name", [("reproduce-color", "denoise_color"),
                                         ("reproduce-sr", "superres")])
def test_colour_and_sr_reproductions_score_their_calibrated_export(
    target, name):
  train, calibrate, evaluate, *figure = _dry_run(target, "OUT=out")
  assert f"--export=out/{name}.weights.h5" in train
  assert calibrate.startswith("python experiments/calibrate_norms.py ")
  assert f"--weights=out/{name}.weights.h5" in calibrate
  assert f"--output=out/{name}_calibrated.weights.h5" in calibrate
  for command in (evaluate, *figure):
    assert f"--weights=out/{name}_calibrated.weights.h5" in command


def test_rp_smoke_reproduction_draws_figure2_on_fewer_patches():
  curves = [c for c in _dry_run("reproduce-rp", "PRESET=smoke", "OUT=out")
            if "--task=random_projections --name=RIM,GDN,FFN" in c]
  assert len(curves) == 1 and "--num_images=300 " in curves[0]


@pytest.mark.parametrize("preset", ["cpu", "paper"])
def test_rp_reproduction_draws_figure2_and_table2s_row_from_calibrated_rims(
    preset):
  # The cpu recipe trains each model on at T = 20 in a second stage; the
  # FFN keeps its one set of batch-norm statistics: per-step rows cost it
  # up to 2.4 dB averaged over Figure 2's 50 steps (docs/training.md).
  *trains, cal_rim, cal_gdn, curves, figure, table2 = _dry_run(
      "reproduce-rp", f"PRESET={preset}", "OUT=out", "RUNS=runs")
  stages = 2 if preset == "cpu" else 1
  assert len(trains) == 3 * stages
  suffix = "_finetuned" if stages == 2 else ""
  for model in ("rim", "gdn", "ffn"):
    first, *second = [t for t in trains if f"runs/rp_{model}_" in t]
    assert f"--preset={preset} " in first
    assert f"--run_dir=runs/rp_{model}_{preset} " in first
    assert f"--export=out/rp_{model}.weights.h5" in first
    assert len(second) == stages - 1
    for command in (first, *second):
      assert ("--set=model.ablation=" in command) == (model != "rim")
    if second:
      assert "--preset=cpu_finetune " in second[0]
      assert (f"--set=trainer.init_weights=out/rp_{model}.weights.h5"
              in second[0])
      assert f"--export=out/rp_{model}_finetuned.weights.h5" in second[0]
  for calibrate, model in zip((cal_rim, cal_gdn), ("rim", "gdn")):
    assert calibrate.startswith("python experiments/calibrate_norms.py ")
    assert f"--weights=out/rp_{model}{suffix}.weights.h5" in calibrate
    assert (f"--output=out/rp_{model}{suffix}_calibrated.weights.h5"
            in calibrate)
  assert "--task=random_projections --name=RIM,GDN,FFN" in curves
  assert (f"--weights=out/rp_rim{suffix}_calibrated.weights.h5,"
          f"out/rp_gdn{suffix}_calibrated.weights.h5,"
          f"out/rp_ffn{suffix}.weights.h5") in curves
  # evaluate.py's default number of test patches: the paper's 5000.
  assert "--num_images" not in curves
  assert "--results=out/figure2_curves.json" in figure
  assert "--task=denoise --methods=rim,bm3d" in table2
  assert f"--weights=out/rp_rim{suffix}_calibrated.weights.h5" in table2
  # Its T and start are its task's (RandomProjections.denoise_steps), not
  # the Makefile's.
  assert "--steps" not in table2 and "--paper_rim=RIM-3task" in table2


def test_the_deblurring_reproduction_scores_its_calibrated_export_beside_bm3d():
  lines = _dry_run("reproduce-deblur", "PRESET=cpu", "OUT=out", "RUNS=runs")
  assert lines[0].startswith("python experiments/train.py --preset=cpu")
  assert "--task=deblur" in lines[0]
  assert lines[1].startswith("python experiments/calibrate_norms.py")
  assert lines[2] == (
      "python experiments/evaluate.py --data_dir=data --task=deblur "
      "--methods=rim,bm3d,wiener --subset=bsd68,bsd100 "
      "--weights=out/deblur_calibrated.weights.h5 "
      "--baseline_cache=runs/baseline_cache "
      "--output=out/deblur_{subset}.json")
