"""Reading a run's TensorBoard scalars back, e.g. its validation history."""

import pathlib

import tensorflow as tf


def read_scalars(log_dir, prefix="validation"):
  """{tag: {step: value}} of the scalar summaries in `log_dir` (a run's
  logs/ folder, every event file in it) whose tag starts with `prefix`.
  Where a step was written twice (a resumed run repeating steps) the later
  event file wins.

  Raises:
    FileNotFoundError: `log_dir` holds no event file.
  """
  files = sorted(pathlib.Path(log_dir).glob("events.out.tfevents.*"),
                 key=lambda p: (p.stat().st_mtime, p.name))
  if not files:
    raise FileNotFoundError(f"no TensorBoard event files in {log_dir}.")
  scalars = {}
  for path in files:
    for event in tf.compat.v1.train.summary_iterator(str(path)):
      for value in event.summary.value:
        if not value.tag.startswith(prefix):
          continue
        number = (float(tf.make_ndarray(value.tensor))
                  if value.HasField("tensor") else float(value.simple_value))
        scalars.setdefault(value.tag, {})[int(event.step)] = number
  return scalars


def markdown_table(scalars, min_step=0, digits=3):
  """One row per step (>= `min_step`), one column per tag."""
  tags = sorted(scalars)
  steps = sorted({s for tag in tags for s in scalars[tag] if s >= min_step})
  lines = ["| step | " + " | ".join(tags) + " |",
           "|---|" + "---|" * len(tags)]
  for step in steps:
    cells = [f"{scalars[tag][step]:.{digits}f}" if step in scalars[tag]
             else "" for tag in tags]
    lines.append(f"| {step} | " + " | ".join(cells) + " |")
  return "\n".join(lines)
