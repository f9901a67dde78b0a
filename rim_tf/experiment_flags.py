"""The absl flags that select an experiment, shared by the binaries."""

from absl import flags

from rim_tf import configs

FLAGS = flags.FLAGS


def define_experiment_flags():
  """--task, --preset, --data_dir and repeatable --set overrides."""
  flags.DEFINE_enum("task", "denoise",
                    ["denoise", "denoise_color", "superres",
                     "random_projections"], "The inverse problem.")
  flags.DEFINE_enum("preset", "cpu", sorted(configs.PRESETS),
                    "Named configuration: paper (published sizes), cpu "
                    "(trains here in hours), smoke (minutes).")
  flags.DEFINE_string("data_dir", None, "Folder holding BSDS300/ (default: "
                      "$RIM_DATA_DIR, then data/).")
  flags.DEFINE_multi_string("set", [], "Override a config field: "
                            "section.field=value, e.g. trainer.rim_steps=10.")


def experiment_from_flags():
  """The preset for --task with --data_dir and every --set applied."""
  config = configs.preset(FLAGS.preset, FLAGS.task)
  values = configs.parse_overrides(FLAGS.set)
  if FLAGS.data_dir:
    values.setdefault("data.data_dir", FLAGS.data_dir)
  return configs.override(config, values)
