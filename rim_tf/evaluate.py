"""Full-image evaluation with the published conventions (paper Tables 1-3).

Denoising (Tables 1, 2): clean = BSDS300 test JPEG as uint8 (gray by MATLAB
rgb2gray, or RGB); noisy = clean / 255 + sigma / 255 * N(0, 1) with a seed
fixed per (image, sigma), unclipped, or clipped and rounded to 1/255 steps
for the 8-bit quantized variant; every method sees the same noisy image; the
score is PSNR on [0, 255] of the clipped, rounded estimate.

Super-resolution (Table 3, the protocol of Huang et al. 2015): HR = top-left
crop of the RGB test JPEG to a multiple of the scale; LR = uint8
imresize(HR, 1/s); scores on the Y channel of uint8 RGB, shaved by s.

Results: {method: {setting: {"psnr", "ssim", "psnr_sem", "ssim_sem", "n",
"per_image": {id: psnr}, "per_image_ssim": {id: ssim}}}} with settings
"sigma15", "sigma25_q8", "x2", ... The noise of an image depends on its id
only, so the BSD68 table is the restriction (`restrict`) of a run on all
100 test images, and one run writes both.
"""

import functools
import json
import os
import time
import zlib

import numpy as np
import tensorflow as tf
import tqdm

from rim_tf import baselines
from rim_tf import metrics
from rim_tf import operators
from rim_tf import pretrained
from rim_tf import restorer
from rim_tf.data import bsds
from rim_tf.data import corruptions
from rim_tf.data import patches as rim_patches

# Published numbers: paper Tables 1-3 (BM3D etc. as the paper quotes them).
PAPER = {
    "denoise": {
        "bsd68": {
            "BM3D": {"sigma15": 31.08, "sigma25": 28.56, "sigma50": 25.62,
                     "sigma25_q8": 28.31},
            "RIM-3task": {"sigma15": 31.19, "sigma25": 28.67, "sigma50": 25.78,
                          "sigma15_q8": 31.06, "sigma25_q8": 28.41,
                          "sigma50_q8": 24.86},
            "RIM-denoise": {"sigma15": 31.31, "sigma25": 28.91,
                            "sigma50": 26.06, "sigma15_q8": 31.25,
                            "sigma25_q8": 28.76, "sigma50_q8": 25.27},
        },
        "bsd100": {
            "BM3D": {"sigma25": 28.35, "sigma50": 25.45},
            "RIM-3task": {"sigma15": 30.98, "sigma25": 28.45, "sigma50": 25.59,
                          "sigma15_q8": 30.88, "sigma25_q8": 28.24,
                          "sigma50_q8": 24.73},
            "RIM-denoise": {"sigma15": 31.10, "sigma25": 28.72,
                            "sigma50": 25.88, "sigma15_q8": 31.05,
                            "sigma25_q8": 28.58, "sigma50_q8": 25.14},
        },
    },
    "denoise_color": {
        "bsd68": {"CBM3D": {"sigma25_q8": 30.18},
                  "RTF-5": {"sigma25_q8": 30.57},
                  "RIM": {"sigma25_q8": 30.84}},
        "bsd100": {"RIM": {"sigma25_q8": 30.67}},
    },
    "superres": {
        "bsd100": {
            "Bicubic": {"x2": 29.55, "x3": 27.20, "x4": 25.96},
            "SRCNN": {"x2": 31.11, "x3": 28.20, "x4": 26.70},
            "A+": {"x2": 31.22, "x3": 28.30, "x4": 26.82},
            "SelfExSR": {"x2": 31.18, "x3": 28.30, "x4": 26.85},
            "RIM": {"x2": 31.39, "x3": 28.51, "x4": 27.01},
        },
    },
}

PAPER_SSIM = {
    "superres": {
        "bsd100": {
            "Bicubic": {"x2": 0.8425, "x3": 0.7382, "x4": 0.6672},
            "SRCNN": {"x2": 0.8835, "x3": 0.7794, "x4": 0.7018},
            "RIM": {"x2": 0.8885, "x3": 0.7888, "x4": 0.7156},
        },
    },
}


def denoising_setting(sigma_255, quantized):
  """The setting name, e.g. "sigma25" or "sigma25_q8"."""
  return f"sigma{sigma_255:g}" + ("_q8" if quantized else "")


def noise_seed(seed, sigma_255, image_id):
  """The noise seed of one evaluation image: (run seed, sigma, crc32(id)).

  Keyed by the image's id, not its position, so the BSD68 and BSD100 runs
  (and any subset) give an image the same noise.
  """
  return (int(seed), int(sigma_255), zlib.crc32(str(image_id).encode()))


