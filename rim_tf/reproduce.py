"""The paper's reproductions (and deblurring's) as commands: train,
calibrate, evaluate, draw.

`commands(target, preset, out, runs, data_dir)` lists the binaries of
`experiments/` that one reproduction runs, in order, each handing its
weights to the next; `experiments/reproduce.py` (and `make reproduce-*`)
runs them. A rerun resumes: training goes on from its run folder's
checkpoints; the other steps run again.

    python experiments/reproduce.py --target=denoise --preset=cpu \\
        --out=results/cpu --runs=$HOME/rim_runs --data_dir=DIR
"""

import dataclasses
import os
import subprocess
import sys

from rim_tf import tasks
from rim_tf.evaluation import shipped

# The smoke preset evaluates on a few images and Figure 2 on fewer patches.
SMOKE_IMAGES = 2
SMOKE_PATCHES = 300
# The cpu recipe's second stage (docs/training.md).
FINETUNE_PRESET = "cpu_finetune"


@dataclasses.dataclass(frozen=True)
class Reproduction:
  """One of the paper's results, reproduced.

  Args:
    task: the registered task trained.
    models: (run name, export name, config overrides as "field=value") of
      each model trained, e.g. the RIM and its two ablations.
    finetune: with the cpu preset, each model's second stage runs.
    calibrate: export names whose batch-norm statistics are calibrated per
      RIM step (`rim_tf.training.norm_calibration`); the others are scored
      as trained.
    figure: the paper's figure drawn from the first model ("3", "4"), or
      None; a task whose protocol is Figure 2's curves draws Figure 2.
  """

  task: str
  models: tuple
  finetune: bool = False
  calibrate: tuple = ()
  figure: str | None = None


REPRODUCTIONS = {
    "denoise": Reproduction("denoise", (("denoise", "denoise_gray", ()),),
                            finetune=True, calibrate=("denoise_gray",),
                            figure="3"),
    "color": Reproduction("denoise_color",
                          (("denoise_color", "denoise_color", ()),),
                          calibrate=("denoise_color",)),
    "sr": Reproduction("superres", (("superres", "superres", ()),),
                       calibrate=("superres",), figure="4"),
    # The FFN keeps its one set of batch-norm statistics: per-step rows
    # cost it up to 2.4 dB averaged over Figure 2's 50 steps
    # (docs/training.md).
    "rp": Reproduction("random_projections",
                       (("rp_rim", "rp_rim", ()),
                        ("rp_gdn", "rp_gdn", ("model.ablation=gdn",)),
                        ("rp_ffn", "rp_ffn", ("model.ablation=ffn",))),
                       finetune=True, calibrate=("rp_rim", "rp_gdn")),
    # Not one of the paper's tables: Levin et al.'s kernels on BSD68 and the
    # 100 test images, BM3D-deblurring and Wiener in the same run.
    "deblur": Reproduction("deblur", (("deblur", "deblur", ()),),
                           calibrate=("deblur",)),
}


def _binary(name):
  return ["python", f"experiments/{name}.py"]


def _flag_values(values):
  """Protocol options as evaluate.py's flags ("--sigmas=25", ...)."""
  flags = []
  for key, value in values.items():
    if isinstance(value, (tuple, list)):
      value = ",".join(str(v).lower() if isinstance(v, bool) else f"{v:g}"
                       if isinstance(v, float) else str(v) for v in value)
    flags.append(f"--{key}={value}")
  return flags


def commands(target, preset="cpu", out="results/cpu", runs="rim_runs",
             data_dir="data"):
  """The argv lists of the reproduction `target` (a key of
  `REPRODUCTIONS`), relative to the repository, in the order they run."""
  if target not in REPRODUCTIONS:
    raise ValueError(f"target must be one of {sorted(REPRODUCTIONS)}, got "
                     f"{target!r}.")
  plan = REPRODUCTIONS[target]
  evaluation = tasks.get(plan.task).evaluation
  data = [f"--data_dir={data_dir}"]
  smoke = preset == "smoke"
  steps = []
  trained = {}
  for run, export, overrides in plan.models:
    sets = [f"--set={o}" for o in overrides]
    first = os.path.join(out, f"{export}.weights.h5")
    steps.append(_binary("train") + [
        f"--preset={preset}", *data, f"--task={plan.task}",
        f"--run_dir={os.path.join(runs, f'{run}_{preset}')}", *sets,
        f"--export={first}"])
    trained[export] = first
  if plan.finetune and preset == "cpu":
    for run, export, overrides in plan.models:
      second = os.path.join(out, f"{export}_finetuned.weights.h5")
      steps.append(_binary("train") + [
          f"--preset={FINETUNE_PRESET}", *data, f"--task={plan.task}",
          f"--run_dir={os.path.join(runs, f'{run}_{FINETUNE_PRESET}')}",
          f"--set=trainer.init_weights={trained[export]}",
          *[f"--set={o}" for o in overrides], f"--export={second}"])
      trained[export] = second
  final = dict(trained)
  for export in plan.calibrate:
    calibrated = trained[export].replace(".weights.h5",
                                         "_calibrated.weights.h5")
    steps.append(_binary("calibrate_norms") + [
        *data, f"--weights={trained[export]}", f"--output={calibrated}"])
    final[export] = calibrated
  images = [f"--num_images={SMOKE_IMAGES}"] if smoke else []
  first_export = plan.models[0][1]
  if evaluation.protocol == "projection_curves":
    labels = list(shipped.FIGURE2_NAMES.values())  # RIM, GDN, FFN
    curves_json = os.path.join(out, "figure2_curves.json")
    steps.append(_binary("evaluate") + [
        *data, f"--task={plan.task}",
        f"--name={','.join(labels[:len(plan.models)])}",
        f"--weights={','.join(final[e] for _, e, _ in plan.models)}",
        *([f"--num_images={SMOKE_PATCHES}"] if smoke else []),
        f"--output={curves_json}"])
    steps.append(_binary("figures") + [
        *data, "--figure=2", f"--results={curves_json}",
        f"--output={os.path.join(out, 'figure2.png')}"])
  # Another task's table (the 3-task RIM's Table 2 row) comes with that
  # table's baselines in the same run.
  table, methods, subsets, options = shipped.table_plan(plan.task)
  paper_rim = options.pop("paper_rim", None)
  name = "rim" if paper_rim is None else paper_rim.lower().replace("-", "_")
  steps.append(_binary("evaluate") + [
      *data, *images, f"--task={table}", f"--methods={','.join(methods)}",
      f"--subset={','.join(subsets)}", *_flag_values(options),
      f"--weights={final[first_export]}",
      # The baselines' results are kept with the runs: evaluating again
      # (another preset, a resumed run) does not recompute them.
      f"--baseline_cache={os.path.join(runs, 'baseline_cache')}",
      *([f"--name={name}", f"--paper_rim={paper_rim}"] if paper_rim else []),
      f"--output={os.path.join(out, f'{name if paper_rim else table}')}"
      f"_{{subset}}.json"])
  if plan.figure:
    steps.append(_binary("figures") + [
        *data, f"--figure={plan.figure}", f"--weights={final[first_export]}",
        f"--output={os.path.join(out, f'figure{plan.figure}.png')}"])
  return steps


def run(steps, repository, log=print):
  """Runs `commands`' argv lists from `repository` with this Python, each
  printed first; returns the first non-zero exit code (0 if none)."""
  for argv in steps:
    log(" ".join(argv))
    code = subprocess.run([sys.executable] + argv[1:], cwd=repository,
                          check=False).returncode
    if code:
      return code
  return 0
