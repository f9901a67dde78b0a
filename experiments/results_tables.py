"""Writes docs/results.md, and the README's table of the shipped models,
from the result files in docs/results/.

  python experiments/results_tables.py            # write the page
  python experiments/results_tables.py --check    # fail if they disagree

The page's tables are rendered by `rim_tf.evaluation.results_doc`.
"""

import pathlib
import sys

from absl import app
from absl import flags

from rim_tf.evaluation import results_doc

REPO = pathlib.Path(__file__).resolve().parent.parent
FLAGS = flags.FLAGS
flags.DEFINE_string("results_dir", str(REPO / "docs" / "results"),
                    "The folder of the result files.")
flags.DEFINE_string("output", str(REPO / "docs" / "results.md"),
                    "The page to write (or check).")
flags.DEFINE_string("readme", str(REPO / "README.md"),
                    "The README whose results table is written (or "
                    "checked).")
flags.DEFINE_bool("check", False, "Only compare the page with the result "
                  "files; exit 1 with where they differ.")


def main(argv):
  del argv
  try:
    if FLAGS.check:
      problems = results_doc.check(FLAGS.output, FLAGS.results_dir,
                                   FLAGS.readme)
      if problems:
        sys.exit("error: " + "\n".join(problems))
      print(f"{FLAGS.output} agrees with {FLAGS.results_dir}")
      return
    text = results_doc.render(FLAGS.results_dir)
    readme = pathlib.Path(FLAGS.readme)
    readme_text = results_doc.with_readme_table(readme.read_text(),
                                                FLAGS.results_dir)
  except (OSError, KeyError, ValueError) as error:
    sys.exit(f"error: {error}")
  pathlib.Path(FLAGS.output).write_text(text)
  readme.write_text(readme_text)
  print("wrote", FLAGS.output, "and the table of", FLAGS.readme)


if __name__ == "__main__":
  app.run(main)
