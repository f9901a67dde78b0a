"""Prints a run's validation history from its TensorBoard logs as a table.

  python experiments/validation_history.py --run_dir=~/rim_runs/NAME \
      --min_step=4500

one row per validated step, one column per `validation*` tag (e.g. the
weight average's `validation/psnr` next to `validation_raw_weights/psnr`).
"""

import os
import sys

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("run_dir", None, "The run folder (holding logs/).",
                    required=True)
flags.DEFINE_integer("min_step", 0, "Leave out earlier steps.")
flags.DEFINE_string("prefix", "validation", "Tags starting with this.")


def main(argv):
  del argv
  from rim_tf.training import run_logs  # pylint: disable=g-import-not-at-top
  log_dir = os.path.join(os.path.expanduser(FLAGS.run_dir), "logs")
  try:
    scalars = run_logs.read_scalars(log_dir, FLAGS.prefix)
  except FileNotFoundError as error:
    sys.exit(f"error: {error}")
  print(run_logs.markdown_table(scalars, FLAGS.min_step))


if __name__ == "__main__":
  app.run(main)
