"""Held-out PSNR: how a run, or any exported RIM, scores on its task's
validation patches."""

import numpy as np
import tensorflow as tf

from rim_tf import metrics

# The validation patches' noise: fixed, so that numbers are comparable
# across runs of one task.
SEED = 12345


def held_out_psnr(task, infer, clean, corruption=None, batch_size=100):
  """Mean PSNR (dB, peak 1) of the final estimate on held-out patches.

  Args:
    task: the `rim_tf.tasks.Task` whose streams are scored
      (`Task.validation_streams`).
    infer: batch dict -> (estimates [T, N, H, W, C], initial estimate),
      e.g. `task.infer` bound to a model and T.
    clean: float32 [n, P, P, C] clean patches.
    corruption: replaces every stream's own (e.g. one fixed sigma, to
      compare runs trained on different sigma ranges).

  Returns:
    {stream name: mean PSNR}, "psnr" or "psnr_x2" ... (one per stream).
  """
  results = {}
  for name, own in task.validation_streams().items():
    corrupt = corruption or own
    values = []
    for start in range(0, len(clean), batch_size):
      batch = corrupt({"x": tf.constant(clean[start:start + batch_size])},
                      tf.constant([SEED, start], tf.int64))
      estimates, _ = infer(batch)
      values.append(metrics.psnr_tf(task.scored(estimates[-1]),
                                    task.scored(batch["x"])).numpy())
    results[name] = float(np.mean(np.concatenate(values)))
  return results
