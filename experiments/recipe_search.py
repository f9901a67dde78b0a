"""Trains recipe candidates for a fixed wall-clock budget and tabulates them.

  python experiments/recipe_search.py --candidates=base,gru64,T5 \
      --budget_minutes=10 --chunk_minutes=5 --runs=~/rim_runs/search \
      --data_dir=DIR --output=docs/results/recipe_search

Each candidate (`rim_tf.recipe_search.CANDIDATES`: one change to the search's
base) trains in RUNS/NAME, resumable, scored after every chunk on the
1000 held-out patches at sigma 15 / 25 / 50; OUTPUT.json holds every row
and OUTPUT.md the table of PSNR at sigma 15 / 25 / 50 against minutes.
experiments/score_weights.py scores exported weights the same way.
"""

import json
import os
import sys

from absl import app
from absl import flags

from rim_tf import recipe_search

FLAGS = flags.FLAGS
# The defaults reproduce the table of docs/training.md.
flags.DEFINE_list("candidates", ["base", "gru64", "loss_sigma1", "T5",
                                 "atrous32", "lr3e-3", "sigma15-50",
                                 "float32"], "Candidate names.")
flags.DEFINE_float("budget_minutes", 10.0, "Training minutes per candidate.")
flags.DEFINE_float("chunk_minutes", 5.0, "Minutes between scorings.")
flags.DEFINE_string("runs", "~/rim_runs/search", "Folder of the runs.")
flags.DEFINE_string("data_dir", None, "Folder holding BSDS300/.")
flags.DEFINE_multi_string("set", [], "Extra override for every candidate, "
                          "section.field=value.")
flags.DEFINE_string("output", None, "Write OUTPUT.json and OUTPUT.md.",
                    required=True)


def main(argv):
  del argv
  from rim_tf import configs  # pylint: disable=g-import-not-at-top
  extra = configs.parse_overrides(FLAGS.set)
  if FLAGS.data_dir:
    extra.setdefault("data.data_dir", FLAGS.data_dir)
  results = {}
  for name in FLAGS.candidates:
    config = recipe_search.candidate_config(name, extra=extra)
    run_dir = os.path.join(os.path.expanduser(FLAGS.runs), name)
    try:
      results[name] = recipe_search.run_candidate(
          config, run_dir, FLAGS.budget_minutes, FLAGS.chunk_minutes)
    except recipe_search.Interrupted as e:
      sys.exit(f"recipe_search: {e}")
  with open(FLAGS.output + ".json", "w", encoding="utf-8") as f:
    json.dump(results, f, indent=1)
  minutes = [FLAGS.chunk_minutes * (k + 1) for k in
             range(int(FLAGS.budget_minutes // FLAGS.chunk_minutes))]
  table = recipe_search.markdown_table(results, minutes)
  with open(FLAGS.output + ".md", "w", encoding="utf-8") as f:
    f.write(table + "\n")
  print(table)


if __name__ == "__main__":
  app.run(main)
