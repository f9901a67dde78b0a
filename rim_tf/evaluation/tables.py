"""Results files and their tables: summaries with bootstrap SEMs, subsets,
markdown with the paper's rows beside ours.

The noise of an image depends on its id only, so the BSD68 table is the
restriction (`restrict`) of a run on all 100 test images, and one run
writes both.
"""

import json
import os
import re

import numpy as np

from rim_tf.data import bsds
from rim_tf import metrics
from rim_tf import tasks


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


def read_seconds_per_image(json_path):
  """{method: seconds} from the "Seconds per image:" line of the markdown
  `write_results` wrote beside JSON_PATH ({} without one)."""
  for line in markdown_lines(json_path):
    if line.startswith("Seconds per image:"):
      found = re.findall(r"([^\s,:]+) ([\d.]+)",
                         line[len("Seconds per image:"):])
      return {name: float(value) for name, value in found}
  return {}


def read_metadata(json_path):
  """{key: value} of the "- key: value" lines heading the markdown
  `write_results` wrote beside JSON_PATH ({} without one)."""
  metadata = {}
  for line in markdown_lines(json_path):
    if line.startswith("PSNR (dB)"):
      break
    if line.startswith("- ") and ": " in line:
      key, value = line[2:].split(": ", 1)
      metadata[key] = value
  return metadata


def scored_sha256(weights_line):
  """{RIM name: sha256 prefix} of the "- weights:" metadata line an
  evaluation writes ("name=FILE (step N, sha256 PREFIX), ...")."""
  return dict(re.findall(r"([^\s=,;]+)=[^=;]*?\(step [^,]*, sha256 (\w+)\)",
                         weights_line))


def markdown_lines(json_path):
  """The lines of the markdown beside the results JSON_PATH ([] without
  one)."""
  md_path = markdown_path(json_path)
  if not os.path.exists(md_path):
    return []
  with open(md_path, encoding="utf-8") as f:
    return f.read().splitlines()


def markdown_table(results, task, subset, metric="psnr"):
  """A markdown table of our results with the paper's numbers beside them,
  and other papers' (`Evaluation.published`) where they printed one of the
  settings, their sources below the table."""
  settings = sorted({s for r in results.values() for s in r},
                    key=setting_order)
  evaluation = tasks.get(task).evaluation
  paper = evaluation.paper_rows(subset, metric)
  published = {name: row for name, row in (
      evaluation.published.get(subset, {}) if metric == "psnr" else {}
  ).items() if any(s in row for s in settings)}
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
  for name, by_setting in published.items():
    cells = [fmt.format(by_setting[s]) if s in by_setting else ""
             for s in settings]
    lines.append(f"| {name} (published) | " + " | ".join(cells) + " |")
  if published:
    lines += ["", "Published rows: " + "; ".join(
        f"{name}, {evaluation.published_sources[name]}"
        for name in published) + "."]
  return "\n".join(lines)


def setting_order(setting):
  """Unquantized first, then by the setting's numbers: sigma15 < sigma25,
  sigma2.55 < sigma2.55_k1 < sigma2.55_k2 < sigma7.65."""
  quantized = setting.endswith("_q8")
  numbers = re.findall(r"\d+(?:\.\d+)?", setting.replace("_q8", ""))
  return (quantized, tuple(float(n) for n in numbers))


def images_ahead(mine, theirs):
  """"N / M": on how many of the M images of a setting's result `mine`
  scored a higher PSNR than `theirs` (results of the same images)."""
  ahead = sum(mine["per_image"][i] > theirs["per_image"][i]
              for i in mine["per_image"])
  return f"{ahead} / {len(mine['per_image'])}"


def comparison_table(results, task, subset, ours, paper_rim=None):
  """Markdown rows comparing method `ours` with every other method of the
  run (difference of the mean PSNRs, and on how many images it is ahead)
  and with the paper's rows of `task` (its `Evaluation.paper_bars`, then
  `paper_rim`, default the RIM the paper trained for `task`) when `ours`
  scored the whole `subset`, as the paper did; "" if there is nothing to
  compare."""
  settings = sorted(results[ours], key=setting_order)
  evaluation = tasks.get(task).evaluation
  paper_rows = evaluation.paper_bars + (paper_rim or evaluation.paper_rim,)
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
      wins.append(images_ahead(mine, theirs))
    lines.append(f"| {ours} − {other} (same run) | " + " | ".join(diffs) +
                 " |")
    lines.append(f"| images where {ours} beats {other} | " +
                 " | ".join(wins) + " |")
  for row in paper_rows:
    paper = evaluation.paper_rows(subset).get(row, {})
    if _is_whole(results[ours], subset) and any(s in paper for s in settings):
      lines.append(f"| {ours} − {row} (paper) | " + " | ".join(
          f"{results[ours][s]['psnr'] - paper[s]:+.2f}" if s in paper else ""
          for s in settings) + " |")
  if not lines:
    return ""
  return "\n".join(["| PSNR (dB) | " + " | ".join(settings) + " |",
                    "|" + "---|" * (len(settings) + 1)] + lines)


def partial_run_note(results, subset):
  """The sentence saying a run scored only some of `subset`'s images (so
  the paper's and published rows beside it are not compared), or ""."""
  first = next(iter(results.values()))
  if _is_whole(first, subset):
    return ""
  return (f"The paper's rows are over all {SUBSET_SIZES[subset]} images of "
          f"{subset}; this run scored "
          f"{len(next(iter(first.values()))['per_image'])}, so no "
          f"difference to them is taken.")


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
  caveat = partial_run_note(results, subset)
  if caveat:
    md += [caveat, ""]
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
  with open(markdown_path(json_path), "w", encoding="utf-8") as f:
    f.write(text)
  return text


def markdown_path(json_path):
  """NAME.json -> NAME.md (the markdown beside a results JSON)."""
  json_path = str(json_path)
  return (json_path[:-5] if json_path.endswith(".json") else
          json_path) + ".md"


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
