"""The optimizer: Adam on gradients summed once over replicas, and the
learning-rate schedule of a TrainerConfig."""

import keras
import tensorflow as tf


def learning_rate_schedule(trainer):
  """The learning rate as a Keras schedule (or a float when constant)."""
  if trainer.lr_schedule == "constant":
    return trainer.learning_rate
  if trainer.lr_schedule == "cosine":
    return keras.optimizers.schedules.CosineDecay(
        0.0 if trainer.warmup_steps else trainer.learning_rate,
        decay_steps=max(1, trainer.train_steps - trainer.warmup_steps),
        alpha=trainer.final_lr_fraction,
        warmup_target=(trainer.learning_rate if trainer.warmup_steps
                       else None),
        warmup_steps=trainer.warmup_steps)
  raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got "
                   f"{trainer.lr_schedule!r}.")


class _SummedGradientAdam(keras.optimizers.Adam):
  """Adam that applies gradients the trainer has already summed over replicas.

  Keras 3's TF optimizer clips each replica's gradient and only then sums
  them (`_all_reduce_sum_gradients`), so a global-norm clip would act per
  replica. The trainer sums once, clips the sum, and this optimizer applies
  it as given.
  """

  def _all_reduce_sum_gradients(self, grads_and_vars):
    return list(grads_and_vars)


def make_optimizer(schedule, step, ramp_steps=0):
  """Adam with `schedule` (`learning_rate_schedule`); clip in the step.

  The learning rate follows the global `step` (a tf.Variable), not the
  optimizer's own update count, so a run continued from exported weights
  (fresh Adam state) goes on with its schedule. With `ramp_steps` > 0 it is
  scaled by min(1, (k + 1) / ramp_steps) at the optimizer's update k.
  """
  if not hasattr(keras.optimizers.Adam, "_all_reduce_sum_gradients"):
    raise RuntimeError(
        "this Keras no longer has TFOptimizer._all_reduce_sum_gradients; "
        "rim_tf.training must be updated so gradients are summed exactly once.")
  optimizer = []  # The rate reads the optimizer's update count.

  def rate():
    value = schedule(step) if callable(schedule) else schedule
    if not ramp_steps:
      return value
    done = tf.cast(optimizer[0].iterations + 1, tf.float32)
    return value * tf.minimum(1.0, done / float(ramp_steps))

  optimizer.append(_SummedGradientAdam(
      rate if callable(schedule) or ramp_steps else schedule, name="adam"))
  return optimizer[0]
