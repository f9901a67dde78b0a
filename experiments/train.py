"""Trains a RIM: `python experiments/train.py --task=denoise --preset=cpu --run_dir=DIR`.

Every field of the preset can be overridden with --set=section.field=value
(repeatable), e.g. --set=trainer.rim_steps=10 --set=model.gru_features=128.
The resolved config is written to DIR/config.json; running the same command
again resumes from DIR/checkpoints.
"""

import os
import signal
import sys

from absl import app
from absl import flags
from absl import logging

from rim_tf import data as rim_data
from rim_tf import experiment_flags
from rim_tf import training

FLAGS = flags.FLAGS
experiment_flags.define_experiment_flags()
flags.DEFINE_string("run_dir", None, "Folder of the run (checkpoints, logs).",
                    required=True)
flags.DEFINE_integer("steps", None, "Train to this global step (default: the "
                     "config's trainer.train_steps).")
flags.DEFINE_string("export", None, "After training, write the weights here "
                    "(.weights.h5) with a .json of the training budget.")
flags.DEFINE_bool("export_best", False, "--export writes the weights of the "
                  "best validation of the run (RUN_DIR/best.weights.h5, "
                  "recorded at every validation) instead of the last.")
flags.DEFINE_float("max_minutes", None, "Stop after this many minutes of "
                   "training (checkpointed; then validate and --export as at "
                   "the end), e.g. to fit a time slot on shared machines.")
flags.DEFINE_bool("keep_large_buffers", True, "On a CPU with glibc, keep "
                  "freed activations in the heap instead of mapping them "
                  "afresh every step (faster, at more resident memory; "
                  "docs/training.md, \"Speed on the CPU\").")


def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)  # The trainer's progress lines.
  # Before any work: an export that cannot be written fails now, not
  # after hours of training.
  export_path = FLAGS.export and experiment_flags.output_path(FLAGS.export,
                                                              "export")
  try:
    config = experiment_flags.experiment_from_flags()
    trainer = training.Trainer(
        config, FLAGS.run_dir, keep_large_buffers=FLAGS.keep_large_buffers)
  except rim_data.DataNotFoundError as error:
    sys.exit(str(error))
  except (ValueError, OSError) as error:  # OSError: e.g. init weights gone.
    sys.exit(f"error: {error}")
  try:
    result = trainer.train(FLAGS.steps, max_seconds=(
        None if FLAGS.max_minutes is None else 60.0 * FLAGS.max_minutes))
  except training.DivergedError as error:
    sys.exit(f"diverged: {error}")
  last = (f", last loss {result['loss']:.5g}"
          if result["loss"] == result["loss"] else "")  # NaN: no step taken.
  print(f"stopped at step {result['step']}{last}"
        + (" (signal)" if result["stopped_by_signal"] else "")
        + (" (--max_minutes)" if result["stopped_by_time"] else ""))
  if result["stopped_by_signal"]:
    # The checkpoint and logs are written: exit now (preemption grace
    # periods are short) instead of waiting for the interpreter to tear
    # down TensorFlow, with the code of the signal, so that a chain of
    # commands stops here.
    trainer.folder.unlock()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + (result["signal"] or signal.SIGTERM))
  results = trainer.validate()
  print("validation:", results)
  trainer.record_best(results)
  if export_path:
    export = (trainer.export_best_weights if FLAGS.export_best
              else trainer.export_weights)
    print("exported", export(export_path))


if __name__ == "__main__":
  app.run(main)
