"""The tf.distribute strategy a run trains under, built in one place."""

import tensorflow as tf


def make_strategy(name):
  """The tf.distribute strategy named by the `trainer.strategy` field.

  "mirrored": all local GPUs, or the CPU (every logical CPU device when the
  CPU has been split, which is how the tests check multi-replica training);
  "multi_worker": MultiWorkerMirroredStrategy configured by TF_CONFIG;
  "default": no distribution.
  """
  if name == "mirrored":
    gpus = tf.config.list_logical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    devices = [d.name for d in (gpus or cpus)]
    return tf.distribute.MirroredStrategy(
        devices, cross_device_ops=None if gpus else
        tf.distribute.ReductionToOneDevice(reduce_to_device=devices[0]))
  if name == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "default":
    return tf.distribute.get_strategy()
  raise ValueError(
      f"strategy must be 'mirrored', 'multi_worker' or 'default', got "
      f"{name!r}.")
