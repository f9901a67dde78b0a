"""Exported weights with batch-norm statistics per RIM step, calibrated.

  python experiments/calibrate_norms.py --weights=denoise_color \
      --output=OUT.weights.h5 --data_dir=DIR

writes the same RIM with a row of moving statistics per RIM step in each
batch norm (model.norm_steps = the training T), each row the population
statistics of that step's inputs on training patches (an export with a
row per step already gets its rows computed again)
(`rim_tf.training.norm_calibration`); compare it with the original using
experiments/score_weights.py.
"""

import sys

from absl import app
from absl import flags
import numpy as np

from rim_tf import experiment_flags


FLAGS = flags.FLAGS
flags.DEFINE_string("weights", None, "A shipped name or .weights.h5 path with "
                    "shared batch-norm statistics or a row per RIM step.",
                    required=True)
flags.DEFINE_string("output", None, "The calibrated .weights.h5 (with its "
                    ".json).", required=True)
experiment_flags.define_data_dir()
flags.DEFINE_integer("num_batches", 32, "Training batches per stream.")


def main(argv):
  del argv
  # Imported here so that --help answers without loading TensorFlow.
  from rim_tf import data as rim_data  # pylint: disable=g-import-not-at-top
  from rim_tf.training import norm_calibration  # pylint: disable=g-import-not-at-top
  output = experiment_flags.output_path(FLAGS.output)
  try:
    statistics = norm_calibration.calibrate_export(
        FLAGS.weights, output, FLAGS.data_dir,
        FLAGS.num_batches)
  except (rim_data.DataNotFoundError, FileNotFoundError, ValueError) as error:
    sys.exit(f"error: {error}")
  for name, (mean, variance) in statistics.items():
    print(f"{name}: mean of |mean| per step "
          f"{[round(float(v), 3) for v in abs(mean).mean(axis=1)]}, "
          f"median variance per step "
          f"{[round(float(v), 4) for v in np.median(variance, axis=1)]}")
  print("wrote", output)


if __name__ == "__main__":
  app.run(main)
