"""Tests of the experiment binaries run as subprocesses: flags, and failures
that end with one "error: ..." message and no traceback.

All invocations start at once from one module fixture (each failing run pays
TensorFlow's import; --help does not load it). The machine is made offline for them by a proxy on a closed
local port, so a missing data folder must fail fast even where the BSDS300
download would otherwise be tried.
"""

import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
EVALUATE = str(REPO / "experiments" / "evaluate.py")
FIGURES = str(REPO / "experiments" / "figures.py")
SCORE = str(REPO / "experiments" / "score_weights.py")
HISTORY = str(REPO / "experiments" / "validation_history.py")
SEARCH = str(REPO / "experiments" / "recipe_search.py")
TRAIN = str(REPO / "experiments" / "train.py")
CALIBRATE = str(REPO / "experiments" / "calibrate_norms.py")
COMBINE = str(REPO / "experiments" / "combine_results.py")
ALLOCATOR = str(REPO / "experiments" / "benchmarks" / "allocator_speed.py")
TIMEOUT_S = 240


def _commands(empty, out):
  blocked = out / "a_file"  # A regular file: no folder can be made under it.
  return {
      "evaluate_help": [EVALUATE, "--help"],
      "figures_help": [FIGURES, "--help"],
      "train_help": [TRAIN, "--help"],
      "combine_help": [COMBINE, "--help"],
      "train_bad_set": [TRAIN, f"--run_dir={out / 'run'}",
                        "--set=trainer.no_such_field=1"],
      "evaluate_no_data": [EVALUATE, "--task=superres", "--methods=bicubic",
                           "--subset=bsd100", f"--output={out / 'sr.json'}"],
      "evaluate_no_weights": [EVALUATE, "--task=denoise", "--methods=rim,bm3d",
                              f"--output={out / 'd.json'}"],
      "evaluate_bad_paper_rim": [EVALUATE, "--task=superres",
                                 "--methods=bicubic", "--paper_rim=RIM-3task",
                                 f"--output={out / 'sr2.json'}"],
      "evaluate_two_subsets_one_path": [
          EVALUATE, "--task=denoise", "--methods=bm3d",
          "--subset=bsd68,bsd100", f"--output={out / 'd2.json'}"],
      "score_no_data": [SCORE, "--weights=denoise_gray"],
      "allocator_no_data": [ALLOCATOR, "--preset=smoke"],
      "score_missing_weights": [SCORE, f"--weights={out / 'none.weights.h5'}"],
      "history_no_logs": [HISTORY, f"--run_dir={empty}"],
      "search_no_default": [SEARCH, "--task=random_projections",
                            f"--output={out / 'search'}"],
      "search_bad_name": [SEARCH, "--candidates=base,bigger",
                          f"--runs={out / 'runs'}",
                          f"--output={out / 'search'}"],
      "figures_no_results": [FIGURES, "--figure=2",
                             f"--output={out / 'f2.png'}"],
      "figures_no_data": [FIGURES, "--figure=4", "--weights=whatever",
                          f"--data_dir={empty}", f"--output={out / 'f4.png'}"],
      # Outputs that cannot be written, found before any work.
      "train_export_blocked": [
          TRAIN, "--preset=smoke", "--set=data.source=builtin",
          f"--run_dir={out / 'run_export'}",
          f"--export={blocked / 'x.weights.h5'}"],
      "train_run_dir_blocked": [TRAIN, "--preset=smoke",
                                "--set=data.source=builtin",
                                f"--run_dir={blocked / 'run'}"],
      "train_init_missing": [
          TRAIN, "--preset=smoke", "--set=data.source=builtin",
          f"--run_dir={out / 'run_init'}",
          f"--set=trainer.init_weights={out / 'none.weights.h5'}"],
      "evaluate_output_blocked": [EVALUATE, "--task=superres",
                                  "--methods=bicubic",
                                  f"--output={blocked / 'sr.json'}"],
      "evaluate_shipped_blocked": [EVALUATE, "--shipped",
                                   f"--output={blocked / 'shipped'}"],
      "calibrate_output_blocked": [CALIBRATE, "--weights=denoise_gray",
                                   f"--output={blocked / 'c.weights.h5'}"],
      "figures_output_blocked": [FIGURES, "--figure=2",
                                 f"--output={blocked / 'f2.png'}"],
      "score_output_blocked": [SCORE, "--weights=denoise_gray",
                               f"--output={blocked / 'rows.json'}"],
      "search_output_blocked": [SEARCH, "--candidates=base",
                                f"--runs={out / 'runs_blocked'}",
                                f"--output={blocked / 'search'}"],
  }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """name -> (command, CompletedProcess-like (returncode, stdout, stderr))."""
  root = tmp_path_factory.mktemp("binaries")
  empty, out = root / "empty", root / "out"
  empty.mkdir()
  out.mkdir()
  (out / "a_file").write_text("a regular file")
  env = dict(os.environ, RIM_DATA_DIR=str(empty), TF_CPP_MIN_LOG_LEVEL="2",
             http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
             HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
             no_proxy="", NO_PROXY="")
  procs = {name: subprocess.Popen([sys.executable] + args, cwd=root, env=env,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
           for name, args in _commands(empty, out).items()}
  results = {}
  for name, proc in procs.items():
    try:
      stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
      proc.kill()
      stdout, stderr = proc.communicate()
      stderr += f"\n<timed out after {TIMEOUT_S} s>"
    results[name] = (proc.returncode, stdout, stderr)
  return {"results": results, "empty": empty, "out": out}


def _error_lines(stderr):
  return [line for line in stderr.splitlines() if line.startswith("error: ")]


def _assert_clean_failure(result, *fragments):
  code, stdout, stderr = result
  assert code not in (0, None), (code, stdout, stderr)
  assert "Traceback" not in stderr, stderr
  errors = _error_lines(stderr)
  assert len(errors) == 1, stderr
  for fragment in fragments:
    assert fragment in errors[0], (fragment, errors[0])
  return errors[0]


@pytest.mark.parametrize("binary,flags", [
    ("evaluate", ("task", "methods", "subset", "data_dir", "weights", "name",
                  "ratio", "paper_rim", "steps", "sigmas", "quantized",
                  "scales", "num_images", "seed", "output")),
    ("figures", ("figure", "results", "weights", "image_id", "sigma",
                 "scale", "data_dir", "output")),
    ("train", ("task", "task_module", "preset", "data_dir", "set", "run_dir",
               "export", "max_minutes", "keep_large_buffers")),
    ("combine", ("inputs", "subset", "task", "ours", "paper_rim", "output")),
])
def test_help_lists_the_flags_users_need(runs, binary, flags):
  _, stdout, stderr = runs["results"][f"{binary}_help"]
  text = stdout + stderr
  assert "Traceback" not in text
  for flag in flags:
    # absl lists a boolean flag as --[no]name.
    assert f"--{flag}:" in text or f"--[no]{flag}:" in text, flag


def test_a_bad_config_key_is_one_line(runs):
  _assert_clean_failure(runs["results"]["train_bad_set"],
                        "unknown config field 'trainer.no_such_field'")


def test_evaluate_without_data_fails_fast_with_one_error(runs):
  empty = runs["empty"]
  _assert_clean_failure(runs["results"]["evaluate_no_data"],
                        f"BSDS300 is not in {empty}")
  _, _, stderr = runs["results"]["evaluate_no_data"]
  assert f"Put BSDS300 in {empty}" in stderr  # the placement help follows
  assert list(empty.iterdir()) == []  # no partial download left behind
  assert not (runs["out"] / "sr.json").exists()


@pytest.mark.parametrize("name,flag", [
    ("train_export_blocked", "--export"),
    ("evaluate_output_blocked", "--output"),
    ("evaluate_shipped_blocked", "--output"),
    ("calibrate_output_blocked", "--output"),
    ("figures_output_blocked", "--output"),
    ("score_output_blocked", "--output"),
    ("search_output_blocked", "--output"),
])
def test_an_output_that_cannot_be_written_fails_before_any_work(
    runs, name, flag):
  blocked = runs["out"] / "a_file"
  line = _assert_clean_failure(runs["results"][name], f"error: {flag}: ",
                               f"cannot create the folder {blocked}",
                               f"{blocked} is a file")
  assert line.count(str(blocked)) >= 1
  # Nothing was started: no run folder, no runs of the search.
  assert not (runs["out"] / "run_export").exists()
  assert not (runs["out"] / "runs_blocked").exists()


def test_a_run_folder_that_cannot_be_made_is_one_line(runs):
  blocked = runs["out"] / "a_file"
  _assert_clean_failure(runs["results"]["train_run_dir_blocked"],
                        f"cannot create the folder {blocked / 'run'}: "
                        f"{blocked} is a file")


def test_missing_init_weights_are_one_line(runs):
  _assert_clean_failure(runs["results"]["train_init_missing"],
                        f"weights '{runs['out'] / 'none.weights.h5'}' not "
                        f"found")


def test_evaluate_paper_row_the_task_lacks_fails_before_the_data(runs):
  _assert_clean_failure(runs["results"]["evaluate_bad_paper_rim"],
                        "the paper has no row 'RIM-3task' for task "
                        "'superres'")


def test_evaluate_rim_without_weights_fails_before_the_data(runs):
  _assert_clean_failure(runs["results"]["evaluate_no_weights"],
                        "method 'rim' needs --weights")


def test_evaluate_two_subsets_need_a_subset_placeholder_in_the_output(runs):
  _assert_clean_failure(runs["results"]["evaluate_two_subsets_one_path"],
                        "must contain {subset}")


def test_score_weights_fails_cleanly_without_data_or_weights(runs):
  _assert_clean_failure(runs["results"]["score_no_data"],
                        f"BSDS300 is not in {runs['empty']}")
  _assert_clean_failure(runs["results"]["score_missing_weights"],
                        "none.weights.h5", "not found")


def test_allocator_benchmark_without_data_is_one_line(runs):
  _assert_clean_failure(runs["results"]["allocator_no_data"],
                        "case 'kept'", "failed",
                        f"BSDS300 is not in {runs['empty']}")


def test_recipe_search_refuses_bad_candidates_before_training(runs):
  _assert_clean_failure(runs["results"]["search_no_default"],
                        "no default candidates for task 'random_projections'")
  _assert_clean_failure(runs["results"]["search_bad_name"],
                        "candidate must be one of", "'bigger'")
  assert not (runs["out"] / "runs").exists()  # not even base started


def test_validation_history_without_logs_fails_with_one_error(runs):
  _assert_clean_failure(runs["results"]["history_no_logs"],
                        "no TensorBoard event files in")


def test_figure2_without_results_fails_with_one_error(runs):
  _assert_clean_failure(runs["results"]["figures_no_results"],
                        "figure 2 needs --results")
  assert not (runs["out"] / "f2.png").exists()


def test_figures_without_data_fails_with_one_error(runs):
  _assert_clean_failure(runs["results"]["figures_no_data"],
                        f"BSDS300 is not in {runs['empty']}")


def test_a_recorded_command_names_no_folder_of_the_machine():
  from rim_tf import experiment_flags  # pylint: disable=g-import-not-at-top
  line = experiment_flags.command_line([
      "/users/me/rim_tf/experiments/evaluate.py", "--task=deblur",
      "--data_dir=/srv/data", "--weights=/users/me/runs/a.weights.h5,"
      "denoise_gray", "--output=docs/results/x.json", "--data_dir", "~/d",
      "--num_images=10", "--weights=../elsewhere/b.weights.h5",
      "--set=trainer.init_weights=/users/me/c.weights.h5"])
  assert line == (
      "python experiments/evaluate.py --task=deblur --data_dir=DATA "
      "--weights=a.weights.h5,denoise_gray --output=docs/results/x.json "
      "--data_dir DATA --num_images=10 --weights=b.weights.h5 "
      "--set=trainer.init_weights=c.weights.h5")
  # The last experiments/ or docs/ of the binary's path is the repository's.
  assert experiment_flags.command_line(
      ["/users/u/experiments/rim/docs/probes/x.py"]) == (
          "python docs/probes/x.py")


def test_results_name_shipped_weights_by_name_and_others_by_file(tmp_path):
  import shutil  # pylint: disable=g-import-not-at-top
  from rim_tf import pretrained  # pylint: disable=g-import-not-at-top
  assert pretrained.provenance("denoise_gray")["path"] == "denoise_gray"
  for suffix in (".weights.h5", ".json"):
    shutil.copy(pretrained.HERE / f"superres{suffix}",
                tmp_path / f"mine{suffix}")
  known = pretrained.provenance(str(tmp_path / "mine.weights.h5"))
  assert known["path"] == "mine.weights.h5"
  assert known["sha256"] == pretrained.sha256("superres")
