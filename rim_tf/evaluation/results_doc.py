"""docs/results.md, written from the committed result files in docs/results/.

Every table of the page is rendered here from a results JSON (the tables
of an evaluation: `rim_tf.evaluation.tables`), so no number in it is typed
by hand; `experiments/results_tables.py --check` fails when the page and
the JSONs disagree. A section names the command that makes its JSON and,
for a shipped model, the sha256 of the weights that scored (read from the
evaluation's markdown beside the JSON) next to the shipped file's.

    text = results_doc.render(RESULTS_DIR)
    problems = results_doc.check(PAGE, RESULTS_DIR)
"""

import dataclasses
import json
import pathlib
import textwrap

from rim_tf.evaluation import tables

TITLE = "# Results"
INTRO = """\
Every table below is written by `python experiments/results_tables.py` from the result
files in `docs/results/` (do not edit it by hand; `--check` compares the two and runs in
the tests). Each section gives the command that made its results file. PSNRs are means
over the test images ± their bootstrap standard error; "(paper)" rows are the paper's
printed numbers, "(same run)" differences compare methods on the same noisy images."""


@dataclasses.dataclass(frozen=True)
class Section:
  """One section of the page.

  Attributes:
    title: its heading.
    text: what was measured, in a few sentences (no numbers: they come from
      the results file).
    command: the command that makes `results`.
    results: the results JSON's file name in the results folder.
    render: "evaluation" (`tables.markdown_table` with the paper's rows and
      `tables.comparison_table`), or the name of a renderer below.
    task: the evaluation's task (for the paper's rows).
    subset: "bsd68" or "bsd100".
    methods: {method in the JSON: its name in the table}; None keeps all.
    ours: the method compared with the others and the paper.
    paper_rim: the paper's row `ours` is compared with (default the task's).
    shipped: {method: shipped weights name}: the weights that scored must
      be the shipped file (sha256 checked).
    seconds: show the methods' seconds per image from the evaluation's
      markdown; False where its parts ran under different loads.
  """

  title: str
  text: str
  command: str
  results: str
  render: str = "evaluation"
  task: str | None = None
  subset: str = "bsd68"
  methods: dict | None = None
  ours: str | None = None
  paper_rim: str | None = None
  shipped: dict = dataclasses.field(default_factory=dict)
  seconds: bool = True


