"""Patches per second of the input pipeline alone, for each task.

    python experiments/benchmarks/pipeline_speed.py --data_dir=DATA

Builds each task's training stream (BSDS300 training images, the task's
patch size and corruption from `rim_tf.tasks`, stride 4) and times
`--num_batches` batches after two warm-up batches, with no model attached.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from rim_tf import data as rim_data
from rim_tf.data import patches
from rim_tf import experiment_flags
from rim_tf import tasks


FLAGS = flags.FLAGS
experiment_flags.define_data_dir()
flags.DEFINE_integer("batch_size", 32, "Patches per batch.")
flags.DEFINE_integer("num_batches", 20, "Batches timed per task.")
flags.DEFINE_integer("stride", 4, "Patch grid stride.")
flags.DEFINE_list("tasks", None, "Tasks to time (default: every "
                  "registered one).")


def main(argv):
  del argv
  images = {}
  print(f"batch_size={FLAGS.batch_size} num_batches={FLAGS.num_batches} "
        f"stride={FLAGS.stride} cpus={os.cpu_count()}")
  for name in FLAGS.tasks or tasks.names():
    task = tasks.make(name)
    gray = task.image_channels == 1
    try:
      if gray not in images:
        images[gray] = rim_data.load_images("train", gray=gray,
                                            data_dir=FLAGS.data_dir)
    except rim_data.DataNotFoundError as error:
      sys.exit(f"error: {error}")
    start = time.perf_counter()
    dataset = patches.PatchDataset(images[gray], task.patch_size,
                                   FLAGS.stride)
    build = time.perf_counter() - start
    stream = dataset.train_dataset(FLAGS.batch_size, task.corruption())
    rate = patches.measure_throughput(stream, FLAGS.num_batches)
    print(f"{name:20s} {rate:10.1f} patches/s  ({task.patch_size}x"
          f"{task.patch_size}x{task.image_channels}, {task.corruption()!r}; "
          f"{dataset.num_train} training patches, table built in "
          f"{build:.1f} s)")


if __name__ == "__main__":
  app.run(main)
