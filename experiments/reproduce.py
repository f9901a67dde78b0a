"""Reproduces one of the paper's results: trains, calibrates, evaluates, draws.

    python experiments/reproduce.py --target=denoise --preset=cpu \
        --out=results/cpu --runs=~/rim_runs --data_dir=DIR
    python experiments/reproduce.py --target=rp --preset=smoke --dry_run

Targets: denoise (Table 2, Figure 3), color (Table 1), sr (Table 3,
Figure 4), rp (Figure 2 and Table 2's RIM-3task row). The commands are
`rim_tf.reproduce.commands`; a rerun resumes the training from its run
folders.
"""

import os
import pathlib
import sys

from absl import app
from absl import flags

from rim_tf import experiment_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("target", None, "denoise, color, sr or rp.",
                    required=True)
flags.DEFINE_enum("preset", "cpu", ["paper", "cpu", "smoke"], "paper (a "
                  "GPU), cpu (2 CPU cores, hours, two training stages) or "
                  "smoke (minutes).")
flags.DEFINE_string("out", None, "Folder of the weights, tables and figures "
                    "(default: results/PRESET).")
flags.DEFINE_string("runs", "~/rim_runs", "Folder of the training runs.")
experiment_flags.define_data_dir()
flags.DEFINE_bool("dry_run", False, "Print the commands, run none.")


def main(argv):
  del argv
  from rim_tf import reproduce  # pylint: disable=g-import-not-at-top
  # The commands run from the repository: paths given relative to the
  # caller's folder are made absolute.
  out = os.path.abspath(os.path.expanduser(
      FLAGS.out or os.path.join("results", FLAGS.preset)))
  data_dir = os.path.abspath(os.path.expanduser(
      FLAGS.data_dir or os.environ.get("RIM_DATA_DIR") or "data"))
  try:
    steps = reproduce.commands(
        FLAGS.target, FLAGS.preset, out,
        os.path.abspath(os.path.expanduser(FLAGS.runs)), data_dir)
  except ValueError as error:
    sys.exit(f"error: {error}")
  if FLAGS.dry_run:
    print("\n".join(" ".join(step) for step in steps))
    return
  os.makedirs(out, exist_ok=True)
  sys.exit(reproduce.run(steps, pathlib.Path(__file__).resolve().parent.parent))


if __name__ == "__main__":
  app.run(main)