SECTIONS = (
    Section(
        "Table 2: gray denoising on BSD68, `denoise_gray` against BM3D",
        "The shipped gray denoiser at its T = 10 and BM3D with the true noise "
        "level, on the same noisy images: white Gaussian noise, unquantized "
        "and 8-bit quantized (`_q8`).",
        "python experiments/evaluate.py --task=denoise --methods=rim,bm3d "
        "--subset=bsd68,bsd100 --weights=denoise_gray --data_dir=DATA "
        "--output='docs/results/denoise_gray_{subset}.json'",
        "denoise_gray_bsd68.json", task="denoise", subset="bsd68",
        methods={"rim": "denoise_gray", "bm3d": "BM3D"}, ours="denoise_gray",
        shipped={"rim": "denoise_gray"}),
    Section(
        "Gray denoising on BSD100",
        "The same run on all 100 BSDS300 test images (the command above).",
        "", "denoise_gray_bsd100.json", task="denoise", subset="bsd100",
        methods={"rim": "denoise_gray", "bm3d": "BM3D"}, ours="denoise_gray",
        shipped={"rim": "denoise_gray"}),
    Section(
        "Table 2, RIM-3task row: the random-projection RIM as a denoiser",
        "The shipped 3-task RIM, trained on random projections only, "
        "denoising from a flat start at T = 20: the paper's evidence that a "
        "RIM learns something like a prior. Not reproduced: it stays below "
        "the paper's row (see docs/reproducing.md).",
        "python experiments/evaluate.py --task=denoise --methods=rim "
        "--subset=bsd68,bsd100 --weights=random_projections "
        "--name=random_projections --steps=20 --paper_rim=RIM-3task "
        "--data_dir=DATA --output='docs/results/random_projections_{subset}.json'",
        "random_projections_bsd68.json", task="denoise", subset="bsd68",
        methods={"random_projections": "random_projections"},
        ours="random_projections", paper_rim="RIM-3task",
        shipped={"random_projections": "random_projections"}),
    Section(
        "The RIM-3task gap: set-ups of the random-projection problem",
        "3-task RIMs trained from scratch with seed 0 on the cpu preset, "
        "each row a set-up of the problem and a budget, then calibrated. "
        "Held out: PSNR at the training T on the 1000 held-out patches per "
        "ensemble at p = 0.25. Denoising: the RIM-3task transfer, the first "
        "10 BSD68 images, noise not quantized, 20 steps from the flat start. "
        "The first row is the shipped 3-task RIM (4 000 steps at T = 10, "
        "then 1 000 at T = 20); the others were trained 1 200 steps at "
        "T = 10 and differ from it only where their label says. Unit "
        "entries: N(0, 1) and ±1 matrices and Fourier rows of modulus 1; "
        "E[AᵀA] = I: the same divided by √m "
        "(docs/reproducing.md, Table 2's RIM-3task row).",
        "python docs/probes/rp_hypotheses.py --data_dir=DATA "
        "--weights=WEIGHTS --made_by='TRAIN && CALIBRATE' "
        "--output=docs/results/rp_hypotheses/NAME.json",
        "rp_hypotheses", render="hypotheses",
        methods={"shipped": "shipped: p ∈ {0.1, 0.25, 0.5}, unit entries, "
                 "σ = 1 (second stage, after 128 k patches at T = 10)",
                 "h0": "p ∈ {0.1, 0.25, 0.5}, unit entries, σ = 1",
                 "h5": "p from 0.1 to 1.0, unit entries, σ = 1",
                 "h1": "p ∈ {0.1, 0.25, 0.5}, E[AᵀA] = I, σ = 1",
                 "h2r": "p ∈ {0.1, 0.25, 0.5}, unit entries, training σ "
                        "from 0.5 to 8",
                 "h6l": "p ∈ {0.1, 0.25, 0.5}, unit entries, training σ "
                        "from 0.5 to 8, log-uniform",
                 "h7w": "p ∈ {0.1, 0.25, 0.5}, unit entries, σ = 1, GRU 256 "
                        "(the paper's)"}),
    Section(
        "Table 1: colour denoising on BSD68, `denoise_color` against CBM3D",
        "The shipped colour denoiser and CBM3D on the same noisy images, "
        "σ = 25, 8-bit quantized.",
        "python experiments/evaluate.py --task=denoise_color --methods=rim,bm3d "
        "--weights=denoise_color --subset=bsd68,bsd100 --sigmas=25 "
        "--quantized=true --data_dir=DATA "
        "--output='docs/results/denoise_color_{subset}.json'",
        "denoise_color_bsd68.json", task="denoise_color", subset="bsd68",
        methods={"aug6500_calibrated": "denoise_color", "cbm3d": "CBM3D"},
        ours="denoise_color", shipped={"aug6500_calibrated": "denoise_color"}),
    Section(
        "Colour denoising on BSD100",
        "The same run on all 100 BSDS300 test images (the command above).",
        "", "denoise_color_bsd100.json", task="denoise_color", subset="bsd100",
        methods={"aug6500_calibrated": "denoise_color", "cbm3d": "CBM3D"},
        ours="denoise_color", shipped={"aug6500_calibrated": "denoise_color"}),
    Section(
        "Colour denoising, unclipped noise: the gray RIM in an opponent "
        "colour space",
        "The shipped colour RIM; the shipped gray RIM on each channel of an "
        "orthogonal opponent colour space (luminance and two colour "
        "differences, each scaled onto [0, 1]: the noise stays white, with "
        "a known σ per channel — how CBM3D decorrelates the channels); the "
        "mean of the two estimates; and CBM3D with the true σ. The first 10 "
        "CBSD68 images, white Gaussian noise left unclipped, the same noisy "
        "images for every method. The colour RIM, trained on 8-bit "
        "quantized noise only, is below both the gray RIM in opponent space "
        "and CBM3D at every σ.",
        "python docs/probes/color_opponent.py --data_dir=DATA "
        "--num_images=10 --baseline_cache=CACHE "
        "--output=docs/results/color_opponent_first10.json",
        "color_opponent_first10.json", render="probe"),
    Section(
        "", "The same with 8-bit quantized noisy images: the gray RIM, "
        "trained on unclipped noise only, loses to the colour RIM as the "
        "clipping grows.",
        "python docs/probes/color_opponent.py --data_dir=DATA "
        "--num_images=10 --quantized --baseline_cache=CACHE "
        "--output=docs/results/color_opponent_q8_first10.json",
        "color_opponent_q8_first10.json", render="probe"),
    Section(
        "Colour denoising: the gray cell trained in opponent space, both "
        "kinds of input",
        "`denoise_gray`'s cell fine-tuned on the opponent channels of colour "
        "patches (σ 5–55, half of the examples 8-bit quantized in RGB, half "
        "unclipped; the loss on RGB patches; the cpu recipe's second stage, "
        "2000 steps of 4 patches of 64 × 64 × 3), its per-step batch-norm "
        "statistics calibrated; beside it the shipped colour RIM (trained on "
        "quantized input only) and CBM3D, on the first 10 CBSD68 images. "
        "One model for both kinds of input: on unclipped noise it is level "
        "with the gray RIM run unchanged in the same space (above) at the "
        "lowest σ and below it at the higher ones, and stays behind CBM3D "
        "at the lowest; on quantized noise it is ahead of the colour cell "
        "at the lowest σ and behind it at the highest. A guess, not tested: "
        "clipping in RGB ties the three channels' errors together, and a "
        "cell that sees one channel cannot use that.",
        "python experiments/train.py --task=denoise_color "
        "--preset=cpu_finetune --data_dir=DATA "
        "--set=task_args.space=opponent --set=task_args.quantize=0.5 "
        "--set=trainer.init_weights=denoise_gray --set=model.norm_steps=10 "
        "--set=data.batch_size=4 --set=trainer.train_steps=2000 "
        "--run_dir=RUN --export=OPP.weights.h5 && "
        "python experiments/calibrate_norms.py --data_dir=DATA "
        "--weights=OPP.weights.h5 --output=OPP_CAL.weights.h5 && "
        "python experiments/evaluate.py --task=denoise_color "
        "--methods=rim,bm3d --weights=OPP_CAL.weights.h5,denoise_color "
        "--name=opponent,shipped --subset=bsd68 --num_images=10 "
        "--sigmas=15,25,50 --quantized=false,true --data_dir=DATA "
        "--baseline_cache=CACHE "
        "--output=docs/results/color_opponent_mixed_first10.json",
        "color_opponent_mixed_first10.json", task="denoise_color",
        subset="bsd68",
        methods={"opponent": "gray cell, opponent space",
                 "shipped": "denoise_color", "cbm3d": "CBM3D"},
        ours="gray cell, opponent space",
        shipped={"shipped": "denoise_color"}),
    Section(
        "Colour denoising: the gray cell with a channel context",
        "The run above with the cell's first convolution also reading the "
        "image's three opponent estimates and which channel it restores "
        "(`--set=task_args.context=true`; the context's input weights start "
        "at zero, so the run starts as `denoise_gray` exactly); the same "
        "recipe, seed and budget, scored beside the run without it on the "
        "same noisy images. It gains 0.01–0.02 dB (held out: 31.34 dB "
        "against 31.30): the context's input weights (`pretrained.load("
        "CTX_CAL)[0].cell.down.kernel[:, :, 2:]`) ended with an RMS of "
        "0.003–0.004 per input map against 0.13 and 0.18 for the "
        "estimate's and the gradient's, so at this rate (Adam 2e-4) "
        "and budget the cell hardly uses the other channels, and the gap "
        "to CBM3D at σ 15 stays.",
        "python experiments/train.py --task=denoise_color "
        "--preset=cpu_finetune --data_dir=DATA "
        "--set=task_args.space=opponent --set=task_args.quantize=0.5 "
        "--set=task_args.context=true "
        "--set=trainer.init_weights=denoise_gray --set=model.norm_steps=10 "
        "--set=data.batch_size=4 --set=trainer.train_steps=2000 "
        "--run_dir=RUN --export=CTX.weights.h5 && "
        "python experiments/calibrate_norms.py --data_dir=DATA "
        "--weights=CTX.weights.h5 --output=CTX_CAL.weights.h5 && "
        "python experiments/evaluate.py --task=denoise_color "
        "--methods=rim,bm3d "
        "--weights=CTX_CAL.weights.h5,OPP_CAL.weights.h5,denoise_color "
        "--name=context,opponent,shipped --subset=bsd68 --num_images=10 "
        "--sigmas=15,25,50 --quantized=false,true --data_dir=DATA "
        "--baseline_cache=CACHE "
        "--output=docs/results/color_context_first10.json",
        "color_context_first10.json", task="denoise_color",
        subset="bsd68",
        methods={"context": "gray cell with a channel context",
                 "opponent": "gray cell, opponent space",
                 "shipped": "denoise_color", "cbm3d": "CBM3D"},
        ours="gray cell with a channel context",
        shipped={"shipped": "denoise_color"}),
    Section(
        "Colour denoising: the channel-context cell told whether its input is 8 bit",
        "The run above with the cell also reading, as a constant input map, "
        "whether each noisy image is 8-bit quantized (every value on the "
        "1/255 grid) or unclipped (`--set=task_args.quantization_flag=true`; "
        "the flag's input weights start at zero); the same recipe, seed and "
        "budget, scored beside the run without the flag on the same noisy "
        "images. Held out (RGB patches, half of them quantized): 31.43 dB "
        "against 31.34 at step 2000, ahead at steps 500, 1000 and 1500 "
        "too (`experiments/validation_history.py --run_dir=RUN` of both "
        "runs). On unclipped noise it gains 0.05–0.09 dB and passes CBM3D at "
        "σ 25 and 50, not at 15; on quantized noise it loses 0.09 dB at "
        "σ 15 (on all 10 images) and gains 0.35 dB at σ 50, where it is "
        "still below `denoise_color` (27.57 dB in the section above).",
        "python experiments/train.py --task=denoise_color "
        "--preset=cpu_finetune --data_dir=DATA "
        "--set=task_args.space=opponent --set=task_args.quantize=0.5 "
        "--set=task_args.context=true --set=task_args.quantization_flag=true "
        "--set=trainer.init_weights=denoise_gray --set=model.norm_steps=10 "
        "--set=data.batch_size=4 --set=trainer.train_steps=2000 "
        "--run_dir=RUN --export=FLAG.weights.h5 && "
        "python experiments/calibrate_norms.py --data_dir=DATA "
        "--weights=FLAG.weights.h5 --output=FLAG_CAL.weights.h5 && "
        "python experiments/evaluate.py --task=denoise_color "
        "--methods=rim,bm3d --weights=FLAG_CAL.weights.h5,CTX_CAL.weights.h5 "
        "--name=flag,context --subset=bsd68 --num_images=10 "
        "--sigmas=15,25,50 --quantized=false,true --data_dir=DATA "
        "--baseline_cache=CACHE --output=docs/results/color_flag_first10.json",
        "color_flag_first10.json", task="denoise_color", subset="bsd68",
        methods={"flag": "channel context and 8-bit flag",
                 "context": "gray cell with a channel context",
                 "cbm3d": "CBM3D"},
        ours="channel context and 8-bit flag"),
    Section(
        "Colour denoising at σ 15: luminance or chroma",
        "The two runs above and CBM3D on the first 10 CBSD68 images at σ 15, "
        "unclipped (the evaluation's noisy images), each error split over "
        "the three channels of the opponent colour space. The luminance "
        "holds most of the RGB error, and there the flagged cell is level "
        "with CBM3D; in both chroma channels CBM3D is 0.4–0.6 dB ahead "
        "(it groups the chroma by the luminance's blocks), which is the "
        "whole of the RIM's gap at this σ.",
        "python docs/probes/color_channels.py --num_images=10 "
        "--weights=FLAG_CAL.weights.h5,CTX_CAL.weights.h5 --names=flag,context "
        "--sigmas=15 --baseline_cache=CACHE --data_dir=DATA "
        "--output=docs/results/color_channels_first10.json",
        "color_channels_first10.json", render="channels"),
    Section(
        "Table 3: super-resolution on BSD100, `superres` against bicubic",
        "The protocol of Huang et al. (2015): each image cropped to a "
        "multiple of the scale and reduced with MATLAB-exact bicubic "
        "`imresize`; the RIM restores the luma, the chroma is upscaled "
        "bicubically; PSNR and SSIM on Y without a border of `scale` pixels.",
        "python experiments/evaluate.py --task=superres --methods=rim,bicubic "
        "--subset=bsd100 --weights=superres --data_dir=DATA "
        "--output=docs/results/superres_bsd100.json",
        "superres_bsd100.json", task="superres", subset="bsd100",
        methods={"rim": "superres", "bicubic": "bicubic"}, ours="superres",
        shipped={"rim": "superres"}),
    Section(
        "Figure 2: RIM, GDN and FFN on random projections, by step",
        "The three shipped random-projection models on 5000 random 32 × 32 "
        "test patches, noisy random projections at p = 0.25 (Gaussian, "
        "binary and Fourier ensembles), the same operators and noise for "
        "every model; mean PSNR after t steps (trained at T = 20). The "
        "figure: `python experiments/figures.py --figure=2 "
        "--results=docs/results/figure2_curves.json "
        "--output=docs/figures/figure2.png`.",
        "python experiments/evaluate.py --task=random_projections "
        "--methods=rim --name=RIM,GDN,FFN --weights=random_projections,"
        "random_projections_gdn,random_projections_ffn --data_dir=DATA "
        "--output=docs/results/figure2_curves.json",
        "figure2_curves.json", render="curves"),
    Section(
        "The fast path against float32 on BSD68",
        "`denoise_gray` at σ = 25 (unquantized) restored by the float32 Keras "
        "model and by `rim_tf.restore`'s fast path (the fused form in "
        "bfloat16, docs/exports.md), on the same noisy images.",
        "python experiments/evaluate.py --task=denoise --methods=rim "
        "--weights=denoise_gray --sigmas=25 --quantized=false --subset=bsd68 "
        "--data_dir=DATA [--fast] --output=OUT.json",
        "denoise_gray_fast_path_bsd68.json", render="methods"),
    Section(
        "Inference speed: the RIM against BM3D on one image",
        "Seconds per image (best of 3) of BM3D with the true noise level and "
        "of `denoise_gray` at its T = 10 on each path, in one process on an "
        "otherwise idle 2-core AMD EPYC with AVX-512 BF16; `fast` is what "
        "`rim_tf.restore` runs. The ceiling: the fused form's FLOPs at the "
        "speed of the cell's largest convolution alone. The profile, the "
        "cold start and a large photograph are in docs/exports.md.",
        "python experiments/benchmarks/inference_speed.py --data_dir=DATA "
        "--paths=float32,bfloat16,fast,xla,savedmodel,onnx,litert,openvino "
        "--output=docs/results/inference_speed.json",
        "inference_speed.json", render="speed"),
    Section(
        "Batch-norm statistics per RIM step: held-out PSNR before and after",
        "Each shipped model's held-out PSNR (its training config's validation "
        "patches) with one set of batch-norm statistics for all steps, and "
        "after `experiments/calibrate_norms.py` gave it a row per step "
        "(docs/training.md).",
        "python experiments/score_weights.py --weights=BEFORE,AFTER "
        "--data_dir=DATA --output=docs/results/norm_calibration_NAME.json",
        "norm_calibration_denoise_gray.json", render="scores"),
    Section(
        "", "", "", "norm_calibration_superres.json", render="scores"),
    Section(
        "", "", "", "norm_calibration_deblur.json", render="scores"),
    Section(
        "Batch-norm statistics per RIM step on the test images",
        "The same weights evaluated with one set of batch-norm statistics "
        "and with a row per step (the shipped models), on the same test "
        "images and noise: the first file is the evaluation of the weights "
        "before calibration, the second the shipped model's (above).",
        "python experiments/evaluate.py --task=denoise --methods=rim "
        "--subset=bsd68 --weights=UNCALIBRATED.weights.h5 --data_dir=DATA "
        "--output=docs/results/denoise_gray_uncalibrated_bsd68.json",
        "denoise_gray_uncalibrated_bsd68.json", render="before_after",
        methods={"after": "denoise_gray_bsd68.json"}),
    Section(
        "", "", "", "superres_uncalibrated_bsd100.json",
        render="before_after", methods={"after": "superres_bsd100.json"}),
    Section(
        "Deblurring: Levin et al.'s kernels on BSD68, `deblur` against "
        "BM3D-deblurring",
        "The shipped deblurring RIM at its T = 10, and BM3D-deblurring and a "
        "Wiener filter given the true kernel and σ, on the same inputs: "
        "each BSD68 image blurred by each of Levin et al.'s 8 kernels "
        "(circular boundary), white Gaussian noise of σ = 2.55 or 7.65 "
        "drawn from seed 0 per image, quantized to 8 bits "
        "(docs/reproducing.md, \"Not in the paper\"). The RIM never saw "
        "these kernels. The test set ran in slices, each a process of its "
        "own (the first two commands, K = 0, 5, ..., 95 and K = 0, 2, ..., 66, "
        "written as two digits; the files are in docs/results/deblur_parts/), "
        "joined by the third; as the "
        "slices ran under different loads, the speed is measured in "
        "docs/benchmarks.md, \"Deblurring\". No published table on this "
        "protocol could be read (docs/reproducing.md).",
        "python experiments/evaluate.py --task=deblur --methods=rim,wiener "
        "--subset=bsd100 --weights=deblur --data_dir=DATA --first_image=K "
        "--num_images=5 --output=docs/results/deblur_parts/rim_K.json\n"
        "python experiments/evaluate.py --task=deblur --methods=bm3d,wiener "
        "--subset=bsd68 --data_dir=DATA --first_image=K --num_images=2 "
        "--output=docs/results/deblur_parts/bm3d_K.json\n"
        "python experiments/combine_results.py --subset=bsd68 "
        "--inputs='docs/results/deblur_parts/*.json' "
        "--output=docs/results/deblur_bsd68.json",
        "deblur_bsd68.json", render="levin",
        methods={"rim": "deblur", "BM3D-deblur": "BM3D-deblurring",
                 "Wiener": "Wiener"},
        shipped={"rim": "deblur"}, seconds=False),
    Section(
        "Deblurring on all 100 test images",
        "The RIM's slices above cover all 100 BSDS300 test images, with the "
        "Wiener filter beside it (BM3D-deblurring ran on BSD68's 68 only); "
        "the 32 images outside BSD68 saw no choice of the recipe.",
        "python experiments/combine_results.py --subset=bsd100 "
        "--inputs='docs/results/deblur_parts/rim_*.json' "
        "--output=docs/results/deblur_bsd100.json",
        "deblur_bsd100.json", render="levin",
        methods={"rim": "deblur", "Wiener": "Wiener"},
        shipped={"rim": "deblur"}, seconds=False),
    Section(
        "Deblurring: where the RIM starts, and its eps",
        "Three deblurring RIMs trained alike for 500 steps of the cpu preset "
        "(warm start from `denoise_gray`), differing in where the estimates "
        "start (the blurred image, or its Wiener deconvolution) and in the "
        "likelihood's eps: the donor's (about 2.4e-3, a noise floor near "
        "12/255 that tempers the blur's data term) or started again at "
        "1e-4 (the second command, START = measurement or wiener, makes "
        "the first two rows; RUN is deblur_ab or deblur_ab_START). Scored "
        "on the first 10 BSD68 images with Levin et al.'s 8 "
        "kernels at σ = 2.55 and 7.65. The cpu preset takes the last row's "
        "set-up. The held-out training patches (last column) rank the two "
        "Wiener runs the other way: their noise reaches 12.75/255 and their "
        "kernels are random, so the benchmark decided. The choice thus saw "
        "10 images of the BSD68 table; the 32 test images outside BSD68 "
        "saw no choice, and the 100-image table scores them too.",
        "python experiments/train.py --task=deblur --preset=cpu "
        "--data_dir=DATA --set=trainer.train_steps=500 --run_dir=deblur_ab "
        "--export=deblur_ab.weights.h5\n"
        "python experiments/train.py --task=deblur --preset=cpu "
        "--data_dir=DATA --set=trainer.train_steps=500 "
        "--set=task_args.start=START --set=trainer.init_keep_likelihood=true "
        "--run_dir=deblur_ab_START --export=deblur_ab_START.weights.h5\n"
        "python experiments/evaluate.py --task=deblur --methods=rim "
        "--subset=bsd68 --num_images=10 --data_dir=DATA "
        "--weights=RUN.weights.h5 --output=RUN.json",
        "deblur_ab_first10.json", render="deblur_ab"),
)


