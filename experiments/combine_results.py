"""Joins evaluations of parts of the same test images into one results file.

  python experiments/combine_results.py --subset=bsd68 \
      --inputs=PART_A.json,PART_B.json --output=FILE.json

The parts are slices of one evaluation (`evaluate.py --first_image=K
--num_images=N`: a baseline that takes hours, run on several machines) or
other methods on the same images (the RIM alone, later). Each image's
input depends on its id alone, so FILE.json is the run on their union:
per-image values joined, means and SEMs as a whole run writes them, seconds
per image weighted by images. A method scored on the same image by two
parts must agree, and a RIM's name must mean the same weights and T in
every part (`rim_tf.evaluation.tables.combine`). FILE.md beside it names
every part's command.
"""

import os
import re
import sys

from absl import app
from absl import flags

from rim_tf import experiment_flags

FLAGS = flags.FLAGS
experiment_flags.define_task(default=None, help_text="The evaluation's task "
                             "(default: the parts', from their markdown).")
flags.DEFINE_list("inputs", None, "Results JSONs of `evaluate.py` (each "
                  "with its .md beside it).", required=True)
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


def _per_rim(parts, key, pattern):
  """{RIM name: value} from the metadata line `key` of every part, parsed
  by `pattern` (name, value); ValueError if a name has two values."""
  seen = {}
  for path, (_, _, meta) in parts:
    for name, value in re.findall(pattern, meta.get(key, "")):
      first = seen.setdefault(name, (value, path))
      if first[0] != value:
        raise ValueError(f"RIM {name!r} is {key} {first[0]} in {first[1]} "
                         f"but {value} in {path}: not the same RIM.")
  return {name: value for name, (value, _) in seen.items()}


def _task(parts):
  tasks = {meta.get("task") for _, (_, _, meta) in parts} - {None}
  if FLAGS.task is None:
    if len(tasks) != 1:
      raise ValueError(f"the parts' markdown names tasks {sorted(tasks)}; "
                       f"say which with --task.")
    FLAGS.task = tasks.pop()
  elif tasks - {FLAGS.task}:
    raise ValueError(f"--task={FLAGS.task}, but the parts are of "
                     f"{sorted(tasks)}.")
  return experiment_flags.task_name()


def main(argv):
  del argv
  from rim_tf.evaluation import tables  # pylint: disable=g-import-not-at-top
  try:
    output = os.path.realpath(FLAGS.output)
    for path in FLAGS.inputs:
      if {output, tables.markdown_path(output)} & {
          os.path.realpath(path), tables.markdown_path(os.path.realpath(path))}:
        raise ValueError(f"--output {FLAGS.output} would overwrite the input "
                         f"{path} or its markdown; write the combination to a "
                         f"new file.")
    tables.check_output_folder(output)
    parts = [(path, tables.read_part(path)) for path in FLAGS.inputs]
    task = _task(parts)
    _per_rim(parts, "weights", r"([^\s=,;]+)=[^=;]*?sha256 (\w+)\)")
    steps = _per_rim(parts, "rim_steps", r"([^\s=,;]+)=(\d+)")
    results, seconds = tables.combine(
        [(path, r, s) for path, (r, s, _) in parts], FLAGS.subset)
    metadata = {"command": experiment_flags.command_line()}
    for number, (path, (_, _, meta)) in enumerate(parts):
      metadata[f"part {number}"] = (meta.get("command") or
                                    os.path.basename(path))
    for key in ("weights", "policy", "rim_steps", "rim_start"):
      values = [m[key] for _, (_, _, m) in parts if key in m]
      if values:
        metadata[key] = "; ".join(dict.fromkeys(values))
    ours = FLAGS.ours or next(iter(steps), None)
    if ours is not None and ours not in results:
      raise ValueError(f"the method compared with the others, {ours!r}, is "
                       f"not one of the parts': {sorted(results)}.")
    images = len(next(iter(next(iter(results.values())).values()))[
        "per_image"])
    report = tables.write_results(
        results, seconds, output, task, FLAGS.subset,
        {**metadata, "images": images}, ours=ours, paper_rim=FLAGS.paper_rim)
  except (OSError, ValueError) as error:
    sys.exit(f"error: {error}")
  print(report)


if __name__ == "__main__":
  app.run(main)