def noisy_image(clean_uint8, sigma_255, quantized, seed):
  """The evaluation's noisy image: float32 [H, W, C] on the [0, 1] scale.

  Args:
    clean_uint8: uint8 [H, W, C].
    sigma_255: noise std on [0, 255].
    quantized: clip and round to the 1/255 grid (8-bit quantized variant).
    seed: sequence of ints fixing the noise (e.g. (run seed, sigma, image)).
  """
  rng = np.random.default_rng(seed)
  noisy = metrics.add_gaussian_noise(
      np.asarray(clean_uint8, np.float32) / 255.0, sigma_255, rng)
  return metrics.quantize_8bit(noisy) if quantized else noisy


def summarize(per_image_psnr, per_image_ssim):
  """Mean PSNR / SSIM, bootstrap SEM (10,000 resamples), per-image values.

  Raises:
    ValueError: if a PSNR is not finite. PSNR is inf exactly when an estimate
      equals its reference after rounding to uint8; a mean (and a JSON
      number) over such values is undefined, and in these benchmarks it
      means the method saw the clean image.
  """
  ids = list(per_image_psnr)
  exact = [i for i in ids if not np.isfinite(per_image_psnr[i])]
  if exact:
    raise ValueError(
        f"PSNR is not finite for images {exact[:5]} (estimate identical to "
        f"the reference after rounding, or NaN); a mean PSNR over them is "
        f"undefined.")
  psnr = np.array([per_image_psnr[i] for i in ids])
  ssim = np.array([per_image_ssim[i] for i in ids])
  return {"psnr": float(psnr.mean()), "ssim": float(ssim.mean()),
          "psnr_sem": float(metrics.bootstrap_sem(psnr)),
          "ssim_sem": float(metrics.bootstrap_sem(ssim)), "n": len(ids),
          "per_image": {i: float(per_image_psnr[i]) for i in ids},
          "per_image_ssim": {i: float(per_image_ssim[i]) for i in ids}}


def restrict(results, ids):
  """`results` summarized over the images `ids` only (each in every entry).

  Raises:
    ValueError: if an entry lacks one of the ids.
  """
  ids = list(ids)
  restricted = {}
  for name, by_setting in results.items():
    restricted[name] = {}
    for setting, entry in by_setting.items():
      missing = [i for i in ids if i not in entry["per_image"]]
      if missing:
        raise ValueError(f"{name} at {setting} has no result for images "
                         f"{missing[:5]}.")
      restricted[name][setting] = summarize(
          {i: entry["per_image"][i] for i in ids},
          {i: entry["per_image_ssim"][i] for i in ids})
  return restricted


def evaluate_denoising(images, methods, sigmas=(15, 25, 50),
                       quantized=(False, True), seed=0, progress=True):
  """Denoising PSNR/SSIM of every method on every image and setting.

  Args:
    images: dict id -> clean uint8 [H, W, C].
    methods: dict name -> callable(noisy01 [H, W, C], sigma_255) -> float
      estimate [H, W, C] on [0, 1].
    sigmas: noise levels on [0, 255].
    quantized: which of the two variants to run.
    seed: base seed of the noise.

  Returns:
    (results, timing): results as in the module docstring; timing is
    {method: mean seconds per image}.
  """
  results = {name: {} for name in methods}
  seconds = {name: [] for name in methods}
  settings = [(s, q) for q in quantized for s in sigmas]
  bar = tqdm.tqdm(total=len(settings) * len(images) * len(methods),
                  disable=None if progress else True, unit="image")
  for sigma, quant in settings:
    setting = denoising_setting(sigma, quant)
    scores = {name: ({}, {}) for name in methods}
    for image_id, clean in images.items():
      noisy = noisy_image(clean, sigma, quant,
                          noise_seed(seed, sigma, image_id))
      for name, method in methods.items():
        start = time.perf_counter()
        estimate = method(noisy, sigma)
        seconds[name].append(time.perf_counter() - start)
        if np.shape(estimate) != clean.shape:
          raise ValueError(f"method {name!r} returned shape "
                           f"{np.shape(estimate)} for an image of shape "
                           f"{clean.shape}.")
        estimate_uint8 = metrics.to_uint8(estimate)
        scores[name][0][image_id] = _finite_psnr(
            metrics.psnr_255(estimate_uint8, clean), name, image_id, setting)
        scores[name][1][image_id] = _mean_channel_ssim(estimate_uint8, clean)
        bar.update(1)
    for name in methods:
      results[name][setting] = summarize(*scores[name])
  bar.close()
  return results, {n: float(np.mean(s)) for n, s in seconds.items()}


def _finite_psnr(psnr, name, image_id, setting):
  """`psnr`, or a ValueError at once (not after the whole run) if it is inf."""
  if not np.isfinite(psnr):
    raise ValueError(
        f"method {name!r} reproduced image {image_id} exactly at {setting} "
        f"(PSNR = {psnr}): the mean PSNR and its SEM would be undefined. A "
        f"restoration method should never see the clean image.")
  return psnr


def _mean_channel_ssim(estimate_uint8, clean_uint8):
  return float(np.mean([
      metrics.ssim_255(estimate_uint8[..., c], clean_uint8[..., c])
      for c in range(clean_uint8.shape[-1])]))