def _load(results_dir, name):
  return json.loads((pathlib.Path(results_dir) / name).read_text())


def _scored_sha256(results_dir, json_name):
  """{method: sha256 prefix} from the "- weights:" line of the evaluation's
  markdown beside its JSON."""
  return tables.scored_sha256(tables.read_metadata(
      pathlib.Path(results_dir) / json_name).get("weights", ""))


def _evaluation(section, results_dir):
  results = _load(results_dir, section.results)
  if section.methods:
    results = {shown: results[name] for name, shown in section.methods.items()
               if name in results}
  lines = ["PSNR (dB):", "",
           tables.markdown_table(results, section.task, section.subset), ""]
  caveat = tables.partial_run_note(results, section.subset)
  if caveat:
    lines += [caveat, ""]
  comparison = tables.comparison_table(results, section.task, section.subset,
                                       section.ours, section.paper_rim)
  if comparison:
    lines += ["Differences of the mean PSNRs:", "", comparison, ""]
  lines += ["SSIM:", "",
            tables.markdown_table(results, section.task, section.subset,
                                  "ssim"), ""]
  return lines


def _curves(section, results_dir):
  data = _load(results_dir, section.results)
  curves = data["curves"]
  models = list(curves)
  ensembles = list(curves[models[0]])
  length = len(curves[models[0]][ensembles[0]]["mean"])
  steps = [t for t in (1, 2, 5, 10, 20, 30, 50) if t <= length]
  lines = []
  for ensemble in ensembles:
    lines += [f"{ensemble.capitalize()} projections, mean PSNR (dB) after t "
              f"steps, {curves[models[0]][ensemble]['n']} patches:", "",
              "| model | " + " | ".join(f"t = {t}" for t in steps) + " |",
              "|" + "---|" * (len(steps) + 1)]
    for model in models:
      mean = curves[model][ensemble]["mean"]
      lines.append(f"| {model} | " + " | ".join(
          f"{mean[t - 1]:.2f}" for t in steps) + " |")
    lines.append("")
  weights = ", ".join(
      f"{model} `{known['path']}` (sha256 {known['sha256'][:12]})"
      for model, known in data.get("provenance", {}).items())
  if weights:
    lines += [f"Weights: {weights}.", ""]
  return lines


