"""Paper Figure 2 drawn from a saved curves JSON; nothing here computes."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

from rim_tf.evaluation import curves as curve_data  # pylint: disable=g-import-not-at-top


def figure2(curves, path, train_steps=20, ratio=None):
  """Paper Figure 2: PSNR (mean +- std) over RIM steps, one panel per ensemble.

  Args:
    curves: `rim_tf.evaluation.protocols.evaluate_random_projections` output,
      {model: {kind: {"mean": [T + 1], "std": [T + 1], "n": n}}}.
    path: PNG to write.
    train_steps: the training horizon, marked with a dashed line.
    ratio: p, for the title.
  """
  kinds = list(next(iter(curves.values())))
  fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.4),
                           sharey=True, squeeze=False)
  for ax, kind in zip(axes[0], kinds):
    for name, by_kind in curves.items():
      mean = np.asarray(by_kind[kind]["mean"])
      std = np.asarray(by_kind[kind]["std"])
      steps = np.arange(len(mean))
      ax.plot(steps, mean, label=name)
      ax.fill_between(steps, mean - std, mean + std, alpha=0.2)
    ax.axvline(train_steps, color="k", linestyle="--", linewidth=0.8)
    title = curve_data.ENSEMBLE_NAMES.get(kind, kind) + " RP"
    ax.set_title(title + (f", p = {ratio:g}" if ratio is not None else ""))
    ax.set_xlabel("Steps")
  axes[0][0].set_ylabel("PSNR (dB)")
  axes[0][-1].legend(loc="lower right")
  n = next(iter(next(iter(curves.values())).values()))["n"]
  fig.suptitle(f"Reconstruction over time on {n} test patches")
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path


def figure2_from_results(results_path, path):
  """Figure 2 from the curves JSON of `experiments/evaluate.py`
  (`--task=random_projections`)."""
  saved = curve_data.load_curves(results_path)
  return figure2(saved["curves"], path, saved["train_steps"], saved["ratio"])
