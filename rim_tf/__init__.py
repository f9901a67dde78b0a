"""rim_tf: Recurrent Inference Machines (Putzky & Welling, ICLR 2017) in TF2 / Keras 3."""

import importlib
import importlib.abc
import sys

__version__ = "0.1.0"

# Submodules reached as attributes (`rim_tf.pretrained.load`), imported on
# first use so that `import rim_tf` does not import TensorFlow.
_SUBMODULES = ("baselines", "configs", "data", "evaluation", "inference",
               "layers", "likelihood", "metrics", "model", "operators",
               "pretrained", "tasks", "training", "writable")


def __getattr__(name):
  if name == "restore":
    from rim_tf.inference.api import restore  # pylint: disable=g-import-not-at-top
    return restore
  if name == "export":
    from rim_tf.inference.deploy import export  # pylint: disable=g-import-not-at-top
    return export
  if name in _SUBMODULES:
    return importlib.import_module(f"rim_tf.{name}")
  raise AttributeError(f"module 'rim_tf' has no attribute {name!r}")


def _register_keras_classes():
  """Registers the RIM's Keras classes, so that `keras.saving.load_model`
  reads a .keras file of any RIM after `import rim_tf` alone; returns
  whether they are registered."""
  if "keras" not in sys.modules:
    return False
  try:
    importlib.import_module("rim_tf.model")
  except Exception:  # pylint: disable=broad-except
    # Keras imported from inside TensorFlow's own import: tried again when
    # that import completes.
    return False
  for finder in [f for f in sys.meta_path if isinstance(f, _AfterKeras)]:
    try:
      sys.meta_path.remove(finder)
    except ValueError:  # Removed by another thread meanwhile.
      pass
  return True


class _AfterKeras(importlib.abc.MetaPathFinder):
  """Registers the Keras classes once Keras (and TensorFlow, if Keras came
  with it) is imported: `import rim_tf` itself stays free of TensorFlow,
  so that the command-line tools check their arguments first."""

  def find_spec(self, fullname, path, target=None):
    del target
    if fullname not in ("keras", "tensorflow"):
      return None
    # The spec the other finders give (an editable install's too).
    spec = None
    for finder in sys.meta_path:
      if finder is self or not hasattr(finder, "find_spec"):
        continue
      spec = finder.find_spec(fullname, path, None)
      if spec is not None:
        break
    if spec is None or spec.loader is None:
      return spec
    exec_module = spec.loader.exec_module

    def exec_then_register(module):
      exec_module(module)
      try:
        _register_keras_classes()
      except Exception:  # pylint: disable=broad-except
        pass  # Never fail the import of Keras or TensorFlow for it.

    spec.loader.exec_module = exec_then_register
    return spec


if not _register_keras_classes():
  sys.meta_path.insert(0, _AfterKeras())