def _methods(section, results_dir):
  results = _load(results_dir, section.results)
  settings = sorted({s for r in results.values() for s in r})
  lines = ["| method | " + " | ".join(settings) + " |",
           "|" + "---|" * (len(settings) + 1)]
  for name, by_setting in results.items():
    lines.append(f"| {name} | " + " | ".join(
        f"{by_setting[s]['psnr']:.4f}" for s in settings) + " |")
  first, *others = results
  for other in others:
    lines.append(f"| {other} − {first} | " + " | ".join(
        f"{results[other][s]['psnr'] - results[first][s]['psnr']:+.4f}"
        for s in settings) + " |")
  return ["PSNR (dB), unrounded means to 4 digits:", ""] + lines + [""]


def _scores(section, results_dir):
  """Held-out PSNRs of weights before and after calibration (the file's
  two rows, in that order)."""
  rows = list(_load(results_dir, section.results).values())
  # "psnr_x2" per setting of a task's validation, "psnr" for one of all.
  keys = sorted({k for row in rows for k in row
                 if k == "psnr" or k.startswith("psnr_")})
  name = section.results[len("norm_calibration_"):-len(".json")]
  lines = [f"| `{name}` (step {rows[0]['step']}) | " + " | ".join(
      k[len("psnr_"):] or "held out" for k in keys) + " |",
           "|" + "---|" * (len(keys) + 1)]
  for label, row in zip(("one set of statistics", "a row per step"), rows):
    lines.append(f"| {label} | " + " | ".join(
        f"{row[k]:.2f}" for k in keys) + " |")
  lines.append("| gain | " + " | ".join(
      f"{rows[1][k] - rows[0][k]:+.2f}" for k in keys) + " |")
  return lines + [""]


