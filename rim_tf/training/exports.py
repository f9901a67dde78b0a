"""The one writer of exported weights: NAME.weights.h5 and NAME.json.

The JSON beside the weights holds the resolved training config (which
rebuilds the model, `rim_tf.pretrained.load`), the budget and where the
weights came from; `rim_tf.pretrained` reads it.
"""

import json
import pathlib
import subprocess

from rim_tf import configs
from rim_tf import pretrained


def write(model, path, meta):
  """Writes `model`'s weights to `path` (.weights.h5) and `meta` (a dict
  with at least "config") as the JSON beside them; returns the path."""
  if "config" not in meta:
    raise ValueError("an export's JSON needs the training \"config\".")
  # The data folder is each user's own (--data_dir, RIM_DATA_DIR), and a
  # warm start's weights are named as results name them: an export names
  # no folder of the machine that trained it.
  meta = json.loads(json.dumps(meta))
  meta["config"].get("data", {})["data_dir"] = None
  trainer = meta["config"].get("trainer", {})
  if trainer.get("init_weights"):
    trainer["init_weights"] = _weights_name(trainer["init_weights"])
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  model.save_weights(str(path))
  configs.export_json_path(path).write_text(json.dumps(meta, indent=2))
  return path


def _weights_name(name_or_path):
  try:
    return pretrained.weights_name(name_or_path)
  except (OSError, ValueError):  # Gone since: its file name.
    return pathlib.PurePath(name_or_path).name


def git_commit():
  """The commit of the rim_tf source tree, or None outside a git checkout."""
  try:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True,
        text=True, check=True, timeout=10,
        cwd=pathlib.Path(__file__).parent).stdout.strip() or None
  except (OSError, subprocess.SubprocessError):
    return None
