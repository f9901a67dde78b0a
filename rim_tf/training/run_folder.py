"""The files of a run folder beside its checkpoints: the resolved config,
the training budget and the best validation's record.

    RUN_DIR/config.json        the ExperimentConfig the run trains
    RUN_DIR/budget.json        {"step", "train_seconds", "patches_seen"}
    RUN_DIR/best.weights.h5    the best-validated weights, best.json beside
    RUN_DIR/checkpoints/       tf.train.CheckpointManager's
    RUN_DIR/logs/              TensorBoard
    RUN_DIR/lock               "PID HOST" of the process training in it
"""

import atexit
import json
import os
import pathlib
import socket

import numpy as np

from rim_tf import configs
from rim_tf import writable


class RunFolder:
  """The run folder `path` (it need not exist yet)."""

  def __init__(self, path):
    self.path = pathlib.Path(path)

  @property
  def checkpoints(self):
    return self.path / "checkpoints"

  @property
  def logs(self):
    return self.path / "logs"

  @property
  def best_weights(self):
    """best.weights.h5: the weights of the best validation so far, with
    best.json (the export JSON plus its "validation")."""
    return self.path / "best.weights.h5"

  def lock(self):
    """Marks the folder as in use by this process until it exits.

    A second trainer is refused while the holder lives; the lock of a
    process that died (killed, machine restarted) is taken over. The same
    process may lock it again.

    Raises:
      ValueError: a live process holds the folder (named by pid and host),
        or the folder cannot be created or written.
    """
    writable.folder(self.path)
    path = self.path / "lock"
    mine = f"{os.getpid()} {socket.gethostname()}"
    for _ in range(2):
      try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
      except FileExistsError:
        holder = path.read_text().strip()
        if holder == mine:
          return
        if _alive(holder):
          pid, _, host = holder.partition(" ")
          raise ValueError(
              f"run folder {self.path} is in use by process {pid} on "
              f"{host}; wait for it to end, or delete {path} if it has.")
        path.unlink(missing_ok=True)  # Stale: its process is gone.
        continue
      with os.fdopen(descriptor, "w") as f:
        f.write(mine)
      atexit.register(_release, path, mine)
      return
    raise ValueError(f"could not lock run folder {self.path}: another "
                     f"process took {path} at the same time.")

  def unlock(self):
    """Releases this process's lock of the folder (also done at exit)."""
    _release(self.path / "lock", f"{os.getpid()} {socket.gethostname()}")

  def check_config(self, config):
    """Raises ValueError if the folder holds a run of another model or
    task than `config`'s (or a config.json this code cannot read)."""
    path = self.path / "config.json"
    if not path.exists():
      return
    try:
      previous = configs.ExperimentConfig.from_json(path.read_text())
    except (ValueError, KeyError, TypeError) as error:
      raise ValueError(
          f"{path} is not a readable rim_tf config ({error!r}); this "
          f"folder does not hold a run of this code. Use a new run "
          f"folder.") from None
    if not configs.same_model(previous, config):
      raise ValueError(
          f"{self.path} holds a run of another model or task "
          f"({previous.task}, {previous.model}); use a new run folder.")

  def write_config(self, config):
    """config.json, atomically: a reader never sees half a file."""
    self.path.mkdir(parents=True, exist_ok=True)
    _write_atomically(self.path / "config.json", config.to_json())

  def budget_seconds(self):
    """The training seconds budget.json records, None without it."""
    path = self.path / "budget.json"
    if not path.exists():
      return None
    return json.loads(path.read_text())["train_seconds"]

  def write_budget(self, step, seconds, patches_seen):
    # Beside the checkpoint, not in it: old checkpoints stay restorable.
    _write_atomically(self.path / "budget.json", json.dumps(
        {"step": step, "train_seconds": seconds,
         "patches_seen": patches_seen}))

  def best_validation(self):
    """The mean over streams of the best validation recorded with
    `best_weights`, or None before the first."""
    path = configs.export_json_path(self.best_weights)
    if not path.exists():
      return None
    try:
      return float(np.mean(list(json.loads(path.read_text())[
          "validation"].values())))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
      raise ValueError(f"{path} is not a best-weights record of this "
                       f"trainer ({error!r}); delete it and its weights to "
                       f"start the record afresh.") from None


def _alive(holder):
  """Whether the "PID HOST" of a lock names a live process (one of another
  host counts as live: it cannot be checked from here)."""
  pid, _, host = holder.partition(" ")
  if host != socket.gethostname():
    return True
  try:
    os.kill(int(pid), 0)
  except ProcessLookupError:
    return False
  except (PermissionError, ValueError):
    return True
  return True


def _release(path, mine):
  try:
    if path.read_text().strip() == mine:
      path.unlink()
  except OSError:
    pass


def _write_atomically(path, text):
  scratch = path.with_name(path.name + ".tmp")
  scratch.write_text(text)
  os.replace(scratch, path)