def superres_pair(image_uint8, scale):
  """(HR, LR) of the Huang et al. protocol: HR cropped to a multiple of s."""
  height = image_uint8.shape[0] - image_uint8.shape[0] % scale
  width = image_uint8.shape[1] - image_uint8.shape[1] % scale
  high = np.ascontiguousarray(image_uint8[:height, :width])
  return high, operators.imresize(high, 1.0 / scale)


def evaluate_superres(images, methods, scales=(2, 3, 4), progress=True):
  """Super-resolution PSNR/SSIM (Y channel, shaved by s) of every method.

  Args:
    images: dict id -> uint8 RGB [H, W, 3] (or gray [H, W, 1]).
    methods: dict name -> callable(low_uint8, scale) -> uint8 HR estimate.
    scales: the factors.

  Returns:
    (results, timing) as `evaluate_denoising`.
  """
  results = {name: {} for name in methods}
  seconds = {name: [] for name in methods}
  bar = tqdm.tqdm(total=len(scales) * len(images) * len(methods),
                  disable=None if progress else True, unit="image")
  for scale in scales:
    scores = {name: ({}, {}) for name in methods}
    for image_id, image in images.items():
      high, low = superres_pair(image, scale)
      for name, method in methods.items():
        start = time.perf_counter()
        estimate = method(low, scale)
        seconds[name].append(time.perf_counter() - start)
        if estimate.shape != high.shape:
          raise ValueError(f"method {name!r} returned shape {estimate.shape} "
                           f"for an HR image of shape {high.shape}.")
        psnr, ssim = metrics.superres_metrics(estimate, high, scale)
        scores[name][0][image_id] = _finite_psnr(psnr, name, image_id,
                                                 f"x{scale}")
        scores[name][1][image_id] = ssim
        bar.update(1)
    for name in methods:
      results[name][f"x{scale}"] = summarize(*scores[name])
  bar.close()
  return results, {n: float(np.mean(s)) for n, s in seconds.items()}


def baseline_methods(task, names):
  """The classical methods among `names` for `task` (name -> callable)."""
  methods = {}
  for name in names:
    if name == "bm3d" and task == "denoise":
      methods["bm3d"] = baselines.bm3d_denoise
    elif name == "bm3d" and task == "denoise_color":
      methods["cbm3d"] = baselines.cbm3d_denoise
    elif name == "bicubic" and task == "superres":
      methods["bicubic"] = baselines.bicubic_upscale_uint8
    elif name != "rim":
      raise ValueError(f"method {name!r} does not apply to task {task!r}.")
  return methods


