"""Comparing training recipes by held-out PSNR against wall clock.

A candidate is a name and config overrides on a task's search base (the
`cpu` preset, see `search_base` and `CANDIDATES`). `run_candidate` trains it
in chunks of `chunk_minutes` until `budget_minutes` of training, and after
every chunk scores the held-out patches (`score`: denoisers at fixed noise
levels, the same noisy patches for every candidate whatever sigma range it
trains on; super-resolution at each scale), appending a row to
RUN_DIR/search.json.
Everything resumes: checkpoints and budget live in the run folder, the rows
in the JSON. `markdown_table` lays the rows of several candidates side by
side at common minutes.
"""

import json
import pathlib

import tensorflow as tf

from rim_tf import configs
from rim_tf import precision
from rim_tf import pretrained
from rim_tf import tasks
from rim_tf.training import trainer as rim_trainer
from rim_tf.training import validation

# Recipe questions, one change each to a task's search base.
CANDIDATES = {
  "base": {},
  "gru64": {"model.gru_features": 64},
  "gru256": {"model.gru_features": 256},
  "atrous32": {"model.architecture": "atrous", "model.features": 32,
                 "model.gru_features": 32},
  "float32": {"trainer.mixed_precision": False},
  "T5": {"trainer.rim_steps": 5},
  "T20": {"trainer.rim_steps": 20},
  "batch16": {"data.batch_size": 16},
  "lr_constant": {"trainer.lr_schedule": "constant"},
  "lr3e-3": {"trainer.learning_rate": 3e-3},
  "sigma15-50": {"task_args.sigma_range_255": [15.0, 50.0]},
  "loss_sigma1": {"task_args.loss_sigma_power": 1.0},
  # The paper's super-resolution cell (its footnote 5: a-trous, ~500 k
  # parameters).
  "atrous64": {"model.architecture": "atrous", "model.features": 64,
               "model.gru_features": 64},
  # Start another task from the shipped gray denoiser (the same cpu cell;
  # inflated to three channels for colour, `model.inflate_channels`).
  "warm_denoise": {"trainer.init_weights": "denoise_gray"},
}
_LOG = "search.json"


class Interrupted(Exception):
  """A signal stopped a candidate (checkpointed): rerun to go on."""


def search_base(task="denoise"):
  """The search's base config of `task`: its cpu preset with the task's
  search overrides (`Task.recipe_search`)."""
  overrides, _ = tasks.get(task).recipe_search()
  return configs.override(configs.preset("cpu", task), overrides)


def default_candidates(task):
  """The candidate names searched for `task` when none are given."""
  _, names = tasks.get(task).recipe_search()
  if not names:
    raise ValueError(f"no default candidates for task {task!r}; name them "
                     f"(--candidates, from {sorted(CANDIDATES)}).")
  return list(names)


def candidate_config(name, task="denoise", base=None, extra=None):
  """The ExperimentConfig of candidate `name`: its overrides on `base`
  (default: `search_base(task)`)."""
  if name not in CANDIDATES:
    raise ValueError(f"candidate must be one of {sorted(CANDIDATES)}, "
                     f"got {name!r}.")
  base = base or search_base(task)
  return configs.override(base, {**CANDIDATES[name], **(extra or {})})


def read_rows(run_dir):
  """The rows logged so far in RUN_DIR/search.json ([] if none)."""
  path = pathlib.Path(run_dir) / _LOG
  return json.loads(path.read_text()) if path.exists() else []


def score(trainer, sigmas=None):
  """Held-out PSNR (dB) under fixed conditions.

  The task's fixed conditions (`Task.held_out_conditions`): denoisers
  {"psnr_sigma15": dB, ...} at each of `sigmas` (default: the paper's
  table's, whatever sigma range a candidate trains on), with the task's
  quantization. Other tasks: their own validation streams, e.g.
  {"psnr_x2", "psnr_x3", "psnr_x4"} for super-resolution.
  """
  return _score(trainer.task,
                lambda corruption: trainer.validate(corruption=corruption),
                sigmas)


def _score(task, validate, sigmas):
  """`score` of `task` through validate(corruption or None) -> {stream:
  PSNR}."""
  conditions = task.held_out_conditions(sigmas)
  if not conditions:
    return validate(None)
  return {name: validate(corruption)["psnr"]
          for name, corruption in conditions.items()}


def score_keys(row):
  """The PSNR keys of a `score` row, in its order."""
  return [k for k in row if k.startswith("psnr")]


def conditions_label(keys):
  """What `keys` score: "sigma 15 / 25 / 50", "x2 / x3 / x4" or "mixed"."""
  names = [k[len("psnr_"):] if k != "psnr" else "mixed" for k in keys]
  if names and all(n.startswith("sigma") for n in names):
    return "sigma " + " / ".join(n[len("sigma"):] for n in names)
  return " / ".join(names)


