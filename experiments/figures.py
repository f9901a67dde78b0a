"""Draws the paper's figures from saved results and shipped/trained RIMs.

  python experiments/figures.py --figure=2 --results=curves.json --output=fig2.png
      (also prints the curves' table: mean PSNR at steps 0, 1, 5, T, ... 50)
  python experiments/figures.py --figure=3 --weights=denoise_gray --output=fig3.png
  python experiments/figures.py --figure=4 --weights=superres --output=fig4.png
"""

import sys

from absl import app
from absl import flags

from rim_tf import experiment_flags


FLAGS = flags.FLAGS
flags.DEFINE_enum("figure", "2", ["2", "3", "4"], "Paper figure number.")
flags.DEFINE_string("results", None, "Figure 2: curves JSON written by "
                    "experiments/evaluate.py --task=random_projections.")
flags.DEFINE_string("weights", None, "Figures 3, 4: RIM weights.")
flags.DEFINE_string("image_id", None, "Figures 3, 4: BSDS300 test image id "
                    "(default: the paper's choice where known).")
flags.DEFINE_float("sigma", 50.0, "Figure 3: noise level (8-bit quantized).")
flags.DEFINE_integer("scale", 3, "Figure 4: super-resolution factor.")
experiment_flags.define_data_dir()
flags.DEFINE_string("output", None, "PNG path.", required=True)


def main(argv):
  del argv
  # Imported here so that --help answers without loading TensorFlow.
  from rim_tf import data as rim_data  # pylint: disable=g-import-not-at-top
  from rim_tf.evaluation import curves  # pylint: disable=g-import-not-at-top
  from rim_tf.evaluation import examples  # pylint: disable=g-import-not-at-top

  from rim_tf.evaluation import plots  # pylint: disable=g-import-not-at-top
  output = experiment_flags.output_path(FLAGS.output)
  try:
    if FLAGS.figure == "2":
      path = plots.figure2_from_results(FLAGS.results, output)
      print(curves.curves_table(curves.load_curves(FLAGS.results)))
    elif FLAGS.figure == "3":
      path = examples.figure3(FLAGS.weights, output, FLAGS.image_id,
                              FLAGS.sigma, FLAGS.data_dir)
    else:
      path = examples.figure4(FLAGS.weights, output, FLAGS.image_id,
                              FLAGS.scale, FLAGS.data_dir)
  except (rim_data.DataNotFoundError, FileNotFoundError, ValueError) as error:
    sys.exit(f"error: {error}")
  print("wrote", path)


if __name__ == "__main__":
  app.run(main)