def markdown_table(results, task, subset, metric="psnr"):
  """A markdown table of our results with the paper's numbers beside them."""
  settings = sorted({s for r in results.values() for s in r},
                    key=_setting_order)
  paper = (PAPER if metric == "psnr" else PAPER_SSIM).get(task, {}).get(
      subset, {})
  header = ["method"] + settings
  lines = ["| " + " | ".join(header) + " |",
           "|" + "---|" * len(header)]
  fmt = "{:.2f}" if metric == "psnr" else "{:.4f}"
  for name, by_setting in results.items():
    cells = []
    for s in settings:
      if s not in by_setting:
        cells.append("")
        continue
      r = by_setting[s]
      cells.append(fmt.format(r[metric]) + " ± " +
                   fmt.format(r[f"{metric}_sem"]))
    lines.append(f"| {name} (ours) | " + " | ".join(cells) + " |")
  for name, by_setting in paper.items():
    cells = [fmt.format(by_setting[s]) if s in by_setting else ""
             for s in settings]
    lines.append(f"| {name} (paper) | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def _setting_order(setting):
  quantized = setting.endswith("_q8")
  digits = "".join(ch for ch in setting if ch.isdigit())
  return (quantized, int(digits) if digits else 0)


# The paper's row of the RIM trained for each task (Tables 1-3).
PAPER_RIM = {"denoise": "RIM-denoise", "denoise_color": "RIM",
             "superres": "RIM"}
# Other rows of the paper a RIM is measured against, before its own: the
# learned super-resolution method the paper's RIM is compared with first.
PAPER_BARS = {"superres": ("SRCNN",)}


def comparison_table(results, task, subset, ours, paper_rim=None):
  """Markdown rows comparing method `ours` with every other method of the
  run (difference of the mean PSNRs, and on how many images it is ahead)
  and with the paper's rows `PAPER_BARS[task]` and `paper_rim` (default:
  the RIM the paper trained for `task`) when `ours` scored the whole
  `subset`, as the paper did; "" if there is nothing to compare."""
  settings = sorted(results[ours], key=_setting_order)
  paper_rows = PAPER_BARS.get(task, ()) + (paper_rim or PAPER_RIM.get(task),)
  lines = []
  for other in results:
    if other == ours:
      continue
    diffs, wins = [], []
    for s in settings:
      mine, theirs = results[ours][s], results[other].get(s)
      if theirs is None:
        diffs.append("")
        wins.append("")
        continue
      diffs.append(f"{mine['psnr'] - theirs['psnr']:+.2f}")
      ahead = sum(mine["per_image"][i] > theirs["per_image"][i]
                  for i in mine["per_image"])
      wins.append(f"{ahead} / {len(mine['per_image'])}")
    lines.append(f"| {ours} − {other} (same run) | " + " | ".join(diffs) +
                 " |")
    lines.append(f"| images where {ours} beats {other} | " +
                 " | ".join(wins) + " |")
  for row in paper_rows:
    paper = PAPER.get(task, {}).get(subset, {}).get(row, {})
    if _is_whole(results[ours], subset) and any(s in paper for s in settings):
      lines.append(f"| {ours} − {row} (paper) | " + " | ".join(
          f"{results[ours][s]['psnr'] - paper[s]:+.2f}" if s in paper else ""
          for s in settings) + " |")
  if not lines:
    return ""
  return "\n".join(["| PSNR (dB) | " + " | ".join(settings) + " |",
                    "|" + "---|" * (len(settings) + 1)] + lines)


def gap_by_difficulty(results, ours, other, groups=4):
  """Markdown rows of the mean per-image PSNR difference `ours` − `other`
  within groups of images ranked by `other`'s PSNR in each setting (the
  first group its lowest-PSNR, i.e. hardest, images): where in the range of
  image difficulty one method gains on the other. The groups are
  `np.array_split`s of the ranking, so their sizes differ by at most one."""
  if groups < 1:
    raise ValueError(f"groups must be >= 1, got {groups!r}.")
  settings = sorted(set(results[ours]) & set(results[other]),
                    key=_setting_order)
  if not settings:
    raise ValueError(f"{ours!r} and {other!r} share no setting.")
  columns = []
  for s in settings:
    mine, theirs = (results[ours][s]["per_image"],
                    results[other][s]["per_image"])
    if set(mine) != set(theirs):
      raise ValueError(f"{ours!r} and {other!r} scored different images in "
                       f"{s}.")
    if len(mine) < groups:
      raise ValueError(f"{s} has {len(mine)} images, fewer than {groups} "
                       "groups.")
    ranked = sorted(theirs, key=lambda i: (theirs[i], i))
    columns.append([np.mean([mine[i] - theirs[i] for i in part])
                    for part in np.array_split(np.array(ranked), groups)])
  lines = ["| mean PSNR difference (dB), images ranked by " + other +
           "'s PSNR | " + " | ".join(settings) + " |",
           "|" + "---|" * (len(settings) + 1)]
  for g in range(groups):
    extreme = ("" if groups == 1 else " (hardest)" if g == 0 else
               " (easiest)" if g == groups - 1 else "")
    lines.append(f"| {ours} − {other}, group {g + 1} / {groups}{extreme} | " +
                 " | ".join(f"{c[g]:+.2f}" for c in columns) + " |")
  return "\n".join(lines)


def write_results(results, timing, path, task, subset, metadata=None,
                  ours=None, paper_rim=None):
  """Writes the JSON results and, beside it, the markdown tables (.md);
  with `ours` (a method of `results`) also its `comparison_table` (against
  the other methods and the paper's rows, `paper_rim` for its RIM)."""
  payload = dict(results)
  with open(path, "w", encoding="utf-8") as f:
    json.dump(payload, f, indent=1, sort_keys=True)
  md = [f"# {task} on {subset}", ""]
  if metadata:
    md += [f"- {k}: {v}" for k, v in metadata.items()] + [""]
  md += ["PSNR (dB), mean ± bootstrap SEM:", "",
         markdown_table(results, task, subset, "psnr"), ""]
  first = next(iter(results.values()))
  if not _is_whole(first, subset):
    md += [f"The paper's rows are over all {SUBSET_SIZES[subset]} images of "
           f"{subset}; this run scored "
           f"{len(next(iter(first.values()))['per_image'])}, so no "
           f"difference to them is taken.", ""]
  comparison = (comparison_table(results, task, subset, ours, paper_rim)
                if ours else "")
  if comparison:
    md += ["Differences of the mean PSNRs (unrounded means):", "",
           comparison, ""]
  md += ["SSIM:", "", markdown_table(results, task, subset, "ssim"), "",
         "Seconds per image: " + ", ".join(
             f"{k} {v:.2f}" for k, v in timing.items())]
  return _write_markdown(path, "\n".join(md) + "\n")


def _write_markdown(json_path, text):
  """Writes `text` beside the results JSON_PATH (NAME.json -> NAME.md) and
  returns it."""
  json_path = str(json_path)
  md_path = (json_path[:-5] if json_path.endswith(".json") else
             json_path) + ".md"
  with open(md_path, "w", encoding="utf-8") as f:
    f.write(text)
  return text


# The paper's test sets and their sizes.
SUBSET_SIZES = {"bsd68": 68, "bsd100": 100}
SUBSETS = tuple(SUBSET_SIZES)


def _is_whole(by_setting, subset):
  """Whether one method's results {setting: result} cover all of `subset`."""
  return all(len(r["per_image"]) == SUBSET_SIZES[subset]
             for r in by_setting.values())


def subset_ids(subset, ids):
  """The ids of `subset` ("bsd68" or "bsd100") among the test ids `ids`, in
  the order a run on that subset alone takes them (the bootstrap SEM
  depends on the order)."""
  if subset == "bsd100":
    return list(ids)
  if subset == "bsd68":
    present = set(ids)
    return [i for i in bsds.BSD68 if i in present]
  raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}.")


