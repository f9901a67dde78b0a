"""docs/own_operator.md runs as printed: its module, its commands (made
quick with --set and a small fake BSDS300) and its Python restore."""

import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

from synthetic import write_fake_bsds

REPO = pathlib.Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "own_operator.md"
QUICK = ["--set=trainer.train_steps=6", "--set=trainer.eval_every=3",
         "--set=trainer.checkpoint_every=3", "--set=data.num_validation=8"]


def _blocks(language):
  return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), re.S)


def _commands(block):
  """The shell commands of a bash block, continuation lines joined."""
  return [shlex.split(line) for line in block.replace("\\\n", " ").splitlines()
          if line.strip()]


def test_the_module_is_short_and_outside_the_package():
  module = _blocks("python")[0]
  code = [line for line in module.splitlines()
          if line.strip() and not line.strip().startswith("#")]
  assert len(code) <= 60, len(code)
  assert "class Mask(operators.LinearOperator)" in module


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
  root = tmp_path_factory.mktemp("own_operator")
  (root / "my_inpainting.py").write_text(_blocks("python")[0])
  write_fake_bsds(root / "data", size=(48, 40))
  return root


def test_the_page_trains_evaluates_and_restores(folder):
  env = dict(os.environ, PYTHONPATH=str(folder) + os.pathsep +
             os.environ.get("PYTHONPATH", ""), TF_CPP_MIN_LOG_LEVEL="2",
             RIM_DATA_DIR=str(folder / "data"))
  train, evaluate = _commands(_blocks("bash")[0])
  assert train[:2] == ["python", "experiments/train.py"]
  assert evaluate[:2] == ["python", "experiments/evaluate.py"]
  for command, extra in ((train, QUICK + ["--set=data.source=builtin"]),
                         # The fake BSDS300 has no BSD68 ids.
                         (evaluate, ["--num_images=2", "--subset=bsd100"])):
    result = subprocess.run(
        [sys.executable, str(REPO / command[1]), *command[2:], *extra],
        cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
  assert (folder / "inpaint.weights.h5").exists()
  assert "psnr" in (folder / "inpaint_results.md").read_text().lower()
  restore = _blocks("python")[1]
  result = subprocess.run([sys.executable, "-c", restore], cwd=folder,
                          env=env, capture_output=True, text=True,
                          timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  measured, restored = map(float, re.findall(r"([\d.]+) dB", result.stdout))
  # Six steps of training already fill the lost pixels better than zeros.
  assert restored > measured + 3, result.stdout
