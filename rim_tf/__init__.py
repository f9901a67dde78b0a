"""rim_tf: Recurrent Inference Machines (Putzky & Welling, ICLR 2017) in TF2 / Keras 3."""

import importlib

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