def _deblur_ab(section, results_dir):
  data = _load(results_dir, section.results)
  psnr = data["psnr"]
  setups = list(psnr)
  settings = sorted(psnr[setups[0]], key=tables.setting_order)
  means = [s for s in settings if "_k" not in s]
  held_out = data.get("held_out_psnr", {})
  lines = ["Mean PSNR (dB) over the 8 kernels, and held out at the end:", "",
           "| set-up | " + " | ".join(means) + " | held out |",
           "|" + "---|" * (len(means) + 2)]
  for setup in setups:
    kept = f"{held_out[setup]:.2f}" if setup in held_out else ""
    lines.append(f"| {setup} | " + " | ".join(
        f"{psnr[setup][s]:.2f}" for s in means) + f" | {kept} |")
  return lines + [""]


def _levin(section, results_dir):
  """The deblurring benchmark: per noise level a table of every method's
  mean PSNR per Levin kernel and over the kernels, the methods' times
  beside it (from the evaluation's markdown), and how far the first
  method is ahead of each other over the kernels."""
  results = _load(results_dir, section.results)
  if section.methods:
    results = {shown: results[name] for name, shown in section.methods.items()
               if name in results}
  first = next(iter(results.values()))
  sigmas = sorted({s.split("_")[0] for s in first}, key=tables.setting_order)
  seconds = (_seconds_per_image(results_dir, section.results,
                                section.methods or {})
             if section.seconds else {})
  lines = []
  for sigma in sigmas:
    kernels = sorted((s for s in first if s.startswith(sigma + "_k")),
                     key=tables.setting_order)
    lines += [f"σ = {sigma[len('sigma'):]} (0-255 scale), PSNR (dB):", "",
              "| method | " + " | ".join(f"k{s.rsplit('_k', 1)[1]}"
                                       for s in kernels) + " | mean |",
              "|" + "---|" * (len(kernels) + 2)]
    for name, by_setting in results.items():
      lines.append(f"| {name} | " + " | ".join(
          f"{by_setting[s]['psnr']:.2f}" for s in kernels + [sigma]) + " |")
    ours = next(iter(results))
    for other in list(results)[1:]:
      lines.append(f"| {ours} − {other} | " + " | ".join(
          f"{results[ours][s]['psnr'] - results[other][s]['psnr']:+.2f}"
          for s in kernels + [sigma]) + " |")
      lines.append(f"| images where {ours} beats {other} | " + " | ".join(
          tables.images_ahead(results[ours][s], results[other][s])
          for s in kernels + [sigma]) + " |")
    lines.append("")
  if seconds:
    lines += ["Seconds per image: " + ", ".join(
        f"{name} {value:.2f}" for name, value in seconds.items()) + ".", ""]
  return lines


