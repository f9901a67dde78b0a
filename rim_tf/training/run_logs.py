"""Reading a run's TensorBoard scalars back, e.g. its validation history."""

import pathlib

import tensorflow as tf


def read_scalars(log_dir, prefix="validation"):
  """{tag: {step: value}} of the scalar summaries in `log_dir` (a run's
  logs/ folder, every event file in it) whose tag starts with `prefix`.
  Files are read in the order they were started (their first event's wall
  time), so where a resumed run wrote a step again the later value wins.
  Non-scalar summaries (images) are skipped; a truncated last record (a
  run still writing) ends its file.

  Raises:
    FileNotFoundError: `log_dir` holds no event file.
  """
  paths = sorted(pathlib.Path(log_dir).glob("events.out.tfevents.*"))
  if not paths:
    raise FileNotFoundError(f"no TensorBoard event files in {log_dir}.")
  files = sorted((_events(p) for p in paths),
                 key=lambda events: events[0].wall_time if events else 0.0)
  scalars = {}
  for events in files:
    for event in events:
      for value in event.summary.value:
        number = _scalar(value) if value.tag.startswith(prefix) else None
        if number is not None:
          scalars.setdefault(value.tag, {})[int(event.step)] = number
  return scalars


def _events(path):
  events = []
  try:
    for event in tf.compat.v1.train.summary_iterator(str(path)):
      events.append(event)
  except tf.errors.DataLossError:
    pass  # A record being written: what came before it stands.
  return events


def _scalar(value):
  """The float of a scalar summary value, None for anything else."""
  if value.HasField("simple_value"):
    return float(value.simple_value)
  if value.HasField("tensor"):
    array = tf.make_ndarray(value.tensor)
    if array.ndim == 0 and array.dtype.kind == "f":
      return float(array)
  return None


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
