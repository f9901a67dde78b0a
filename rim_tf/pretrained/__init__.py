"""Shipped RIM weights and the loader for any exported RIM.

An exported RIM is a Keras weights file `NAME.weights.h5` with a `NAME.json`
beside it holding the resolved training config and budget (written by
`rim_tf.training.Trainer.export_weights`). Shipped ones live in this folder and
are listed, with their training budgets, in README.md here.
"""

import hashlib
import json
import pathlib

from rim_tf import configs
from rim_tf import tasks

HERE = pathlib.Path(__file__).parent


def shipped():
  """Names of the weights shipped in the package, e.g. "denoise_gray"."""
  return sorted(p.name[:-len(".weights.h5")]
                for p in HERE.glob("*.weights.h5"))


def resolve(name_or_path):
  """The .weights.h5 path of a shipped name or of a path given as is."""
  if not name_or_path:
    raise ValueError(f"no RIM weights given: pass a path to a .weights.h5 "
                     f"file or one of the shipped names {shipped()}.")
  path = pathlib.Path(name_or_path).expanduser()
  if not path.name.endswith(".weights.h5"):
    candidate = HERE / f"{name_or_path}.weights.h5"
    if candidate.exists():
      return candidate
  if not path.exists():
    raise FileNotFoundError(
        f"weights {name_or_path!r} not found: give a path to a .weights.h5 "
        f"file or one of the shipped names {shipped()}.")
  if not path.name.endswith(".weights.h5") or not path.is_file():
    raise ValueError(f"weights {name_or_path!r} must be a .weights.h5 file "
                     f"(written by rim_tf.training.Trainer.export_weights).")
  return path


def metadata(name_or_path):
  """The exported JSON: {"config": ..., "step": ..., "patches_seen": ...}."""
  meta_path = configs.export_json_path(resolve(name_or_path))
  if not meta_path.exists():
    raise FileNotFoundError(
        f"{meta_path} is missing: a RIM weights file needs the JSON of its "
        f"training config beside it to rebuild the model.")
  try:
    meta = json.loads(meta_path.read_text())
  except (OSError, UnicodeDecodeError, ValueError) as error:
    raise ValueError(f"{meta_path} is not a readable RIM weights JSON "
                     f"({error}).") from error
  if not isinstance(meta, dict) or "config" not in meta:
    raise ValueError(f"{meta_path} has no \"config\": it is not the JSON "
                     f"that rim_tf.training.Trainer.export_weights writes.")
  return meta


def sha256(name_or_path):
  """The sha256 hex digest of the weights file of a shipped name or path."""
  return hashlib.sha256(resolve(name_or_path).read_bytes()).hexdigest()


def weights_name(name_or_path):
  """How results files name weights: the shipped name ("denoise_gray"), or
  the file's name alone ("mine.weights.h5": no folder of the machine that
  scored it; its sha256 identifies it)."""
  path = resolve(name_or_path)
  if path.parent.resolve() == HERE.resolve():
    return path.name[:-len(".weights.h5")]
  return path.name


def provenance(name_or_path):
  """What identifies a weights file in a results file: {"path" (its
  `weights_name`), "step" (the training step it was exported at, from its
  JSON), "sha256"}."""
  path = resolve(name_or_path)
  return {"path": weights_name(path), "step": metadata(path).get("step"),
          "sha256": sha256(path)}


def config(name_or_path):
  """The ExperimentConfig that trained the weights (from their JSON)."""
  path = resolve(name_or_path)
  meta = metadata(path)
  try:
    return configs.ExperimentConfig.from_dict(meta["config"])
  except (KeyError, TypeError, ValueError) as error:
    raise ValueError(f"{configs.export_json_path(path)} does not hold a "
                     f"valid rim_tf config ({error!r}).") from error


def load(name_or_path, policy="float32"):
  """(model, config): the RIM with its weights, and its ExperimentConfig.

  The model computes in the Keras dtype policy `policy` ("float32" or
  "mixed_bfloat16"); the process's policy is left as it was.
  """
  path = resolve(name_or_path)
  experiment = config(path)
  model = tasks.from_config(experiment).build_model(experiment, policy)
  try:
    model.load_weights(str(path))
  except Exception as error:  # Keras raises several types for bad files.
    raise ValueError(
        f"could not load RIM weights from {path}: {error}") from error
  return model, experiment
