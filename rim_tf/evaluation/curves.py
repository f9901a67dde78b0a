"""Figure 2's data: the curves JSON and its table."""

import json

import numpy as np


# Figure 2's table: the steps shown (with the training T, and those the
# curves reach), as in docs/results.md.
CURVE_TABLE_STEPS = (0, 1, 5, 10, 20, 30, 50)


# The random-projection ensembles' names in tables and figures.
ENSEMBLE_NAMES = {"gaussian": "Gaussian", "binary": "Binary",
                  "fourier": "Fourier"}


def curves_table(saved, steps=CURVE_TABLE_STEPS):
  """Figure 2's numbers as a markdown table.

  Args:
    saved: the curves JSON of task random_projections (`load_curves`):
      {"curves": {model: {kind: {"mean": [T + 1], ...}}}, "train_steps": T}.
    steps: the steps shown; the training T is added, steps past the curves'
      end are left out.

  Returns:
    One row per ensemble and model (the curves' order), one column per step
    and the mean over steps 1..end; in each ensemble the best model of a
    column is bold (from step 1 on: step 0 is every model's shared start).
  """
  curves, train_steps = saved["curves"], saved["train_steps"]
  first = next(iter(curves.values()))
  kinds = list(first)
  last = len(first[kinds[0]]["mean"]) - 1
  shown = sorted({s for s in (*steps, train_steps) if 0 <= s <= last})
  header = [f"step {s}" if s == 0 else f"{s} (= T)" if s == train_steps
            else str(s) for s in shown] + [f"mean of steps 1–{last}"]
  lines = ["| model, ensemble | " + " | ".join(header) + " |",
           "|" + "---|" * (len(header) + 1)]
  for kind in kinds:
    rows = {name: [f"{by_kind[kind]['mean'][s]:.2f}" for s in shown] +
                  [f"{np.mean(by_kind[kind]['mean'][1:]):.2f}"]
            for name, by_kind in curves.items()}
    best = [max(float(cells[i]) for cells in rows.values())
            for i in range(len(header))]
    for name, cells in rows.items():
      cells = [f"**{c}**" if len(rows) > 1 and float(c) == best[i]
               and not (i == 0 and shown[0] == 0) else c
               for i, c in enumerate(cells)]
      lines.append(f"| {name}, {ENSEMBLE_NAMES.get(kind, kind)} | " +
                   " | ".join(cells) + " |")
  return "\n".join(lines)


def load_curves(path):
  """The curves JSON that task random_projections writes (Figure 2's data).

  Raises:
    ValueError: no path, or the file is not such a JSON.
  """
  if not path:
    raise ValueError("figure 2 needs --results (the curves JSON of "
                     "experiments/evaluate.py --task=random_projections).")
  with open(path, encoding="utf-8") as f:
    saved = json.load(f)
  missing = sorted({"curves", "train_steps", "ratio"} - set(saved))
  if missing:
    raise ValueError(f"{path} is not a curves JSON of task "
                     f"random_projections: it lacks {missing}.")
  return saved