def output_paths(output, subsets):
  """{subset: path}; with several subsets `output` must hold "{subset}"."""
  subsets = list(subsets)
  if not subsets or any(s not in SUBSETS for s in subsets):
    raise ValueError(f"subsets must be among {SUBSETS}, got {subsets}.")
  if len(subsets) > 1 and "{subset}" not in str(output):
    raise ValueError(
        f"with several subsets ({subsets}) the output path must contain "
        f"{{subset}} (e.g. results_{{subset}}.json), got {output!r}.")
  paths = {s: str(output).replace("{subset}", s) for s in subsets}
  for path in paths.values():
    check_output_folder(path)
  return paths


def check_output_folder(path):
  """Raises before an evaluation, not after it, if the folder that is to
  hold the results file `path` does not exist."""
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(folder):
    raise FileNotFoundError(f"the folder of the output {path!r} does not "
                            f"exist: create {folder} first.")


def run_evaluation(task, methods, subsets, output, data_dir=None,
                   weights=None, rim_name="rim", steps=None,
                   sigmas=(15, 25, 50), quantized=(False, True),
                   scales=(2, 3, 4), num_images=None, seed=0, command=None,
                   ratio=0.25, paper_rim=None):
  """Loads the test images and methods, evaluates, writes JSON + markdown.

  The one entry point of `experiments/evaluate.py` and `make evaluate`.
  `subsets`: "bsd68" and/or "bsd100"; the images of their union are
  evaluated once and each subset's tables written to `output` with
  "{subset}" replaced. `num_images` takes the first images of that union
  (with "bsd100", of all 100; each subset keeps its share). `weights` and
  `rim_name` may be comma lists (one name per RIM); the tables compare the
  first RIM with every other method and with the paper's rows (`PAPER_BARS`,
  and `paper_rim`, default the paper's RIM for `task`); `steps` applies to
  every RIM. For task "random_projections" the output holds Figure 2's
  curves of the RIMs (e.g. RIM,GDN,FFN) on `num_images` (default
  `FIGURE2_PATCHES`) test patches at `ratio`.
  Returns the markdown reports, joined.
  """
  if isinstance(subsets, str):
    subsets = [subsets]
  if num_images is not None and num_images < 1:
    raise ValueError(f"num_images must be >= 1 (None for all), got "
                     f"{num_images}.")
  if task == "random_projections":
    if not weights:
      raise ValueError("task 'random_projections' needs --weights (a comma "
                       "list of shipped names or .weights.h5 paths).")
    return _run_projection_curves(output, data_dir, weights, rim_name, steps,
                                  num_images, seed, ratio, command)
  paths = output_paths(output, subsets)
  if paper_rim is not None and not any(
      paper_rim in rows for rows in PAPER.get(task, {}).values()):
    known = sorted({row for rows in PAPER.get(task, {}).values()
                    for row in rows})
    raise ValueError(f"the paper has no row {paper_rim!r} for task "
                     f"{task!r}; its rows: {known}.")
  if "rim" in methods and not weights:
    raise ValueError("method 'rim' needs --weights (a shipped name or a "
                     ".weights.h5 path).")
  chosen = baseline_methods(task, methods)
  named = _named_weights(weights, rim_name) if "rim" in methods else {}
  taken = sorted(set(named) & set(chosen))
  if taken:
    raise ValueError(f"RIM names {taken} are also baseline methods' names.")
  gray = task == "denoise"
  images = bsds.load_images(
      "test", gray=gray, data_dir=data_dir,
      subset=None if "bsd100" in paths else "bsd68")
  if num_images is not None:
    images = dict(list(images.items())[:num_images])
  ids = {subset: subset_ids(subset, images) for subset in paths}
  empty = [subset for subset, chosen_ids in ids.items() if not chosen_ids]
  if empty:
    raise ValueError(f"none of the {len(images)} images evaluated is in "
                     f"{empty}; evaluate more images (--num_images).")
  metadata = {"command": command or ""}
  ours = None
  if named:
    rims = {name: restorer.Restorer.from_weights(path, steps)[0]
            for name, path in named.items()}
    chosen = {**{name: (rim.superres_uint8 if task == "superres"
                        else rim.denoise) for name, rim in rims.items()},
              **chosen}
    ours = next(iter(rims))
    metadata.update(weights=_weights_line(named),
                    rim_steps=", ".join(f"{name}={rim.steps}"
                                        for name, rim in rims.items()))
    if task != "superres":
      metadata["rim_start"] = ", ".join(
          f"{name}={rim.denoise_operator.start}"
          for name, rim in rims.items())
  if task == "superres":
    results, timing = evaluate_superres(images, chosen, scales)
  else:
    results, timing = evaluate_denoising(images, chosen, sigmas, quantized,
                                         seed)
  reports = []
  for subset, path in paths.items():
    reports.append(write_results(
        restrict(results, ids[subset]), timing, path, task, subset,
        {**metadata, "images": len(ids[subset])}, ours=ours,
        paper_rim=paper_rim))
  return "\n\n".join(reports)


