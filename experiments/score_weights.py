"""Scores exported RIMs on the 1000 held-out training patches.

  python experiments/score_weights.py --weights=denoise_gray,RUN.weights.h5 \
      --data_dir=DIR --output=docs/results/NAME.json

prints one row per weights file (its training budget and the held-out
PSNR as the recipe search scores it: denoisers at sigma 15 / 25 / 50 on
the same noisy patches, super-resolution at each scale) and writes them as
JSON; how an export is compared with the shipped model before it replaces
it.
"""

import sys

from absl import app
from absl import flags

from rim_tf import experiment_flags


FLAGS = flags.FLAGS
flags.DEFINE_list("weights", None, "Shipped names or .weights.h5 paths.",
                  required=True)
experiment_flags.define_data_dir()
flags.DEFINE_string("output", None, "Also write the rows as JSON here (after "
                    "each file, so an error keeps the rows before it).")


def main(argv):
  del argv
  # Imported here so that --help answers without loading TensorFlow.
  from rim_tf import data as rim_data  # pylint: disable=g-import-not-at-top
  from rim_tf.training import recipe_search  # pylint: disable=g-import-not-at-top
  output = FLAGS.output and experiment_flags.output_path(FLAGS.output)
  try:
    recipe_search.score_exports(FLAGS.weights, FLAGS.data_dir, output,
                                log=lambda line: print(line, flush=True))
  except (rim_data.DataNotFoundError, FileNotFoundError, ValueError) as error:
    sys.exit(f"error: {error}")


if __name__ == "__main__":
  app.run(main)
