"""rim_tf: Recurrent Inference Machines (Putzky & Welling, ICLR 2017) in TF2 / Keras 3."""

__version__ = "0.1.0"


def __getattr__(name):
  # `rim_tf.restore` without importing TensorFlow for `import rim_tf`.
  if name == "restore":
    from rim_tf.inference.api import restore  # pylint: disable=g-import-not-at-top
    return restore
  raise AttributeError(f"module 'rim_tf' has no attribute {name!r}")
