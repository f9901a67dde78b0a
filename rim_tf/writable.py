"""Where the package writes: folders made, and shown to take a file, before
any work is done, so that a mistake costs a second and not a run."""

import os
import pathlib
import tempfile


def folder(path):
  """`path` (`~` expanded) as a Path, created with its parents, after a
  scratch file was written and removed in it.

  Raises:
    ValueError: one line naming the folder and why it cannot be written
      (a read-only place, a path through a regular file, a full disk, ...).
  """
  folder = pathlib.Path(os.path.expanduser(str(path)))
  for place in (folder, *folder.parents):
    if place.exists():
      if not place.is_dir():
        raise ValueError(f"cannot create the folder {folder}: {place} is a "
                         f"file.")
      break
  try:
    folder.mkdir(parents=True, exist_ok=True)
  except OSError as error:
    raise ValueError(f"cannot create the folder {folder} "
                     f"({error.strerror or error}).") from None
  # Try, rather than ask os.access: a read-only file system, a full disk or
  # a folder of another user all show here.
  try:
    handle, probe = tempfile.mkstemp(prefix=".rim_tf_probe.", dir=folder)
    os.close(handle)
    os.remove(probe)
  except OSError as error:
    raise ValueError(f"cannot write into {folder} "
                     f"({error.strerror or error}).") from None
  return folder


def file(path):
  """`path` (`~` expanded) as a Path whose folder exists and takes files;
  ValueError (one line) if it cannot be written there, is a folder, or is
  a file that cannot be overwritten."""
  path = pathlib.Path(os.path.expanduser(str(path)))
  if path.is_dir():
    raise ValueError(f"{path} is a folder; give a file name.")
  try:
    folder(path.parent)
  except ValueError as error:
    raise ValueError(f"{path}: {error}") from None
  if path.exists():
    # Opened to append, which changes nothing: a read-only file shows here.
    try:
      with open(path, "ab"):
        pass
    except OSError as error:
      raise ValueError(f"{path}: cannot be overwritten "
                       f"({error.strerror or error}).") from None
  return path
