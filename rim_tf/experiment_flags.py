"""The absl flags the binaries share, each defined once here.

    from rim_tf import experiment_flags
    experiment_flags.define_data_dir()
    experiment_flags.define_task()
    ...
    task = experiment_flags.task_name()   # in main(), after parsing

`--task_module` imports modules of the user's before the task is looked up,
so a Task they register there (`rim_tf.tasks.register`) serves every
binary unchanged.
"""

import importlib
import os
import pathlib
import sys

from absl import flags

FLAGS = flags.FLAGS


def _show(*names):
  """Lists the flags in the binary's --help (key flags of the main module,
  not hidden behind --helpfull)."""
  for name in names:
    FLAGS.register_key_flag_for_module(sys.argv[0], FLAGS[name])


def define_data_dir():
  """--data_dir: the folder holding BSDS300/."""
  flags.DEFINE_string("data_dir", None, "Folder holding BSDS300/ (default: "
                      "$RIM_DATA_DIR, then data/).")
  _show("data_dir")


def define_task(default="denoise", help_text="The inverse problem."):
  """--task (a registered task's name) and --task_module."""
  flags.DEFINE_string("task", default, help_text + " A registered task "
                      "(rim_tf.tasks.names()), also one of yours (see "
                      "--task_module).")
  flags.DEFINE_multi_string(
      "task_module", [], "Python module to import first (repeatable): it "
      "registers tasks of your own with rim_tf.tasks.register.")
  _show("task", "task_module")


def task_name():
  """--task after importing every --task_module; ValueError naming the
  registered tasks if it is none of them."""
  from rim_tf import tasks  # pylint: disable=g-import-not-at-top
  for module in FLAGS.task_module:
    try:
      importlib.import_module(module)
    except ImportError as error:
      raise ValueError(f"--task_module={module}: {error}") from None
  tasks.get(FLAGS.task)  # Raises with the list of registered tasks.
  return FLAGS.task


def define_experiment_flags():
  """--task, --task_module, --preset, --data_dir and repeatable --set."""
  from rim_tf import configs  # pylint: disable=g-import-not-at-top
  define_task()
  flags.DEFINE_enum("preset", "cpu", sorted(configs.PRESETS),
                    "Named configuration: paper (published sizes), cpu "
                    "(trains here in hours), cpu_finetune (the cpu recipe's "
                    "second stage), smoke (minutes).")
  define_data_dir()
  flags.DEFINE_multi_string("set", [], "Override a config field: "
                            "section.field=value, e.g. trainer.rim_steps=10.")
  _show("preset", "set")


def experiment_from_flags():
  """The preset for --task with --data_dir and every --set applied."""
  from rim_tf import configs  # pylint: disable=g-import-not-at-top
  config = configs.preset(FLAGS.preset, task_name())
  values = configs.parse_overrides(FLAGS.set)
  if FLAGS.data_dir:
    values.setdefault("data.data_dir", FLAGS.data_dir)
  return configs.override(config, values)


def output_path(value, flag="output", folder=False):
  """The path of an output flag, `~` expanded, whose folder (or itself, if
  `folder`) is made and shown to take a file before any work is done;
  exits with one line naming the flag and the path if it cannot be
  written."""
  from rim_tf import writable  # pylint: disable=g-import-not-at-top
  try:
    if folder:
      return str(writable.folder(value))
    return str(writable.file(value))
  except ValueError as error:
    sys.exit(f"error: --{flag}: {error}")


def command_line(argv=None):
  """The command that ran (`argv`, default sys.argv), as a results file
  records it: the data folder as DATA and every path outside the working
  folder (absolute, home or through "..") by its file name, also inside
  `--set=key=value`, so the record names no folder of the machine that made
  it (the weights it scored are named by their sha256 beside it)."""
  argv = list(sys.argv if argv is None else argv)
  words = ["python", _script(argv[0])]
  data_value_next = False
  for arg in argv[1:]:
    name, sep, value = arg.partition("=")
    if data_value_next:
      arg = "DATA"
    elif sep and name.lstrip("-") == "data_dir":
      arg = f"{name}=DATA"
    elif sep:
      # --set=trainer.init_weights=PATH: the path is after the inner "=".
      key, inner, value = value.rpartition("=") if name.lstrip(
          "-") == "set" else ("", "", value)
      arg = f"{name}={key}{inner}" + ",".join(
          _path_free(v) for v in value.split(","))
    else:
      arg = _path_free(arg)
    data_value_next = not sep and arg.lstrip("-") == "data_dir"
    words.append(arg)
  return " ".join(words)


def _script(path):
  """A binary's path from the repository's top (experiments/..., docs/...),
  else its file name."""
  parts = pathlib.PurePath(path).parts
  tops = [i for i, part in enumerate(parts) if part in ("experiments",
                                                        "docs")]
  if tops:
    return "/".join(parts[tops[-1]:])
  return parts[-1] if parts else path


def _path_free(value):
  """`value`, or its file name if it is a path outside the working folder
  (absolute, from home, or through "..")."""
  if value.startswith(("/", "~", "$")) or ".." in pathlib.PurePath(
      value).parts:
    return os.path.basename(value.rstrip("/")) or value
  return value
