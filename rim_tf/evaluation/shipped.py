"""`make evaluate`: every shipped RIM against its baseline, and Figure 2,
resumable."""

import functools
import json
import os

from rim_tf.evaluation import plots
from rim_tf.evaluation import runner
from rim_tf import pretrained
from rim_tf import tasks


# Figure 2's name of a random-projection model, by its cell's ablation.
FIGURE2_NAMES = {None: "RIM", "gdn": "GDN", "ffn": "FFN"}


def table_plan(task):
  """(table's task, methods, subsets, options) of a RIM of `task`: its own
  table, or, for a task scored in another's table (`Evaluation.table_of`),
  that table with the RIM as its `table_row`; methods are the RIM and the
  table's classical baselines."""
  evaluation = tasks.get(task).evaluation
  options = dict(evaluation.options)
  if evaluation.table_of:
    row, task = evaluation.table_row, evaluation.table_of
    evaluation = tasks.get(task).evaluation
    options = {**evaluation.options, "paper_rim": row}
  return (task, ["rim", *evaluation.baselines], evaluation.subsets, options)


def evaluate_shipped(output_dir, data_dir=None, num_images=None,
                     command=None, with_baselines=True, options=None,
                     baseline_cache=None):
  """Evaluates every shipped RIM against its baseline (`make evaluate`).

  Writes OUTPUT_DIR/NAME_SUBSET.json and .md for each shipped model and
  subset of its table (`table_plan`: BSD68 and all 100 for denoising,
  BSD100 for super-resolution; of the random-projection models only the
  full RIM, its Table 2 row), and with random-projection models shipped
  Figure 2 of all of them: OUTPUT_DIR/figure2_curves.json, its table
  figure2_curves.md and figure2.png (`num_images` is then also the number
  of test patches). `with_baselines=False` leaves the classical methods out
  (a RIM scored in another task's table never has them: they are in that
  table's own run) and
  `options` replaces protocol options (e.g. {"sigmas": (25,)}) of every
  table: quick looks. `baseline_cache`: a folder where the classical
  baselines' results are kept (`rim_tf.evaluation.baseline_cache`), so an
  interrupted table (BM3D-deblurring takes hours) goes on where it
  stopped. Returns the reports joined.

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
  curves_task = None
  for name, config in shipped_configs.items():
    if tasks.get(config.task).evaluation.protocol == "projection_curves":
      curves_task = config.task
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
    if name in projections.values() and config.model.ablation:
      continue  # The ablations are Figure 2's only.
    task, methods, subsets, table_options = table_plan(config.task)
    if not with_baselines or task != config.task:
      methods = ["rim"]
    run_options = {**table_options, **(options or {})}
    reports.append(_run_once(
        os.path.join(output_dir, f"{name}.done"), [name],
        # A quick look is stamped as such: a full run does not take it for
        # its own.
        {"num_images": num_images, **({} if with_baselines and not options
                                      else {"quick": [methods, options]})},
        functools.partial(
            runner.run_evaluation, task, methods, subsets,
            os.path.join(output_dir, f"{name}_{{subset}}.json"),
            data_dir=data_dir, weights=name, rim_name=name,
            num_images=num_images, command=command,
            baseline_cache=baseline_cache, **run_options)))
  if projections:
    reports.append(_run_once(
        os.path.join(output_dir, "figure2.done"), list(projections.values()),
        {"num_images": num_images},
        functools.partial(_shipped_figure2, output_dir, curves_task,
                          projections, data_dir, num_images, command)))
  return "\n\n".join(reports)


def _shipped_figure2(output_dir, task, projections, data_dir, num_images,
                     command):
  """Figure 2 of the shipped {label: name} models of `task`."""
  saved = os.path.join(output_dir, "figure2_curves.json")
  report = runner.run_evaluation(
      task, ["rim"], (), saved, data_dir=data_dir,
      weights=list(projections.values()), rim_name=list(projections),
      num_images=num_images, command=command)
  plots.figure2_from_results(saved, os.path.join(output_dir, "figure2.png"))
  return report


def _run_once(stamp_path, weights, settings, run):
  """`run()`'s report, or a note that STAMP_PATH records it done with these
  weights (their sha256) and `settings` (e.g. {"num_images": n}); writes
  the stamp after a run."""
  stamp = json.dumps({**settings, "weights_sha256": {
      name: pretrained.sha256(name) for name in weights}}, sort_keys=True,
                     default=list)
  if os.path.exists(stamp_path):
    with open(stamp_path, encoding="utf-8") as f:
      if f.read() == stamp:
        return (f"{', '.join(weights)}: done with these weights "
                f"({stamp_path}; delete it to evaluate again).")
  report = run()
  with open(stamp_path, "w", encoding="utf-8") as f:
    f.write(stamp)
  return report
