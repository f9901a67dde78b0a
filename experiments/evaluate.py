"""Evaluates RIMs and baselines on BSDS300 with the paper's conventions.

  python experiments/evaluate.py --task=superres --methods=rim,bicubic \
      --subset=bsd100 --data_dir=DIR --weights=superres --output=FILE.json

writes FILE.json ({method: {setting: {psnr, ssim, psnr_sem, n, per_image,
per_image_ssim}}}) and FILE.md (markdown tables with the paper's numbers
beside ours). `--subset=bsd68,bsd100 --output=NAME_{subset}.json` writes
both denoising tables from one run over the 100 test images.
"""

import sys

from absl import app
from absl import flags

from rim_tf import experiment_flags


FLAGS = flags.FLAGS
experiment_flags.define_task(help_text=(
    "Which table: Table 2 (denoise), 1 (denoise_color), 3 (superres), "
    "Figure 2's curves (random_projections), or Levin et al.'s kernels "
    "(deblur)."))
flags.DEFINE_list("methods", None, "rim, bm3d (CBM3D for colour, "
                  "BM3D-deblurring for deblur), bicubic (super-resolution), "
                  "wiener (deblur); default: rim and the task's baselines.")
flags.DEFINE_list("subset", ["bsd68"], "Test images: bsd68 and/or bsd100. "
                  "Both: the 100 images are evaluated once and each table "
                  "written to --output with {subset} replaced.")
experiment_flags.define_data_dir()
flags.DEFINE_string("weights", None, "RIM weights: a shipped name or a "
                    ".weights.h5 path (with its .json beside it); a comma "
                    "list for several RIMs in one run (the tables compare "
                    "the first with the rest).")
flags.DEFINE_string("name", "rim", "Name of the RIM in the tables (a comma "
                    "list with several RIMs, e.g. RIM,GDN,FFN for "
                    "random_projections).")
flags.DEFINE_float("ratio", 0.25, "random_projections: p = m / d.")
flags.DEFINE_string("paper_rim", None, "The paper's row the tables compare "
                    "the RIM with (default: the paper's RIM for the task, "
                    "e.g. RIM-denoise; RIM-3task for the random-projection "
                    "RIM on denoising).")
flags.DEFINE_integer("steps", None, "RIM steps T at test time (default: the "
                     "weights' own, Restorer.from_weights).")
flags.DEFINE_list("sigmas", None, "Noise levels (0-255 scale; default the "
                  "protocol's: 15,25,50 for denoising, 2.55,7.65 for "
                  "deblurring).")
flags.DEFINE_list("quantized", ["false", "true"], "Denoising variants: "
                  "not quantized and/or 8-bit quantized.")
flags.DEFINE_list("scales", ["2", "3", "4"], "Super-resolution factors.")
flags.DEFINE_integer("num_images", None, "Only the first N images (quick "
                     "looks; tables need all); for random_projections the "
                     "number of test patches (default 5000).")
flags.DEFINE_integer("first_image", 0, "Start at image number K (from 0) of "
                     "the test set: with --num_images, a slice of a run "
                     "(e.g. to fill --baseline_cache from several "
                     "processes).")
flags.DEFINE_integer("seed", 0, "Noise seed.")
flags.DEFINE_string("baseline_cache", None, "A folder where the classical "
                    "baselines' results are kept and reused: a run on the "
                    "same images, settings and code takes them from there "
                    "(BM3D-deblurring takes hours).")
flags.DEFINE_bool("fast", False, "RIMs restore on rim_tf.restore's fast "
                  "path (bfloat16 where the hardware has it), not float32.")
flags.DEFINE_string("output", None, "Results JSON path (with --shipped: a "
                    "folder).", required=True)
flags.DEFINE_bool("shipped", False, "Evaluate every shipped RIM against its "
                  "baseline on its table's subsets, and draw Figure 2 of the "
                  "random-projection models; --output is a folder.")


def main(argv):
  del argv
  # Imported here so that --help answers without loading TensorFlow.
  from rim_tf import data as rim_data  # pylint: disable=g-import-not-at-top
  from rim_tf.evaluation import runner  # pylint: disable=g-import-not-at-top
  from rim_tf.evaluation import shipped  # pylint: disable=g-import-not-at-top
  command = experiment_flags.command_line()
  output = experiment_flags.output_path(FLAGS.output, folder=FLAGS.shipped)
  try:
    task = experiment_flags.task_name()
    if FLAGS.shipped:
      print(shipped.evaluate_shipped(output, FLAGS.data_dir,
                                      FLAGS.num_images, command,
                                      baseline_cache=FLAGS.baseline_cache))
      return
    report = runner.run_evaluation(
        task=task, methods=FLAGS.methods or runner.default_methods(task),
        subsets=FLAGS.subset,
        data_dir=FLAGS.data_dir, weights=FLAGS.weights, rim_name=FLAGS.name,
        steps=FLAGS.steps,
        sigmas=FLAGS.sigmas and [float(s) for s in FLAGS.sigmas],
        quantized=[q.lower() == "true" for q in FLAGS.quantized],
        scales=[int(s) for s in FLAGS.scales], num_images=FLAGS.num_images,
        seed=FLAGS.seed, output=output, ratio=FLAGS.ratio,
        paper_rim=FLAGS.paper_rim, command=command, fast=FLAGS.fast,
        baseline_cache=FLAGS.baseline_cache, first_image=FLAGS.first_image)
  except (rim_data.DataNotFoundError, FileNotFoundError, ValueError) as error:
    sys.exit(f"error: {error}")
  print(report)


if __name__ == "__main__":
  app.run(main)