def _seconds_per_image(results_dir, json_name, methods):
  """{shown name: seconds} from the evaluation's markdown beside its JSON
  ({} without one)."""
  found = tables.read_seconds_per_image(pathlib.Path(results_dir) / json_name)
  return {methods.get(name, name): value for name, value in found.items()}


def _before_after(section, results_dir):
  """The RIM's mean PSNR in `section.results` (before) and in the file
  `section.methods["after"]` (after), per setting, and the gain."""
  before = _load(results_dir, section.results)["rim"]
  after = _load(results_dir, section.methods["after"])["rim"]
  settings = sorted(before, key=tables.setting_order)
  lines = [f"| `{section.methods['after'][:-len('.json')]}` | " + " | ".join(
      settings) + " |", "|" + "---|" * (len(settings) + 1)]
  for label, results in (("one set of statistics", before),
                         ("a row per step", after)):
    lines.append(f"| {label} | " + " | ".join(
        f"{results[s]['psnr']:.2f}" for s in settings) + " |")
  lines.append("| gain | " + " | ".join(
      f"{after[s]['psnr'] - before[s]['psnr']:+.2f}" for s in settings) +
               " |")
  return lines + [""]


def _speed(section, results_dir):
  data = _load(results_dir, section.results)
  rows = data["rows"]
  bm3d = next(row["seconds"] for row in rows if row["path"] == "bm3d")
  ceiling = data["fused_gflop"] / data["peak_gflop_per_s"]
  lines = [textwrap.fill(
      f"Image {data['image']}; one RIM step "
      f"{data['gflop'] / data['steps']:.1f} GFLOP, the fused form "
      f"{data['fused_gflop']:.0f} GFLOP in T = {data['steps']}; the largest "
      f"convolution alone {data['peak_gflop_per_s']:.0f} GFLOP/s in "
      f"{data['policy']}, so the ceiling is {ceiling:.2f} s.", 88), "",
           "| path | s / image | PSNR (dB) | time / BM3D | GFLOP/s |",
           "|---|---|---|---|---|"]
  for row in rows:
    rate = (f"{row['gflop_per_s']:.0f}" if "gflop_per_s" in row else "")
    lines.append(f"| {row['path']} | {row['seconds']:.2f} | "
                 f"{row['psnr']:.3f} | {row['seconds'] / bm3d:.2f} | {rate} |")
  fast = [row["seconds"] for row in rows if row["path"] == "fast"]
  if fast:
    lines += ["", f"The fast path reaches {100 * ceiling / fast[0]:.0f} % of "
                  f"the ceiling."]
  return lines + [""]


