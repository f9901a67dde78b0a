"""Training speed with and without the trainer's allocator setting.

    python experiments/benchmarks/allocator_speed.py --data_dir=DATA
    python experiments/benchmarks/allocator_speed.py --data_dir=DATA \\
        --task=denoise_color --preset=cpu_finetune --set=data.batch_size=4 ...

The trainer keeps glibc from mapping every activation afresh each step
(`rim_tf.training.allocator`). Once a process's heap has grown that cannot
be undone in it, so each case trains in a fresh process of its own, one
after the other (`--repeats` rounds, the order reversed every other round):
`--warmup_steps` untimed steps, then `--steps` timed ones in one call of
`Trainer.train` (which also starts the input streams and ends with a
checkpoint, as the untimed call did before it). Prints per process the
seconds and minor page faults per timed step, the peak resident memory and
the load average. Run it on an otherwise idle machine: the two
cases are not side by side.
"""

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from rim_tf import experiment_flags

FLAGS = flags.FLAGS
experiment_flags.define_experiment_flags()
flags.DEFINE_integer("warmup_steps", 3, "Untimed steps first (tracing, the "
                     "heap's growth).", lower_bound=1)
flags.DEFINE_integer("steps", 10, "Timed steps per process.", lower_bound=1)
flags.DEFINE_integer("repeats", 1, "Rounds of one process per case.",
                     lower_bound=1)
flags.DEFINE_enum("child", None, ["kept", "tensorflow"], "Internal: train "
                  "one case in this process and print its figures as JSON.")

CASES = {"kept": "the trainer's setting",
         "tensorflow": "as TensorFlow leaves it"}
_NO_EXTRAS = {"trainer.eval_every": 10**9, "trainer.image_every": 10**9,
              "trainer.checkpoint_every": 10**9, "trainer.log_every": 10**9}


def _timed_call(trainer, steps):
  """(seconds, minor page faults) of `trainer.train(steps=steps)`."""
  faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  start = time.perf_counter()
  trainer.train(steps=steps)
  return (time.perf_counter() - start,
          resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)


def _child(keep):
  """Trains one case in this process and prints its figures: seconds and
  minor page faults per step, peak RSS (MB), and what trained."""
  from rim_tf import configs  # pylint: disable=g-import-not-at-top
  from rim_tf import data as rim_data  # pylint: disable=g-import-not-at-top
  from rim_tf import training  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory(prefix="rim_allocator_") as run_dir:
    try:
      config = configs.override(experiment_flags.experiment_from_flags(),
                                _NO_EXTRAS)
      trainer = training.Trainer(config, run_dir, keep_large_buffers=keep)
    except (rim_data.DataNotFoundError, ValueError, OSError) as error:
      sys.exit(f"error: {error}")
    warmup, steps = FLAGS.warmup_steps, FLAGS.steps
    trainer.train(steps=warmup)
    seconds, faults = _timed_call(trainer, warmup + steps)
  print("RESULT " + json.dumps({
      "seconds": seconds / steps, "faults": faults / steps,
      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
      "load": os.getloadavg()[0],
      "trained": f"{config.task}, batch {config.data.batch_size}, "
                 f"T = {config.trainer.rim_steps}, {trainer.policy}"}))


def _run_case(case):
  """The figures of `case` trained in a child process; exits with one line
  if it failed."""
  done = subprocess.run(
      [sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
      + [f"--child={case}"], capture_output=True, text=True, check=False)
  result = re.search(r"^RESULT (.*)$", done.stdout, re.M)
  if done.returncode == 0 and result:
    return json.loads(result.group(1))
  # The child's own message, else its exit status and last line.
  error = re.search(r"^error: (.*)", done.stderr, re.M | re.S)
  last = (done.stderr.strip().splitlines() or ["no output"])[-1]
  why = (error.group(1).strip() if error else
         f"exit status {done.returncode}: {last}")
  sys.exit(f"error: the process of case {case!r} ({CASES[case]}) failed: "
           f"{why}")


def main(argv):
  del argv
  if FLAGS.child:
    _child(FLAGS.child == "kept")
    return
  print(f"{FLAGS.steps} timed steps after {FLAGS.warmup_steps}, "
        f"{os.cpu_count()} cpus")
  header = False
  for round_ in range(FLAGS.repeats):
    for case in (list(CASES) if round_ % 2 == 0 else list(CASES)[::-1]):
      row = _run_case(case)
      if not header:
        print(f"trained: {row['trained']}")
        print(f"{'case':<24} {'s/step':>8} {'faults/step':>12} "
              f"{'peak RSS MB':>12} {'load':>5}")
        header = True
      print(f"{CASES[case]:<24} {row['seconds']:8.3f} {row['faults']:12.0f} "
            f"{row['rss_mb']:12.0f} {row['load']:5.2f}", flush=True)


if __name__ == "__main__":
  app.run(main)
