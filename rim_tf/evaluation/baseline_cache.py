"""Classical baselines' results kept on disk, keyed by exactly what made them.

BM3D-deblurring on Levin et al.'s benchmark takes hours on two cores, and
it returns the same image for the same input every time: a RIM evaluated
again (another checkpoint, another T) need not wait for it. A
`CachedBaseline` wraps a method of `rim_tf.baselines`; a call whose key was
seen before returns the stored estimate and the seconds the computing call
took (reported as the method's time, `last_seconds`). The key is the
sha256 of the method's name and source, the versions of the libraries it
runs, and every argument's bytes (arrays with their dtype and shape), so
the same key means the same input to the same code. Entries are written
atomically; a damaged entry is recomputed.

    methods = {name: CachedBaseline(name, fn, folder) for name, fn in ...}
"""

import hashlib
import importlib.metadata
import inspect
import os
import pathlib
import tempfile
import time
import zipfile

import numpy as np

_LIBRARIES = ("bm3d", "numpy", "scipy")


def _versions():
  found = []
  for name in _LIBRARIES:
    try:
      found.append(f"{name}={importlib.metadata.version(name)}")
    except importlib.metadata.PackageNotFoundError:
      found.append(f"{name}=none")
  return ",".join(found)


class CachedBaseline:
  """`function(*args)` with its results kept in `folder`/`name`/.

  Attributes:
    last_seconds: the seconds of the last call's computation (stored with
      the entry, so a cached call reports the time the method took).
    hits, misses: calls answered from the folder, and computed.
  """

  def __init__(self, name, function, folder):
    self.name = str(name)
    self.function = function
    self.folder = pathlib.Path(os.path.expanduser(str(folder))) / self.name
    try:
      source = inspect.getsource(function)
    except (OSError, TypeError):
      source = repr(function)
    self._code = hashlib.sha256(
        f"{self.name}|{function.__module__}.{function.__qualname__}|{source}|"
        f"{_versions()}".encode()).hexdigest()
    self.last_seconds = None
    self.hits = self.misses = 0

  def key(self, *args):
    """The entry's name for these arguments."""
    digest = hashlib.sha256(self._code.encode())
    for arg in args:
      if isinstance(arg, np.ndarray) or hasattr(arg, "__array__"):
        array = np.ascontiguousarray(np.asarray(arg))
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
      else:
        digest.update(repr(arg).encode())
      digest.update(b"|")
    return digest.hexdigest()

  def __call__(self, *args):
    path = self.folder / f"{self.key(*args)}.npz"
    try:
      with np.load(path) as entry:
        estimate, seconds = entry["estimate"], float(entry["seconds"])
      self.hits += 1
      self.last_seconds = seconds
      return estimate
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
      pass  # Missing or damaged: computed (again) and rewritten.
    start = time.perf_counter()
    estimate = self.function(*args)
    self.last_seconds = time.perf_counter() - start
    self.misses += 1
    self.folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=self.folder, suffix=".tmp",
                                     delete=False) as scratch:
      np.savez_compressed(scratch, estimate=np.asarray(estimate),
                          seconds=self.last_seconds)
    os.replace(scratch.name, path)
    return estimate


def cached(methods, folder):
  """{name: method} with each method kept in `folder` (None: unchanged)."""
  if folder is None:
    return dict(methods)
  return {name: CachedBaseline(name, method, folder)
          for name, method in methods.items()}