def _probe(section, results_dir):
  """A probe's mean PSNRs, {"images": n, "psnr": {setting: {method: dB}}}:
  a row per method, then each method's difference to the last one (the
  baseline) on the same noisy images."""
  data = _load(results_dir, section.results)
  psnr = data["psnr"]
  settings = sorted(psnr, key=tables.setting_order)
  methods = list(psnr[settings[0]])
  *others, baseline = methods
  lines = [f"Mean PSNR (dB) over {data['images']} images:", "",
           "| method | " + " | ".join(settings) + " |",
           "|" + "---|" * (len(settings) + 1)]
  for method in methods:
    lines.append(f"| {method} | " + " | ".join(
        f"{psnr[s][method]:.2f}" for s in settings) + " |")
  for method in others:
    lines.append(f"| {method} − {baseline} | " + " | ".join(
        f"{psnr[s][method] - psnr[s][baseline]:+.2f}" for s in settings)
                 + " |")
  return lines + [""]


def _channels(section, results_dir):
  """The per-channel probe (`docs/probes/color_channels.py`): per setting a
  row per method of its PSNR in each opponent channel and in RGB, then each
  method's difference to the last one (the baseline), then each channel's
  share of the RGB MSE."""
  data = _load(results_dir, section.results)
  lines = []
  for setting in sorted(data["channels"], key=tables.setting_order):
    scores = data["channels"][setting]
    *others, baseline = scores
    channels = list(scores[baseline]["psnr"])
    lines += [f"{setting}, mean PSNR (dB) over {data['images']} images, "
              f"per opponent channel; in brackets the channel's share of "
              f"the RGB MSE:", "",
              "| method | " + " | ".join(channels) + " | RGB |",
              "|" + "---|" * (len(channels) + 2)]
    for method, score in scores.items():
      lines.append(f"| {method} | " + " | ".join(
          f"{score['psnr'][c]:.2f} ({100 * score['share_of_rgb_mse'][c]:.0f}"
          f" %)" for c in channels) + f" | {score['rgb_psnr']:.2f} |")
    for method in others:
      rgb = scores[method]["rgb_psnr"] - scores[baseline]["rgb_psnr"]
      lines.append(f"| {method} − {baseline} | " + " | ".join(
          f"{scores[method]['psnr'][c] - scores[baseline]['psnr'][c]:+.2f}"
          for c in channels) + f" | {rgb:+.2f} |")
    lines.append("")
  return lines


def _hypotheses(section, results_dir):
  """The random-projection hypothesis table: a row per probe JSON of the
  folder `section.results` (`docs/probes/rp_hypotheses.py`), in the order
  and with the labels of `section.methods` ({file stem: label}), then each
  row's command."""
  folder = pathlib.Path(results_dir) / section.results
  rows = {}
  for stem, label in section.methods.items():
    path = folder / f"{stem}.json"
    if not path.exists():
      raise ValueError(f"{path} is missing: run docs/probes/rp_hypotheses.py "
                       f"for the row {label!r}.")
    rows[label] = json.loads(path.read_text())
  kinds = list(next(iter(rows.values()))["held_out_at_T"])
  sigmas = sorted(next(iter(rows.values()))["transfer_bsd68_first10"],
                  key=tables.setting_order)
  lines = ["| set-up | patches | T | " + " | ".join(
      f"held out, {k}" for k in kinds) + " | " + " | ".join(
          f"denoising {s}" for s in sigmas) + " |",
           "|" + "---|" * (3 + len(kinds) + len(sigmas))]
  for label, row in rows.items():
    lines.append(
        f"| {label} | {row['patches'] / 1000:.1f} k | {row['train_steps']} | "
        + " | ".join(f"{row['held_out_at_T'][k]:.2f}" for k in kinds) + " | "
        + " | ".join(f"{row['transfer_bsd68_first10'][s]:.2f}"
                     for s in sigmas) + " |")
  lines += ["", "Each row's command:", ""]
  for label, row in rows.items():
    lines.append(f"- {label}: `{row['command']}`")
  return lines + [""]


_RENDERERS = {"evaluation": _evaluation, "curves": _curves,
              "methods": _methods, "scores": _scores, "deblur_ab": _deblur_ab,
              "speed": _speed, "before_after": _before_after,
              "levin": _levin, "hypotheses": _hypotheses,
              "probe": _probe, "channels": _channels}


def _weights_line(section, results_dir):
  """The scored weights' sha256 against the shipped file's, for a section
  of a shipped model; [] otherwise. Raises ValueError if they differ."""
  if not section.shipped:
    return []
  from rim_tf import pretrained  # pylint: disable=g-import-not-at-top
  scored = _scored_sha256(results_dir, section.results)
  parts = []
  for method, name in section.shipped.items():
    digest = pretrained.sha256(name)[:12]
    if scored.get(method) != digest:
      raise ValueError(
          f"{section.results} was scored with weights of sha256 "
          f"{scored.get(method)} for {method}, not the shipped {name} "
          f"({digest}): evaluate the shipped model again.")
    parts.append(f"`{name}` (sha256 {digest}, the shipped file)")
  return ["Weights: " + ", ".join(parts) + ".", ""]


