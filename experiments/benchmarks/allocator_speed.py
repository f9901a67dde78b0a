"""Training speed with glibc's thresholds as TensorFlow leaves them, and kept.

    python experiments/benchmarks/allocator_speed.py --task=denoise_color \
        --preset=cpu_finetune --data_dir=DATA --set=data.batch_size=4 ...

Builds the trainer of the experiment the flags name (as experiments/train.py
does; nothing logged, validated or saved while timed), then trains
--rounds rounds of --steps steps in each of two allocator states, one after
the other in this process (the order alternating from round to round, the
heap's free memory given back at each switch so that neither state lives on
the other's heap) so that other load affects both alike:
"tensorflow" (M_MMAP_THRESHOLD and M_TRIM_THRESHOLD at 128 KB, as the
first tf.data GeneratorDataset of a process leaves glibc) and "kept"
(`rim_tf.training.allocator.keep_large_buffers`, what the trainer sets). Prints
seconds per step and page faults per step of each round, then the means.
"""

import ctypes
import ctypes.util
import os
import resource
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np
import tensorflow as tf

from rim_tf import configs
from rim_tf import experiment_flags
from rim_tf import precision
from rim_tf import training
from rim_tf.training import allocator

FLAGS = flags.FLAGS
experiment_flags.define_experiment_flags()
flags.DEFINE_integer("steps", 10, "Timed training steps per round and state.")
flags.DEFINE_integer("rounds", 2, "Rounds of both states.")

# What TensorFlow's GeneratorDataset leaves: M_TRIM_THRESHOLD set to 128 KB,
# which freezes the mmap threshold at its default, 128 KB.
_TENSORFLOW = 128 * 1024
STATES = {"tensorflow": (_TENSORFLOW, _TENSORFLOW),
          "kept": (allocator.MMAP_THRESHOLD, allocator.TRIM_THRESHOLD)}


def _faults():
  return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def main(argv):
  del argv
  tf.get_logger().setLevel("ERROR")
  config = configs.override(experiment_flags.experiment_from_flags(), {
      "trainer.train_steps": 10**6, "trainer.log_every": 10**6,
      "trainer.image_every": 10**6, "trainer.eval_every": 10**6,
      "trainer.checkpoint_every": 10**6})
  print(f"cpus={os.cpu_count()} tf={tf.__version__} task={config.task} "
        f"batch={config.data.batch_size} T={config.trainer.rim_steps} "
        f"policy={precision.policy(config.trainer.mixed_precision)} "
        f"steps={FLAGS.steps} rounds={FLAGS.rounds}", flush=True)
  times = {state: [] for state in STATES}
  faults = {state: [] for state in STATES}
  with tempfile.TemporaryDirectory() as run_dir:
    trainer = training.Trainer(config, run_dir)
    trainer.train(int(trainer.step) + 1)  # Traces the step.
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    for round_ in range(FLAGS.rounds):
      order = list(STATES) if round_ % 2 == 0 else list(STATES)[::-1]
      for state in order:
        if not allocator.set_thresholds(*STATES[state]):
          raise SystemExit("error: the C library is not glibc: nothing to "
                           "compare.")
        libc.malloc_trim(0)
        trainer.train(int(trainer.step) + 1)  # Settles the new state.
        start, before = time.perf_counter(), _faults()
        trainer.train(int(trainer.step) + FLAGS.steps)
        times[state].append((time.perf_counter() - start) / FLAGS.steps)
        faults[state].append((_faults() - before) / FLAGS.steps)
        print(f"round {round_ + 1} {state:10s} {times[state][-1]:7.2f} s/step"
              f" {faults[state][-1]:10,.0f} page faults/step "
              "load {:.2f}".format(os.getloadavg()[0]), flush=True)
  for state in STATES:
    print(f"mean    {state:10s} {np.mean(times[state]):7.2f} s/step "
          f"{np.mean(faults[state]):10,.0f} page faults/step")
  print(f"kept / tensorflow speed: "
        f"{np.mean(times['tensorflow']) / np.mean(times['kept']):.2f}x")


if __name__ == "__main__":
  app.run(main)
