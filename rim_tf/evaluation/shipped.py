"""`make evaluate`: every shipped RIM against its baseline, and Figure 2,
resumable."""

import functools
import json
import os

from rim_tf import pretrained
from rim_tf.evaluation import plots
from rim_tf.evaluation import runner


# Which table and baseline each shipped model's task is measured with.
_SHIPPED_PROTOCOL = {
    "denoise": ("denoise", ["rim", "bm3d"], {}),
    "denoise_color": ("denoise_color", ["rim", "bm3d"],
                      {"sigmas": (25,), "quantized": (True,)}),
    "superres": ("superres", ["rim", "bicubic"], {}),
    # The 3-task RIM's row of Table 2 is denoising it was never trained on
    # (its start and T are its task's `denoise_start`, `denoise_steps`).
    "random_projections": ("denoise", ["rim"], {"paper_rim": "RIM-3task"}),
}


# Figure 2's name of a random-projection model, by its cell's ablation.
FIGURE2_NAMES = {None: "RIM", "gdn": "GDN", "ffn": "FFN"}


def evaluate_shipped(output_dir, data_dir=None, num_images=None,
                     command=None):
  """Evaluates every shipped RIM against its baseline (`make evaluate`).

  Writes OUTPUT_DIR/NAME_SUBSET.json and .md for each shipped model and
  subset (BSD68 and all 100 for denoising, BSD100 for super-resolution;
  of the random-projection models only the full RIM, its Table 2 row),
  and with random-projection models shipped Figure 2 of all of them:
  OUTPUT_DIR/figure2_curves.json, its table figure2_curves.md and
  figure2.png (`num_images` is then also the number of test patches).
  Returns the reports joined.

  The whole takes hours on a CPU, so it resumes: each model's tables and
  Figure 2 leave a stamp (OUTPUT_DIR/NAME.done, figure2.done) of the
  weights' sha256 and `num_images` they ran with, and a rerun skips what
  its stamp says is done with the same weights and images.

  Raises:
    ValueError: nothing is shipped, or two random-projection models have
      the same cell (Figure 2 names them by it).
  """
  os.makedirs(output_dir, exist_ok=True)
  names = pretrained.shipped()
  if not names:
    raise ValueError("no weights are shipped in rim_tf/pretrained yet.")
  shipped_configs = {name: pretrained.config(name) for name in names}
  projections = {}  # Figure 2 name -> shipped name.
  for name, config in shipped_configs.items():
    if config.task == "random_projections":
      label = FIGURE2_NAMES[config.model.ablation]
      if label in projections:
        raise ValueError(
            f"two shipped random-projection models are {label}s "
            f"({projections[label]}, {name}); Figure 2 takes one of each.")
      projections[label] = name
  # The figure's order whatever the file names: RIM, GDN, FFN.
  projections = {label: projections[label] for label in FIGURE2_NAMES.values()
                 if label in projections}
  reports = []
  for name, config in shipped_configs.items():
    if config.task == "random_projections" and config.model.ablation:
      continue  # The ablations are Figure 2's only.
    task, methods, options = _SHIPPED_PROTOCOL[config.task]
    subsets = ("bsd100",) if task == "superres" else ("bsd68", "bsd100")
    reports.append(_run_once(
        os.path.join(output_dir, f"{name}.done"), [name], num_images,
        functools.partial(
            runner.run_evaluation, task, methods, subsets,
            os.path.join(output_dir, f"{name}_{{subset}}.json"),
            data_dir=data_dir, weights=name, rim_name=name,
            num_images=num_images, command=command, **options)))
  if projections:
    reports.append(_run_once(
        os.path.join(output_dir, "figure2.done"), list(projections.values()),
        num_images, functools.partial(_shipped_figure2, output_dir,
                                      projections, data_dir, num_images,
                                      command)))
  return "\n\n".join(reports)


def _shipped_figure2(output_dir, projections, data_dir, num_images, command):
  """Figure 2 of the shipped {label: name} random-projection models."""
  saved = os.path.join(output_dir, "figure2_curves.json")
  report = runner.run_evaluation(
      "random_projections", ["rim"], (), saved, data_dir=data_dir,
      weights=list(projections.values()), rim_name=list(projections),
      num_images=num_images, command=command)
  plots.figure2_from_results(saved, os.path.join(output_dir, "figure2.png"))
  return report


def _run_once(stamp_path, weights, num_images, run):
  """`run()`'s report, or a note that STAMP_PATH records it done with these
  weights (their sha256) and `num_images`; writes the stamp after a run."""
  stamp = json.dumps({"num_images": num_images, "weights_sha256": {
      name: pretrained.sha256(name) for name in weights}}, sort_keys=True)
  if os.path.exists(stamp_path):
    with open(stamp_path, encoding="utf-8") as f:
      if f.read() == stamp:
        return (f"{', '.join(weights)}: done with these weights "
                f"({stamp_path}; delete it to evaluate again).")
  report = run()
  with open(stamp_path, "w", encoding="utf-8") as f:
    f.write(stamp)
  return report
