"""A Task of the user's own, registered from their own module, trains with
experiments/train.py, is scored by experiments/evaluate.py and restores
through the package, none of them changed for it."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from synthetic import write_fake_bsds

REPO = pathlib.Path(__file__).resolve().parent.parent

# A problem rim_tf does not ship: the image is dimmed to half and noisy.
OWN_TASKS = textwrap.dedent('''
    import dataclasses

    import tensorflow as tf

    from rim_tf import operators
    from rim_tf import tasks
    from rim_tf.data import corruptions


    class Dim(operators.LinearOperator):
      """A x = x / 2; its own adjoint."""

      def __init__(self, image_shape):
        self._shape = tuple(image_shape)

      @property
      def domain_shape(self):
        return self._shape

      @property
      def range_shape(self):
        return self._shape

      def forward(self, x):
        return 0.5 * x

      def adjoint(self, y):
        return 0.5 * y

      def initial_estimate(self, y):
        return tf.clip_by_value(2.0 * y, 0.0, 1.0)


    class DimAndNoise(corruptions.Corruption):
      name = "dim_and_noise"

      def __call__(self, batch, seed):
        x = batch["x"]
        sigma = tf.fill(tf.shape(x)[:1], 0.05)
        noise = tf.random.stateless_normal(tf.shape(x), seed)
        return {**batch, "y": 0.5 * x + 0.05 * noise, "sigma": sigma}

      def get_config(self):
        return {"name": self.name}


    @tasks.register
    @dataclasses.dataclass(frozen=True)
    class Dimmed(tasks.Task):
      patch: int = 16
      name = "dimmed"

      @property
      def channels(self):
        return 1

      def corruption(self):
        return DimAndNoise()

      def operator(self, batch):
        return Dim((None, None, 1))
    ''')


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
  root = tmp_path_factory.mktemp("own_task")
  (root / "my_tasks.py").write_text(OWN_TASKS)
  write_fake_bsds(root / "data", size=(40, 32))
  env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep +
             os.environ.get("PYTHONPATH", ""), TF_CPP_MIN_LOG_LEVEL="2")
  return root, env


def _run(setting, script, *args):
  root, env = setting
  return subprocess.run(
      [sys.executable, str(REPO / "experiments" / script),
       "--task_module=my_tasks", "--task=dimmed",
       f"--data_dir={root / 'data'}", *args],
      cwd=root, env=env, capture_output=True, text=True, timeout=600)


def test_an_own_task_trains_evaluates_and_restores(setting):
  root, env = setting
  trained = _run(setting, "train.py", "--preset=smoke",
                 f"--run_dir={root / 'run'}",
                 f"--export={root / 'dimmed.weights.h5'}",
                 "--set=trainer.train_steps=6", "--set=trainer.eval_every=3",
                 "--set=trainer.checkpoint_every=3",
                 "--set=data.num_validation=8")
  assert trained.returncode == 0, trained.stderr[-3000:]
  saved = json.loads((root / "dimmed.json").read_text())
  assert saved["config"]["task"] == "dimmed" and saved["step"] == 6

  scored = _run(setting, "evaluate.py", "--methods=rim",
                f"--weights={root / 'dimmed.weights.h5'}",
                "--subset=bsd100", "--num_images=2",
                f"--output={root / 'dimmed.json.results.json'}")
  assert scored.returncode == 0, scored.stderr[-3000:]
  results = json.loads((root / "dimmed.json.results.json").read_text())
  entry = results["rim"]["psnr"]
  assert entry["n"] == 2 and np.isfinite(entry["psnr"])

  # In a process of the user's: import the module, load the weights.
  restored = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
      import numpy as np
      import my_tasks
      from rim_tf import pretrained
      from rim_tf import tasks
      model, config = pretrained.load({str(root / 'dimmed.weights.h5')!r})
      task = tasks.from_config(config)
      clean = np.full((1, 20, 20, 1), 0.6, np.float32)
      y = 0.5 * clean
      batch = {{"y": y, "sigma": np.full([1], 0.05, np.float32)}}
      estimates, start = task.infer(model, batch, 2)
      print("SHAPE", tuple(estimates.shape), round(float(start[0, 0, 0, 0]), 3))
      """)], cwd=root, env=env, capture_output=True, text=True, timeout=600)
  assert restored.returncode == 0, restored.stderr[-3000:]
  assert "SHAPE (2, 1, 20, 20, 1) 0.6" in restored.stdout


def test_an_unknown_task_is_one_line_naming_the_registered_ones(setting):
  root, _ = setting
  result = _run(setting, "train.py", "--preset=smoke",
                f"--run_dir={root / 'run2'}", "--task=dimmer")
  # --task given twice: absl takes the last.
  assert result.returncode != 0
  assert "Traceback" not in result.stderr
  errors = [l for l in result.stderr.splitlines() if l.startswith("error: ")]
  assert len(errors) == 1 and "'dimmer'" in errors[0]
  assert "dimmed" in errors[0] and "denoise" in errors[0]