def test_patches(images, count, patch_size=32, seed=0):
  """`count` random patches (float32 [count, P, P, C]) of test images, none
  of them constant.

  A constant patch (saturated sky: 12 of 5000 BSDS300 test patches) is no
  test: the flat initial estimate of a random projection clips to it
  exactly, and an exact estimate's PSNR is infinite, which would make a
  mean over patches infinite too.

  Raises:
    ValueError: `count` < 1, or the images hold fewer than `count`
      patches that vary.
  """
  if count < 1:
    raise ValueError(f"the number of test patches must be >= 1, got "
                     f"{count}.")
  table = rim_patches.PatchDataset(images, patch_size=patch_size, stride=1,
                                   num_validation=0, seed=seed)
  order = np.random.default_rng(seed).permutation(table.num_train)
  found, total = [], 0
  for start in range(0, table.num_train, count):
    batch = table.patches_at(
        table.train_coordinates[np.sort(order[start:start + count])])
    batch = batch[np.ptp(batch.reshape(len(batch), -1), axis=1) > 0]
    found.append(batch)
    total += len(batch)
    if total >= count:
      return np.concatenate(found)[:count]
  raise ValueError(f"the {len(images)} test images hold {total} patches of "
                   f"{patch_size}² that are not constant; {count} asked.")


def evaluate_random_projections(models, patches, kinds=("gaussian", "binary",
                                                        "fourier"),
                                ratio=0.25, noise_sigma=1.0, steps=50,
                                batch_size=250, seed=0):
  """PSNR over RIM steps 0..T on noisy random projections (paper Figure 2).

  Step 0 is the initial estimate. Every model sees the same operators and
  noise (seeded per kind and batch).

  Args:
    models: dict name -> RIM (gray).
    patches: float32 [n, P, P, 1] clean test patches.
    kinds: projection ensembles.
    ratio: p = m / d.
    noise_sigma: noise std in measurement units (1 in the paper).
    steps: T.

  Returns:
    {name: {kind: {"mean": [T + 1], "std": [T + 1], "n": n}}}, PSNR in dB
    (peak 1) of each patch, mean and standard deviation over patches.
  """
  shape = tuple(patches.shape[1:])
  d = int(np.prod(shape))
  signature = [tf.TensorSpec([None, None], tf.float32),
               tf.TensorSpec([None, None, d], tf.float32),
               tf.TensorSpec([None], tf.float32)]

  def runner(model):
    def run(y, matrix, sigma):
      operator = operators.MatrixProjection(matrix, shape)
      return model(y, operator=operator, sigma=sigma, steps=steps)[0]
    return tf.function(run, input_signature=signature)

  runners = {name: runner(model) for name, model in models.items()}
  results = {name: {} for name in models}
  for k, kind in enumerate(kinds):
    corruption = corruptions.RandomProjections((kind,), (ratio,), noise_sigma)
    curves = {name: [] for name in models}
    for start in range(0, len(patches), batch_size):
      batch = corruption({"x": tf.constant(patches[start:start + batch_size])},
                         tf.constant([seed * 1000 + k, start], tf.int64))
      operator = operators.MatrixProjection(batch["matrix"], shape)
      x0 = operator.initial_estimate(batch["y"])
      for name, run in runners.items():
        estimates = run(batch["y"], batch["matrix"], batch["sigma"])
        per_step = [metrics.psnr_tf(x0, batch["x"])] + [
            metrics.psnr_tf(e, batch["x"]) for e in tf.unstack(estimates)]
        curves[name].append(tf.stack(per_step, axis=1).numpy())
    for name in models:
      values = np.concatenate(curves[name])
      results[name][kind] = {"mean": values.mean(0).tolist(),
                             "std": values.std(0).tolist(),
                             "n": int(len(values))}
  return results


def _named_weights(weights, names):
  """{name: weights path or shipped name} of comma lists (or sequences) of
  names and weights."""
  if isinstance(weights, os.PathLike):
    weights = [weights]  # One path, whatever characters it holds.
  elif isinstance(weights, str):
    weights = weights.split(",")
  if isinstance(names, str):
    names = names.split(",")
  weights = [os.fspath(w).strip() for w in weights]
  names = [n.strip() for n in names]
  if len(names) != len(weights):
    raise ValueError(f"give one name per weights file: {names} vs {weights}.")
  if len(set(names)) != len(names):
    raise ValueError(f"the RIMs' names must differ, got {names}.")
  return dict(zip(names, weights))


