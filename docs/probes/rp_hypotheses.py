"""Probe: which set-up of the random-projection problem explains the
RIM-3task and Figure 2 gaps. Scores one exported 3-task RIM (trained with
`--task=random_projections` and the set-up's task arguments) three ways:

  (a) PSNR at its training T per ensemble at p = 0.25 on the 1000 held-out
      training patches (the task's own operators, noise and start);
  (b) the RIM-3task transfer: denoising PSNR on the first 10 BSD68 images
      at sigma 15 / 25 / 50 (not quantized), from the start its task gives
      a denoiser (`Task.denoise_start`), 20 steps;
  (c) with --ablations=GDN_WEIGHTS,FFN_WEIGHTS: the mean PSNR of RIM, GDN
      and FFN at steps 1, 10, 20, 30, 50 on 1000 test patches.

and writes a JSON row (--output) with the export's budget.

  python experiments/train.py --task=random_projections --preset=cpu \
      --data_dir=DATA --set=trainer.train_steps=1200 \
      --set=task_args.train_noise_sigma=[0.5,8] \
      --run_dir=RUNS/rp_h2r --export=RUNS/rp_h2r.weights.h5
  python experiments/calibrate_norms.py --data_dir=DATA \
      --weights=RUNS/rp_h2r.weights.h5 --output=RUNS/rp_h2r_cal.weights.h5
  python docs/probes/rp_hypotheses.py --data_dir=DATA \
      --weights=RUNS/rp_h2r_cal.weights.h5 \
      --made_by="TRAIN_COMMAND && CALIBRATE_COMMAND" \
      --output=docs/results/rp_hypotheses/h2r.json
"""

import json
import os
import shlex
import sys
import tempfile

from absl import app
from absl import flags

from rim_tf import experiment_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("weights", None, "The 3-task RIM's export.",
                    required=True)
flags.DEFINE_list("ablations", [], "GDN and FFN exports of the same set-up "
                  "for the ordering (c).")
flags.DEFINE_string("output", None, "The JSON row.", required=True)
flags.DEFINE_string("made_by", None, "The commands, joined by '&&', that "
                    "trained and calibrated --weights; the row records them "
                    "before the probe's own.")
experiment_flags.define_data_dir()

ORDER_STEPS = (1, 10, 20, 30, 50)


def main(argv):
  del argv
  from rim_tf import configs  # pylint: disable=g-import-not-at-top
  from rim_tf import pretrained  # pylint: disable=g-import-not-at-top
  from rim_tf import tasks  # pylint: disable=g-import-not-at-top
  from rim_tf.data import bsds  # pylint: disable=g-import-not-at-top
  from rim_tf.evaluation import protocols  # pylint: disable=g-import-not-at-top
  from rim_tf.evaluation import runner  # pylint: disable=g-import-not-at-top
  weights = os.path.expanduser(FLAGS.weights)
  model, config = pretrained.load(weights)
  task = tasks.from_config(config)
  steps = config.trainer.rim_steps
  meta = pretrained.metadata(weights)
  # The file by its name: the row names no folder of this machine.
  row = {"weights": os.path.basename(weights),
         "task_args": dict(config.task_args),
         "step": meta["step"], "patches": meta["patches_seen"],
         "hours": meta["train_hours"], "train_steps": steps}
  held_out = task.training_patches(configs.override(
      config, {"data.data_dir": FLAGS.data_dir}).data).validation()
  curves = protocols.evaluate_random_projections({"rim": model}, held_out,
                                                 task, steps=steps)
  row["held_out_at_T"] = {kind: c["mean"][steps]
                          for kind, c in curves["rim"].items()}
  print("held out at T:", row["held_out_at_T"], flush=True)
  with tempfile.TemporaryDirectory() as folder:
    runner.run_evaluation(
        "denoise", ["rim"], "bsd68", os.path.join(folder, "t.json"),
        data_dir=FLAGS.data_dir, weights=weights, num_images=10,
        sigmas=(15, 25, 50), quantized=(False,))
    with open(os.path.join(folder, "t.json"), encoding="utf-8") as f:
      table = json.load(f)["rim"]
  row["transfer_bsd68_first10"] = {s: v["psnr"] for s, v in table.items()}
  row["denoise_start"] = task.denoise_start
  print("transfer:", row["transfer_bsd68_first10"], flush=True)
  if FLAGS.ablations:
    models = {"RIM": model}
    for name, path in zip(("GDN", "FFN"), FLAGS.ablations):
      models[name], _ = pretrained.load(os.path.expanduser(path))
    images = bsds.load_images("test", gray=True, data_dir=FLAGS.data_dir)
    patches = protocols.test_patches(images, 1000)
    found = protocols.evaluate_random_projections(models, patches, task,
                                                  steps=max(ORDER_STEPS))
    row["order"] = {kind: {name: [found[name][kind]["mean"][s]
                                  for s in ORDER_STEPS] for name in models}
                    for kind in found["RIM"]}
    print("order:", row["order"], flush=True)
  # Each command path-free, as every results file records it.
  made_by = [shlex.split(c)[1:] for c in (FLAGS.made_by or "").split("&&")
             if c.strip()]
  row["command"] = " && ".join(experiment_flags.command_line(argv) for argv in [
      *made_by, [a for a in sys.argv if not a.startswith("--made_by")]])
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
  with open(FLAGS.output, "w", encoding="utf-8") as f:
    json.dump(row, f, indent=1)


if __name__ == "__main__":
  app.run(main)
