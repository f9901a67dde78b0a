"""An exponential moving average of a model's weights (Polyak averaging).

Trained at a high learning rate, the RIM's held-out PSNR swings by about
±0.3 dB between validations (docs/training.md); the average of the recent
weights sits in the middle of those swings. The trainer updates it after
every optimizer step, validates and exports it.
"""

import contextlib
import math

import tensorflow as tf


def check_decay(decay, name="decay"):
  """Raises ValueError unless 0 < `decay` < 1 (`name` names it)."""
  if not 0.0 < decay < 1.0:
    raise ValueError(f"{name} must be in (0, 1), got {decay!r}.")


class WeightAverage:
  """Shadow copies s of variables w, updated as s <- d_k s + (1 - d_k) w.

  d_k = min(decay, (1 + k) / (10 + k)) at update k (as
  tf.train.ExponentialMovingAverage with num_updates): in a new run the
  random starting weights fade within a few dozen updates instead of
  weighing decay^k, the average covering about the last k / 10 updates
  until k reaches `warm_updates` (8 990 for decay 0.999). `reset` starts
  from trained weights, which need no warm-up: k jumps to `warm_updates`.

  Args:
    variables: the float variables to average: all of a model's weights,
      with batch norms their moving statistics too, so that the averaged
      kernels are used with averaged statistics rather than those of the
      last weights (an approximation: the statistics of the averaged
      network itself would need a pass over data). Created under the
      strategy scope the shadows join.
    decay: in (0, 1); the average spans about 1 / (1 - decay) updates.

  The shadows start equal to the variables. `state` is what a
  tf.train.Checkpoint stores: {"shadows": [...], "updates": k}.
  """

  def __init__(self, variables, decay):
    check_decay(decay)
    self.decay = float(decay)
    # The first k with (1 + k) / (10 + k) >= decay.
    self.warm_updates = math.ceil((10.0 * self.decay - 1.0) /
                                  (1.0 - self.decay) - 1e-9)
    self._variables = list(variables)
    self.shadows = [
        tf.Variable(tf.convert_to_tensor(v), trainable=False, dtype=v.dtype,
                    name=f"average_{i:03d}")
        for i, v in enumerate(self._variables)]
    self.updates = tf.Variable(0, dtype=tf.int64, trainable=False,
                               name="average_updates")
    self.state = {"shadows": self.shadows, "updates": self.updates}

  def reset(self):
    """Sets every shadow to its variable's current value (trained weights:
    k = `warm_updates`, the full decay from the next update on)."""
    for shadow, variable in zip(self.shadows, self._variables):
      shadow.assign(tf.convert_to_tensor(variable))
    self.updates.assign(self.warm_updates)

  def current_decay(self):
    """d_k of the next update (float32 scalar tensor)."""
    k = tf.cast(self.updates, tf.float32)
    return tf.minimum(self.decay, (1.0 + k) / (10.0 + k))

  def update(self):
    """One averaging step (in cross-replica context under a strategy)."""
    decay = self.current_decay()
    for shadow, variable in zip(self.shadows, self._variables):
      shadow.assign(decay * shadow +
                    (1.0 - decay) * tf.convert_to_tensor(variable))
    self.updates.assign_add(1)

  @contextlib.contextmanager
  def applied(self):
    """Within the block the variables hold the averages; restored after,
    also when the block (or the swap itself) raises."""
    saved = [v.numpy() for v in self._variables]
    try:
      for shadow, variable in zip(self.shadows, self._variables):
        variable.assign(tf.convert_to_tensor(shadow))
      yield
    finally:
      for value, variable in zip(saved, self._variables):
        variable.assign(value)
