"""The checkpoints of a run folder: which are there, which can be read, and
setting aside the ones that cannot, so that training never starts over a
run's progress and never deletes a good checkpoint for a bad one.

A checkpoint is the prefix RUN_DIR/checkpoints/ckpt-STEP of its files
(ckpt-STEP.index, ckpt-STEP.data-*). tf.train.CheckpointManager lists the
complete ones in the folder's `checkpoint` file once their files are
written; a checkpoint whose files are missing, truncated or unreadable is
renamed to ckpt-STEP.bad.* (kept for inspection, never deleted) and the
list rewritten without it. A save writes into the folder ckpt-STEP_temp and
moves its files into place only when they are complete, so a save that was
killed leaves that folder behind: never a checkpoint, only disk used.
"""

import pathlib
import re
import shutil

import tensorflow as tf

_PREFIX = re.compile(r"^ckpt-(\d+)$")


def _step(prefix):
  match = _PREFIX.match(pathlib.Path(prefix).name)
  return int(match.group(1)) if match else -1


def present(folder):
  """Every checkpoint prefix of `folder`, listed in its state file or with
  an index file on disk, oldest (lowest step) first."""
  folder = pathlib.Path(folder)
  prefixes = set()
  state = tf.train.get_checkpoint_state(str(folder))
  if state is not None:
    for path in state.all_model_checkpoint_paths:
      path = pathlib.Path(path)
      prefixes.add(str(path if path.is_absolute() else folder / path))
  for index in folder.glob("ckpt-*.index"):
    prefixes.add(str(index.with_suffix("")))
  return sorted((p for p in prefixes if _step(p) >= 0), key=_step)


def unfinished(folder):
  """The scratch folders (ckpt-STEP_temp) of saves that never finished."""
  return sorted(p for p in pathlib.Path(folder).glob("ckpt-*_temp")
                if p.is_dir())


def remove_unfinished(folder):
  """Deletes the scratch folders of unfinished saves; returns them."""
  removed = unfinished(folder)
  for path in removed:
    shutil.rmtree(path, ignore_errors=True)
  return removed


def problem(prefix):
  """Why checkpoint `prefix` cannot be restored, or None if every tensor
  in it reads."""
  folder = pathlib.Path(prefix).parent
  name = pathlib.Path(prefix).name
  if not (folder / f"{name}.index").exists():
    return "its index file is missing"
  if not list(folder.glob(f"{name}.data-*")):
    return "its data file is missing"
  try:
    reader = tf.train.load_checkpoint(prefix)
    for key in reader.get_variable_to_shape_map():
      reader.get_tensor(key)
  except Exception as error:  # pylint: disable=broad-except
    # The reader fails in many ways (DataLossError, OutOfRangeError,
    # IndexError on a truncated file, ...); all mean the same here.
    first = str(error).strip().splitlines()[0] if str(error) else ""
    return f"it cannot be read ({type(error).__name__}: {first[:160]})"
  return None


def set_aside(prefix):
  """Renames the files of checkpoint `prefix` to ckpt-STEP.bad.*; returns
  the new names."""
  path = pathlib.Path(prefix)
  moved = []
  for file in sorted(path.parent.glob(f"{path.name}.*")):
    if file.name.startswith(f"{path.name}.bad"):
      continue
    target = file.with_name(f"{path.name}.bad{file.name[len(path.name):]}")
    file.rename(target)
    moved.append(target)
  return moved


def list_only(folder, prefixes):
  """Rewrites the folder's state file to list `prefixes` (oldest first)."""
  if prefixes:
    names = [pathlib.Path(p).name for p in prefixes]
    # The state file tf.train.CheckpointManager reads and writes.
    tf.compat.v1.train.update_checkpoint_state(
        str(folder), names[-1], all_model_checkpoint_paths=names)
  else:
    (pathlib.Path(folder) / "checkpoint").unlink(missing_ok=True)