def _command_lines(command, width=88):
  """A long command broken before its flags, continued with backslashes;
  commands on lines of their own stay so."""
  if "\n" in command:
    return [line for part in command.split("\n")
            for line in _command_lines(part, width)]
  lines = [""]
  for word in command.split(" "):
    if lines[-1] and len(lines[-1]) + 1 + len(word) > width - 2 and (
        word.startswith("--")):
      lines.append("    ")
    lines[-1] += ("" if lines[-1].strip() == "" else " ") + word
  return [line + " \\" for line in lines[:-1]] + lines[-1:]


def render(results_dir):
  """The page's markdown, from the results files in `results_dir`."""
  lines = [TITLE, "", INTRO, ""]
  for section in SECTIONS:
    if section.title:
      lines += [f"## {section.title}", ""]
    if section.text:
      lines += [textwrap.fill(section.text, 88), ""]
    if section.command:
      lines += ["```bash"] + _command_lines(section.command) + ["```", ""]
    lines += _weights_line(section, results_dir)
    lines += _RENDERERS[section.render](section, results_dir)
  return "\n".join(lines).rstrip("\n") + "\n"


# The README's table of the shipped models: between these lines, written
# by `readme_table`.
README_BEGIN = ("<!-- The table below is written by "
                "experiments/results_tables.py from docs/results/. -->")
README_END = "<!-- End of the written table. -->"

# (model, test, results file, task, subset, method in it, settings, the
# baseline method and its name, the paper's row or None for a problem the
# paper has no table of).
_README_ROWS = (
    ("denoise_gray", "BSD68, sigma 15 / 25 / 50", "denoise_gray_bsd68.json",
     "denoise", "bsd68", "rim", ("sigma15", "sigma25", "sigma50"),
     ("bm3d", "BM3D"), "RIM-denoise"),
    ("superres", "BSD100, x2 / x3 / x4", "superres_bsd100.json", "superres",
     "bsd100", "rim", ("x2", "x3", "x4"), ("bicubic", "bicubic"), "RIM"),
    ("denoise_color", "BSD68, sigma 25, 8-bit quantized",
     "denoise_color_bsd68.json", "denoise_color", "bsd68",
     "aug6500_calibrated", ("sigma25_q8",), ("cbm3d", "CBM3D"), "RIM"),
    ("random_projections", "BSD68, sigma 15 / 25 / 50, as a denoiser "
     "(never trained for it)", "random_projections_bsd68.json", "denoise",
     "bsd68", "random_projections", ("sigma15", "sigma25", "sigma50"), None,
     "RIM-3task"),
    ("deblur", "BSD68, Levin et al.'s 8 kernels, sigma 2.55 / 7.65 (not in "
     "the paper)", "deblur_bsd68.json", "deblur", "bsd68", "rim",
     ("sigma2.55", "sigma7.65"), ("BM3D-deblur", "BM3D-deblurring"), None),
)


def readme_table(results_dir):
  """The README's table of the shipped models against their baselines and
  the paper's rows, PSNR in dB, with the marker lines around it."""
  from rim_tf import tasks  # pylint: disable=g-import-not-at-top
  lines = [README_BEGIN, "",
           "| model | test | ours | baseline (same run) | the paper's row |",
           "|---|---|---|---|---|"]
  for (model, test, name, task, subset, method, settings, baseline,
       paper_row) in _README_ROWS:
    results = _load(results_dir, name)
    cells = lambda by_setting: " / ".join(
        f"{by_setting[s]['psnr']:.2f}" for s in settings)
    paper = ""
    if paper_row:
      row = tasks.get(task).evaluation.paper_rows(subset)[paper_row]
      paper = f"{paper_row} " + " / ".join(f"{row[s]:.2f}" for s in settings)
    lines.append(
        f"| `{model}` | {test} | {cells(results[method])} | " +
        (f"{baseline[1]} {cells(results[baseline[0]])}" if baseline else "") +
        f" | {paper} |")
  return "\n".join(lines + ["", README_END])


def with_readme_table(text, results_dir):
  """The README's `text` with the table between its markers rewritten;
  ValueError if the markers are missing."""
  begin, end = text.find(README_BEGIN), text.find(README_END)
  if begin < 0 or end < begin:
    raise ValueError("the README has no results-table markers "
                     f"({README_BEGIN!r} ... {README_END!r}).")
  return text[:begin] + readme_table(results_dir) + text[end + len(
      README_END):]


def check(page, results_dir, readme=None):
  """[] if the markdown file `page` is what `render(results_dir)` writes
  (and `readme`'s table what `readme_table` writes), else one line saying
  where they first differ."""
  page = pathlib.Path(page)
  if readme is not None:
    readme = pathlib.Path(readme)
    text = readme.read_text()
    if with_readme_table(text, results_dir) != text:
      return [f"{readme}'s results table differs from the results files: "
              f"run experiments/results_tables.py."]
  if not page.exists():
    return [f"{page} does not exist: run experiments/results_tables.py."]
  expected = render(results_dir).splitlines()
  found = page.read_text().splitlines()
  for number, (want, got) in enumerate(zip(expected, found), 1):
    if want != got:
      return [f"{page}:{number} differs from the results files: it has "
              f"{got!r}, they give {want!r}."]
  if len(expected) != len(found):
    return [f"{page} has {len(found)} lines, the results files give "
            f"{len(expected)}."]
  return []