def _weights_line(named):
  """The tables' "weights" line: each RIM's name, path, export step and
  sha256 (its first 12 digits), which say which weights scored."""
  parts = []
  for name, path in named.items():
    known = pretrained.provenance(path)
    parts.append(f"{name}={path} (step {known['step']}, sha256 "
                 f"{known['sha256'][:12]})")
  return ", ".join(parts)


# Figure 2's test patches: "5000 random patches from the BSD-300 test set".
FIGURE2_PATCHES = 5000


def _run_projection_curves(output, data_dir, weights, names, steps,
                           num_patches, seed, ratio, command):
  """Figure 2's data: curves of several RIMs written as JSON to `output`,
  and their `curves_table` beside it (.md); returns the markdown."""
  check_output_folder(output)
  named = _named_weights(weights, names)
  models, train_steps = {}, {}
  for name, path in named.items():
    models[name], config = pretrained.load(path)
    train_steps[name] = config.trainer.rim_steps
  if len(set(train_steps.values())) > 1:
    raise ValueError(f"Figure 2 marks one training T; these RIMs were "
                     f"trained with different ones: {train_steps}.")
  train_steps = next(iter(train_steps.values()))
  images = bsds.load_images("test", gray=True, data_dir=data_dir)
  patches = test_patches(
      images, FIGURE2_PATCHES if num_patches is None else num_patches,
      seed=seed)
  curves = evaluate_random_projections(models, patches, ratio=ratio,
                                       steps=50 if steps is None else steps,
                                       seed=seed)
  payload = {"curves": curves, "train_steps": train_steps, "ratio": ratio,
             "weights": named,
             "provenance": {name: pretrained.provenance(path)
                            for name, path in named.items()}}
  with open(output, "w", encoding="utf-8") as f:
    json.dump(payload, f)
  md = [f"# random_projections on {len(patches)} test patches", "",
        f"- command: {command or ''}", f"- weights: {_weights_line(named)}",
        f"- ratio: {ratio}, training T: {train_steps}", "",
        "Mean PSNR (dB) over the patches:", "", curves_table(payload)]
  return _write_markdown(output, "\n".join(md) + "\n")


# Figure 2's table: the steps shown (with the training T, and those the
# curves reach), as in docs/results.md.
CURVE_TABLE_STEPS = (0, 1, 5, 10, 20, 30, 50)
# The random-projection ensembles' names in tables and figures.
ENSEMBLE_NAMES = {"gaussian": "Gaussian", "binary": "Binary",
                  "fourier": "Fourier"}


def curves_table(saved, steps=CURVE_TABLE_STEPS):
  """Figure 2's numbers as a markdown table.

  Args:
    saved: the curves JSON of task random_projections (`load_curves`):
      {"curves": {model: {kind: {"mean": [T + 1], ...}}}, "train_steps": T}.
    steps: the steps shown; the training T is added, steps past the curves'
      end are left out.

  Returns:
    One row per ensemble and model (the curves' order), one column per step
    and the mean over steps 1..end; in each ensemble the best model of a
    column is bold (from step 1 on: step 0 is every model's shared start).
  """
  curves, train_steps = saved["curves"], saved["train_steps"]
  first = next(iter(curves.values()))
  kinds = list(first)
  last = len(first[kinds[0]]["mean"]) - 1
  shown = sorted({s for s in (*steps, train_steps) if 0 <= s <= last})
  header = [f"step {s}" if s == 0 else f"{s} (= T)" if s == train_steps
            else str(s) for s in shown] + [f"mean of steps 1–{last}"]
  lines = ["| model, ensemble | " + " | ".join(header) + " |",
           "|" + "---|" * (len(header) + 1)]
  for kind in kinds:
    rows = {name: [f"{by_kind[kind]['mean'][s]:.2f}" for s in shown] +
                  [f"{np.mean(by_kind[kind]['mean'][1:]):.2f}"]
            for name, by_kind in curves.items()}
    best = [max(float(cells[i]) for cells in rows.values())
            for i in range(len(header))]
    for name, cells in rows.items():
      cells = [f"**{c}**" if len(rows) > 1 and float(c) == best[i]
               and not (i == 0 and shown[0] == 0) else c
               for i, c in enumerate(cells)]
      lines.append(f"| {name}, {ENSEMBLE_NAMES.get(kind, kind)} | " +
                   " | ".join(cells) + " |")
  return "\n".join(lines)


def load_curves(path):
  """The curves JSON that task random_projections writes (Figure 2's data).

  Raises:
    ValueError: no path, or the file is not such a JSON.
  """
  if not path:
    raise ValueError("figure 2 needs --results (the curves JSON of "
                     "experiments/evaluate.py --task=random_projections).")
  with open(path, encoding="utf-8") as f:
    saved = json.load(f)
  missing = sorted({"curves", "train_steps", "ratio"} - set(saved))
  if missing:
    raise ValueError(f"{path} is not a curves JSON of task "
                     f"random_projections: it lacks {missing}.")
  return saved


