"""Joins evaluations of parts of the same test images into one results file.

  python experiments/combine_results.py --subset=bsd68 \
      --inputs=PART_A.json,PART_B.json --output=FILE.json
  python experiments/combine_results.py --inputs='parts/*.json' ...

The parts are slices of one evaluation (`evaluate.py --first_image=K
--num_images=N`: a baseline that takes hours, run on several machines) or
other methods on the same images (the RIM alone, later). Each image's
input depends on its id alone, so FILE.json is the run on their union:
per-image values joined, means and SEMs as a whole run writes them, seconds
per image weighted by images. A method scored on the same image by two
parts must agree, and a RIM's name must mean the same weights and T in
every part (`rim_tf.evaluation.combination`). FILE.md beside it names
every part's command.
"""

import sys

from absl import app
from absl import flags

from rim_tf import experiment_flags

FLAGS = flags.FLAGS
experiment_flags.define_task(default=None, help_text="The evaluation's task "
                             "(default: the parts', from their markdown).")
flags.DEFINE_list("inputs", None, "Results JSONs of `evaluate.py` (each "
                  "with its .md beside it); a pattern such as "
                  "'parts/*.json' stands for the files it matches.",
                  required=True)
flags.DEFINE_enum("subset", "bsd68", ["bsd68", "bsd100"], "The test set "
                  "the parts are slices of (parts run on all 100 images "
                  "also give BSD68 its images).")
flags.DEFINE_string("ours", None, "The method compared with the others and "
                    "the paper's rows (default: the parts' first RIM, if "
                    "any).")
flags.DEFINE_string("paper_rim", None, "The paper's row the RIM is compared "
                    "with (as evaluate.py's --paper_rim).")
flags.DEFINE_string("output", None, "The combined results JSON (neither an "
                    "input nor its markdown is ever overwritten).",
                    required=True)


def main(argv):
  del argv
  # Imported here so that --help answers without loading TensorFlow.
  from rim_tf.evaluation import combination  # pylint: disable=g-import-not-at-top
  try:
    if FLAGS.task is not None:
      experiment_flags.task_name()  # Imports --task_module, checks --task.
    print(combination.combine_files(
        FLAGS.inputs, FLAGS.output, FLAGS.subset, task=FLAGS.task,
        ours=FLAGS.ours, paper_rim=FLAGS.paper_rim,
        command=experiment_flags.command_line()))
  except (OSError, ValueError) as error:
    sys.exit(f"error: {error}")


if __name__ == "__main__":
  app.run(main)