def score_weights(name_or_path, data_dir=None, sigmas=None,
                  patches=None):
  """`score` of exported weights (a shipped name or a path), on the
  held-out patches of their training config, with the budget of their
  JSON: {"step", "patches", "hours", "psnr_sigma15" or "psnr_x2", ...}."""
  path = pretrained.resolve(name_or_path)
  meta = pretrained.metadata(path)
  # Not the training machine's folder: this one's flag or default.
  config = configs.override(pretrained.config(path),
                            {"data.data_dir": data_dir})
  # Scored in the precision the weights trained in, as during training
  # (exports before the JSON said so: as this machine would train them).
  model, _ = pretrained.load(path, policy=meta.get(
      "policy", precision.policy(config.trainer.mixed_precision)))
  task = tasks.from_config(config)
  if patches is None:
    patches = task.training_patches(config.data)
  infer = tf.function(
      lambda batch: task.infer(model, batch, config.trainer.rim_steps))
  clean = patches.validation()
  return {"step": meta.get("step"), "patches": meta.get("patches_seen"),
          "hours": meta.get("train_hours"), **_score(
              task, lambda corruption: validation.held_out_psnr(
                  task, infer, clean, corruption), sigmas)}


def score_exports(names, data_dir=None, output=None, log=print,
                  patches=None):
  """`score_weights` of each of `names`, one line logged per score and the
  rows so far written to `output` (JSON {name: row}, a shipped name or the
  file's name: `pretrained.weights_name`) after each; returns the rows."""
  rows = {}
  for name in names:
    key = pretrained.weights_name(name)
    if key in rows:
      raise ValueError(
          f"{name} would be recorded as {key!r}, as weights scored before "
          f"it (results name weights by their file's name): give them files "
          f"of distinct names.")
    rows[key] = row = score_weights(name, data_dir, patches=patches)
    keys = score_keys(row)
    log(f"{name}: step {row['step']}, {row['patches']} patches, "
        f"{row['hours']} h; held-out PSNR {conditions_label(keys)}: " +
        " / ".join(f"{row[k]:.2f}" for k in keys) + " dB")
    if output:
      pathlib.Path(output).write_text(json.dumps(rows, indent=1))
  return rows


def run_candidate(config, run_dir, budget_minutes, chunk_minutes,
                  patches=None, sigmas=None):
  """Trains `config` in RUN_DIR to `budget_minutes`, scoring every chunk.

  Returns the rows: {"minutes", "step", "patches", "psnr_sigmaS"...}, the
  minutes being this run's training wall clock (validation excluded).

  Raises:
    Interrupted: SIGINT / SIGTERM stopped the training (it checkpointed; the
      rows logged so far stay), so that a search stops rather than going
      on to the next candidate.
  """
  run_dir = pathlib.Path(run_dir)
  trainer = rim_trainer.Trainer(config, run_dir, patches=patches)
  rows = read_rows(run_dir)
  while trainer.training_seconds() < 60.0 * budget_minutes:
    left = 60.0 * budget_minutes - trainer.training_seconds()
    before = int(trainer.step)
    result = trainer.train(max_seconds=min(60.0 * chunk_minutes, left))
    if result["stopped_by_signal"]:
      raise Interrupted(f"{run_dir} stopped at step {result['step']} by a "
                        f"signal; rerun to resume.")
    if not result["stopped_by_time"]:
      break  # The config's train_steps were reached.
    if int(trainer.step) == before:
      continue  # A chunk spent in set-up: its time counts, nothing to score.
    rows.append(_row(trainer, sigmas))
    (run_dir / _LOG).write_text(json.dumps(rows, indent=1))
  if not rows or rows[-1]["step"] != int(trainer.step):
    rows.append(_row(trainer, sigmas))
    (run_dir / _LOG).write_text(json.dumps(rows, indent=1))
  return rows


def _row(trainer, sigmas):
  return {"minutes": round(trainer.training_seconds() / 60.0, 2),
      "step": int(trainer.step),
      "patches": int(trainer.step) * trainer.config.data.batch_size,
      **score(trainer, sigmas)}


def markdown_table(rows_by_name, at_minutes):
  """A markdown table: each candidate's change to the base, its patches/s,
  and its scores ("a / b / c" dB, e.g. sigma 15 / 25 / 50) at the given
  minutes (the last row at or before each)."""
  keys = list(dict.fromkeys(
      k for rows in rows_by_name.values() for row in rows
      for k in score_keys(row)))
  label = conditions_label(keys)
  header = (["candidate", "change", "patches/s"] +
            [f"{m:g} min ({label})" for m in at_minutes])
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for name, rows in rows_by_name.items():
    cells = []
    for minutes in at_minutes:
      done = [r for r in rows if r["minutes"] <= minutes + 0.5]
      cells.append(" / ".join(
          f"{done[-1][k]:.2f}" if k in done[-1] else "–" for k in keys)
                   if done else "")
    last = rows[-1] if rows else None
    rate = (last["patches"] / (60.0 * last["minutes"])
            if last and last["minutes"] else float("nan"))
    change = ", ".join(f"{k}={v}" for k, v in CANDIDATES.get(
        name, {}).items()) or "none"
    lines.append(f"| {name} | {change} | {rate:.1f} | " + " | ".join(cells)
                 + " |")
  return "\n".join(lines)