# Which table and baseline each shipped model's task is measured with.
_SHIPPED_PROTOCOL = {
    "denoise": ("denoise", ["rim", "bm3d"], {}),
    "denoise_color": ("denoise_color", ["rim", "bm3d"],
                      {"sigmas": (25,), "quantized": (True,)}),
    "superres": ("superres", ["rim", "bicubic"], {}),
    # The 3-task RIM's row of Table 2 is denoising it was never trained on
    # (its start and T are its task's `denoise_start`, `denoise_steps`).
    "random_projections": ("denoise", ["rim"], {"paper_rim": "RIM-3task"}),
}
# Figure 2's name of a random-projection model, by its cell's ablation.
FIGURE2_NAMES = {None: "RIM", "gdn": "GDN", "ffn": "FFN"}


def evaluate_shipped(output_dir, data_dir=None, num_images=None,
                     command=None):
  """Evaluates every shipped RIM against its baseline (`make evaluate`).

  Writes OUTPUT_DIR/NAME_SUBSET.json and .md for each shipped model and
  subset (BSD68 and all 100 for denoising, BSD100 for super-resolution;
  of the random-projection models only the full RIM, its Table 2 row),
  and with random-projection models shipped Figure 2 of all of them:
  OUTPUT_DIR/figure2_curves.json, its table figure2_curves.md and
  figure2.png (`num_images` is then also the number of test patches).
  Returns the reports joined.

  The whole takes hours on a CPU, so it resumes: each model's tables and
  Figure 2 leave a stamp (OUTPUT_DIR/NAME.done, figure2.done) of the
  weights' sha256 and `num_images` they ran with, and a rerun skips what
  its stamp says is done with the same weights and images.

  Raises:
    ValueError: nothing is shipped, or two random-projection models have
      the same cell (Figure 2 names them by it).
  """
  os.makedirs(output_dir, exist_ok=True)
  names = pretrained.shipped()
  if not names:
    raise ValueError("no weights are shipped in rim_tf/pretrained yet.")
  shipped_configs = {name: pretrained.config(name) for name in names}
  projections = {}  # Figure 2 name -> shipped name.
  for name, config in shipped_configs.items():
    if config.task == "random_projections":
      label = FIGURE2_NAMES[config.model.ablation]
      if label in projections:
        raise ValueError(
            f"two shipped random-projection models are {label}s "
            f"({projections[label]}, {name}); Figure 2 takes one of each.")
      projections[label] = name
  # The figure's order whatever the file names: RIM, GDN, FFN.
  projections = {label: projections[label] for label in FIGURE2_NAMES.values()
                 if label in projections}
  reports = []
  for name, config in shipped_configs.items():
    if config.task == "random_projections" and config.model.ablation:
      continue  # The ablations are Figure 2's only.
    task, methods, options = _SHIPPED_PROTOCOL[config.task]
    subsets = ("bsd100",) if task == "superres" else ("bsd68", "bsd100")
    reports.append(_run_once(
        os.path.join(output_dir, f"{name}.done"), [name], num_images,
        functools.partial(
            run_evaluation, task, methods, subsets,
            os.path.join(output_dir, f"{name}_{{subset}}.json"),
            data_dir=data_dir, weights=name, rim_name=name,
            num_images=num_images, command=command, **options)))
  if projections:
    reports.append(_run_once(
        os.path.join(output_dir, "figure2.done"), list(projections.values()),
        num_images, functools.partial(_shipped_figure2, output_dir,
                                      projections, data_dir, num_images,
                                      command)))
  return "\n\n".join(reports)


def _shipped_figure2(output_dir, projections, data_dir, num_images, command):
  """Figure 2 of the shipped {label: name} random-projection models."""
  # plots imports this module.
  from rim_tf import plots  # pylint: disable=g-import-not-at-top
  curves = os.path.join(output_dir, "figure2_curves.json")
  report = run_evaluation(
      "random_projections", ["rim"], (), curves, data_dir=data_dir,
      weights=list(projections.values()), rim_name=list(projections),
      num_images=num_images, command=command)
  plots.figure2_from_results(curves, os.path.join(output_dir, "figure2.png"))
  return report


def _run_once(stamp_path, weights, num_images, run):
  """`run()`'s report, or a note that STAMP_PATH records it done with these
  weights (their sha256) and `num_images`; writes the stamp after a run."""
  stamp = json.dumps({"num_images": num_images, "weights_sha256": {
      name: pretrained.sha256(name) for name in weights}}, sort_keys=True)
  if os.path.exists(stamp_path):
    with open(stamp_path, encoding="utf-8") as f:
      if f.read() == stamp:
        return (f"{', '.join(weights)}: done with these weights "
                f"({stamp_path}; delete it to evaluate again).")
  report = run()
  with open(stamp_path, "w", encoding="utf-8") as f:
    f.write(stamp)
  return report
