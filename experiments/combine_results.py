"""Joins evaluations of parts of the same test images into one results file.

  python experiments/combine_results.py --task=deblur --subset=bsd68 \
      --inputs=PART_A.json,PART_B.json --output=FILE.json

The parts are slices of one evaluation (`evaluate.py --first_image=K
--num_images=N`: a baseline that takes hours, run on several machines) or
other methods on the same images (the RIM alone, later). Each image's
input depends on its id alone, so FILE.json is the run on their union:
per-image values joined, means and SEMs as a whole run writes them, seconds
per image weighted by images. A method scored on the same image by two
parts must agree (`rim_tf.evaluation.tables.combine`). FILE.md beside it
names every part's command.
"""

import os
import sys

from absl import app
from absl import flags

from rim_tf import experiment_flags

FLAGS = flags.FLAGS
experiment_flags.define_task(default=None, help_text="The evaluation's task "
                             "(for the paper's rows).")
flags.DEFINE_list("inputs", None, "Results JSONs of `evaluate.py` (each "
                  "with its .md beside it).", required=True)
flags.DEFINE_enum("subset", "bsd68", ["bsd68", "bsd100"], "The test set "
                  "the parts are slices of.")
flags.DEFINE_string("ours", None, "The method compared with the others and "
                    "the paper's rows (default: the first part's RIM, if "
                    "any).")
flags.DEFINE_string("output", None, "The combined results JSON (an input "
                    "is never overwritten).", required=True)


def main(argv):
  del argv
  from rim_tf.evaluation import tables  # pylint: disable=g-import-not-at-top
  try:
    task = experiment_flags.task_name()
    output = os.path.abspath(FLAGS.output)
    if output in {os.path.abspath(p) for p in FLAGS.inputs}:
      raise ValueError(f"--output {FLAGS.output} is one of the --inputs; "
                       f"write the combination to a new file.")
    tables.check_output_folder(output)
    parts = []
    for path in FLAGS.inputs:
      try:
        parts.append(tables.read_part(path))
      except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}.") from None
      except ValueError as error:  # json.JSONDecodeError
        raise ValueError(f"{path} is not a results JSON: {error}") from None
    results, seconds = tables.combine([(r, s) for r, s, _ in parts],
                                      FLAGS.subset)
    metadata = {"command": experiment_flags.command_line()}
    for number, (path, (_, _, meta)) in enumerate(zip(FLAGS.inputs, parts)):
      metadata[f"part {number}"] = meta.get("command", os.path.basename(path))
    for key in ("weights", "policy", "rim_steps"):
      values = [m[key] for _, _, m in parts if key in m]
      if values:
        metadata[key] = "; ".join(dict.fromkeys(values))
    ours = FLAGS.ours
    if ours is None:
      ours = next((m["rim_steps"].split("=")[0] for _, _, m in parts
                   if "rim_steps" in m), None)
    if ours is not None and ours not in results:
      raise ValueError(f"--ours={ours} is not a method of the parts: "
                       f"{sorted(results)}.")
    images = len(next(iter(next(iter(results.values())).values()))[
        "per_image"])
    report = tables.write_results(results, seconds, output, task,
                                  FLAGS.subset, {**metadata, "images": images},
                                  ours=ours)
  except (OSError, ValueError) as error:
    sys.exit(f"error: {error}")
  print(report)


if __name__ == "__main__":
  app.run(main)
