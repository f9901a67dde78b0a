"""Trains recipe candidates for a fixed wall-clock budget and tabulates them.

  python experiments/recipe_search.py --candidates=base,gru64,T5 \
      --budget_minutes=10 --chunk_minutes=5 --runs=~/rim_runs/search \
      --data_dir=DIR --output=docs/results/recipe_search
  python experiments/recipe_search.py --task=superres \
      --runs=~/rim_runs/search_superres --data_dir=DIR \
      --output=docs/results/recipe_search_superres

Each candidate (`rim_tf.training.recipe_search.CANDIDATES`: one change to the task's
search base, `recipe_search.search_base`) trains in RUNS/NAME, resumable,
scored after every chunk on the 1000 held-out patches (denoising: at sigma
15 / 25 / 50; super-resolution: at each scale); OUTPUT.json holds every row
and OUTPUT.md the table of those scores against minutes.
experiments/score_weights.py scores exported weights the same way.
"""

import json
import os
import sys

from absl import app
from absl import flags
from absl import logging

from rim_tf import experiment_flags
from rim_tf.training import recipe_search


FLAGS = flags.FLAGS
experiment_flags.define_task(help_text="Task whose cpu preset is the base.")
flags.DEFINE_list("candidates", None, "Candidate names (default: the "
                  "task's, Task.recipe_search).")
flags.DEFINE_float("budget_minutes", 10.0, "Training minutes per candidate.")
flags.DEFINE_float("chunk_minutes", 5.0, "Minutes between scorings.")
flags.DEFINE_string("runs", None, "Folder of the runs (default: "
                    "~/rim_runs/search_TASK).")
experiment_flags.define_data_dir()
flags.DEFINE_multi_string("set", [], "Extra override for every candidate, "
                          "section.field=value.")
flags.DEFINE_string("output", None, "Write OUTPUT.json and OUTPUT.md.",
                    required=True)


def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)  # The trainer's progress lines.
  from rim_tf import configs  # pylint: disable=g-import-not-at-top
  extra = configs.parse_overrides(FLAGS.set)
  if FLAGS.data_dir:
    extra.setdefault("data.data_dir", FLAGS.data_dir)
  try:
    task = experiment_flags.task_name()
    names = FLAGS.candidates or recipe_search.default_candidates(task)
    # Every config first, so that a bad name fails before any training.
    candidates = {name: recipe_search.candidate_config(
        name, task, extra=extra) for name in names}
  except ValueError as e:
    sys.exit(f"error: {e}")
  from rim_tf import precision  # pylint: disable=g-import-not-at-top
  if "float32" in candidates and precision.policy(True) == "float32":
    logging.warning("bfloat16 is not native on this machine: the float32 "
                    "candidate trains in the precision of all the others "
                    "(rim_tf.precision).")
  output = experiment_flags.output_path(FLAGS.output)
  results = {}
  for name, config in candidates.items():
    runs = FLAGS.runs or f"~/rim_runs/search_{task}"
    run_dir = os.path.join(os.path.expanduser(runs), name)
    try:
      results[name] = recipe_search.run_candidate(
          config, run_dir, FLAGS.budget_minutes, FLAGS.chunk_minutes)
    except (recipe_search.Interrupted, ValueError, FileNotFoundError) as e:
      sys.exit(f"error: {e}")
  with open(output + ".json", "w", encoding="utf-8") as f:
    json.dump(results, f, indent=1)
  minutes = [FLAGS.chunk_minutes * (k + 1) for k in
             range(int(FLAGS.budget_minutes // FLAGS.chunk_minutes))]
  table = recipe_search.markdown_table(results, minutes)
  with open(output + ".md", "w", encoding="utf-8") as f:
    f.write(table + "\n")
  print(table)


if __name__ == "__main__":
  app.run(main)
