"""Evaluations of parts of the same test images joined into one results file.

BM3D-deblurring takes hours on Levin et al.'s benchmark, so its evaluation
runs in slices of the test set (`evaluate.py --first_image --num_images`),
on several machines or sessions, and the RIM in a run of its own. Each
image's input depends on its id alone, so the parts' per-image values join
into the run on their union (`combine`); `combine_files` does it for
results files and writes the combination as an evaluation would
(`experiments/combine_results.py`).

    report = combine_files(["rim.json", "bm3d_*.json"], "deblur_bsd68.json")
"""

import glob
import json
import os
import re

from rim_tf.data import bsds
from rim_tf.evaluation import tables


def combine(parts, subset):
  """One run's results from runs on parts of the same test images.

  The parts are slices of one evaluation (`evaluate.py --first_image
  --num_images`, e.g. a baseline that takes hours, spread over machines)
  or other methods on the same images. Each image's input depends on its
  id alone, so a method's per-image values are joined across parts and
  summarized again in the order a whole run takes the images (BSD68's
  list, or the 100 ids by number): means and bootstrap SEMs are the whole
  run's. For BSD68, parts run on all 100 test images give their BSD68
  images.

  Args:
    parts: list of (name, results, seconds): a name for messages (its
      file), {method: {setting: summary}} as `tables.summarize` makes them, and
      {method: seconds per image}.
    subset: "bsd68" or "bsd100".

  Returns:
    (results, seconds): seconds per image weighted by each part's images.

  Raises:
    ValueError: a method has other settings in one part than in another,
      a part has a setting without an image, the same method, setting and
      image score differently in two parts (their inputs or code differ),
      the methods do not all cover the same images, or no part has an
      image of `subset`.
  """
  psnr, ssim, settings, timed, source = {}, {}, {}, {}, {}
  for part, results, seconds in parts:
    for name, by_setting in results.items():
      first = source.setdefault(name, part)
      if settings.setdefault(name, set(by_setting)) != set(by_setting):
        raise ValueError(
            f"method {name!r} has settings {sorted(by_setting)} in {part} "
            f"but {sorted(settings[name])} in {first}.")
      for setting, entry in by_setting.items():
        if not entry["per_image"]:
          raise ValueError(f"{part} has no image for {name!r} at "
                           f"{setting}.")
        for target, values in ((psnr, entry["per_image"]),
                               (ssim, entry["per_image_ssim"])):
          joined = target.setdefault(name, {}).setdefault(setting, {})
          for image_id, value in values.items():
            if image_id in joined and abs(joined[image_id][0] - value) > 1e-6:
              raise ValueError(
                  f"{name!r} at {setting} scores image {image_id} "
                  f"{joined[image_id][0]:.4f} in {joined[image_id][1]} and "
                  f"{value:.4f} in {part}: their inputs or code differ.")
            joined.setdefault(image_id, (value, part))
      if name in seconds:
        images = len(next(iter(by_setting.values()))["per_image"])
        timed.setdefault(name, []).append((seconds[name], images))
  for by_setting in (*psnr.values(), *ssim.values()):
    for setting, values in by_setting.items():
      # A part may have run on all 100 images: BSD68 keeps its own.
      by_setting[setting] = {i: v for i, (v, _) in values.items()
                             if subset != "bsd68" or i in bsds.BSD68}
  everything = set()
  for by_setting in psnr.values():
    everything.update(*by_setting.values())
  if not everything:
    raise ValueError(f"no part has an image of {subset}.")
  for name, by_setting in psnr.items():
    for setting, values in by_setting.items():
      missing = sorted(everything - set(values), key=int)
      if missing:
        raise ValueError(f"{name!r} at {setting} has no result for images "
                         f"{missing[:5]}, which other parts scored.")
  order = tables.subset_ids(subset, sorted(everything, key=int))
  combined = {name: {setting: tables.summarize(
      {i: values[i] for i in order}, {i: ssim[name][setting][i] for i in order})
      for setting, values in by_setting.items()}
      for name, by_setting in psnr.items()}
  seconds = {name: sum(s * n for s, n in pairs) / sum(n for _, n in pairs)
             for name, pairs in timed.items()}
  return combined, seconds


def read_part(json_path):
  """(results, seconds per image, metadata) of an evaluation written by
  `write_results`: its JSON, and the "- key: value" lines, the heading's
  task and subset ("task", "subset") and the "Seconds per image:" line of
  the markdown beside it ({} without one).

  Raises:
    ValueError: the file cannot be read, or is not a results file of
      `write_results` (method -> setting -> per-image PSNR and SSIM).
  """
  try:
    with open(json_path, encoding="utf-8") as f:
      results = json.load(f)
  except OSError as error:
    raise ValueError(f"cannot read {json_path}: {error.strerror}.") from None
  except ValueError as error:
    raise ValueError(f"{json_path} is not JSON: {error}.") from None
  shape = ("{method: {setting: {per_image, per_image_ssim, ...}}}")
  if not isinstance(results, dict) or not results:
    raise ValueError(f"{json_path} is not a results file of evaluate.py "
                     f"(expected {shape}).")
  for name, by_setting in results.items():
    if not isinstance(by_setting, dict) or not by_setting or not all(
        isinstance(entry, dict) and isinstance(entry.get("per_image"), dict)
        and isinstance(entry.get("per_image_ssim"), dict)
        for entry in by_setting.values()):
      raise ValueError(f"{json_path} is not a results file of evaluate.py "
                       f"with per-image PSNR and SSIM: {name!r} is not "
                       f"{shape}.")
  metadata = tables.read_metadata(json_path)
  for line in tables.markdown_lines(json_path)[:1]:
    found = re.fullmatch(r"# (\S+) on (\S+)", line)
    if found:
      metadata.update(task=found.group(1), subset=found.group(2))
  return results, tables.read_seconds_per_image(json_path), metadata


def expand_inputs(entries):
  """The input paths, each pattern ("parts/*.json") replaced by the files
  it matches, sorted; repeated files once.

  Raises:
    ValueError: a pattern matches no file.
  """
  paths = []
  for entry in entries:
    entry = str(entry)
    if any(c in entry for c in "*?["):
      matches = sorted(glob.glob(entry))
      if not matches:
        raise ValueError(f"the pattern {entry} matches no file.")
      paths += matches
    else:
      paths.append(entry)
  return list(dict.fromkeys(paths))


def combine_files(inputs, output, subset="bsd68", task=None, ours=None,
                  paper_rim=None, command=""):
  """Joins the results files `inputs` (paths or patterns, each with the
  markdown `tables.write_results` wrote beside it) into OUTPUT and its
  markdown, and returns the markdown.

  `task`: default the parts' (their markdown's heading). `ours`: the method
  compared with the others, default the parts' first RIM. The markdown
  names every part's command, and the weights, T and start of the RIMs.

  Raises:
    ValueError: OUTPUT or its markdown is an input's, or the parts do not
      join: a file that is not a results file, parts of another task, a
      RIM name with other weights or T in two parts, or `combine`'s
      reasons.
    FileNotFoundError: OUTPUT's folder does not exist.
  """
  paths = expand_inputs(inputs)
  if not paths:
    raise ValueError("no results file to combine.")
  target = os.path.realpath(output)
  for path in paths:
    mine = os.path.realpath(path)
    if {target, tables.markdown_path(target)} & {
        mine, tables.markdown_path(mine)}:
      raise ValueError(f"the output {output} would overwrite the input "
                       f"{path} or its markdown; write the combination to a "
                       f"new file.")
  tables.check_output_folder(output)
  parts = [(path, *read_part(path)) for path in paths]
  task = _task(parts, task)
  _per_rim(parts, "weights", tables.scored_sha256)
  steps = _per_rim(parts, "rim_steps", lambda line: dict(
      re.findall(r"([^\s=,;]+)=(\d+)", line)))
  results, seconds = combine([part[:3] for part in parts], subset)
  metadata = {"command": command}
  for number, (path, _, _, meta) in enumerate(parts):
    metadata[f"part {number}"] = (meta.get("command") or
                                  os.path.basename(path))
  for key in ("weights", "policy", "rim_steps", "rim_start"):
    values = [meta[key] for *_, meta in parts if key in meta]
    if values:
      metadata[key] = "; ".join(dict.fromkeys(values))
  ours = ours or next(iter(steps), None)
  if ours is not None and ours not in results:
    raise ValueError(f"the method compared with the others, {ours!r}, is "
                     f"not one of the parts': {sorted(results)}.")
  images = len(next(iter(next(iter(results.values())).values()))[
      "per_image"])
  return tables.write_results(results, seconds, output, task, subset,
                              {**metadata, "images": images}, ours=ours,
                              paper_rim=paper_rim)


def _per_rim(parts, key, parse):
  """{RIM name: value} from the metadata line `key` of every part, parsed
  by `parse` (line -> {name: value}); ValueError if a name has two."""
  seen = {}
  for path, *_, meta in parts:
    for name, value in parse(meta.get(key, "")).items():
      first = seen.setdefault(name, (value, path))
      if first[0] != value:
        raise ValueError(f"RIM {name!r} is {key} {first[0]} in {first[1]} "
                         f"but {value} in {path}: not the same RIM.")
  return {name: value for name, (value, _) in seen.items()}


def _task(parts, task):
  """`task`, or the one task the parts' headings name; ValueError if they
  name another or several."""
  named = {meta.get("task") for *_, meta in parts} - {None}
  if task is None:
    if len(named) != 1:
      raise ValueError(f"the parts' markdown names tasks {sorted(named)}; "
                       f"say which task they are of.")
    return named.pop()
  if named - {task}:
    raise ValueError(f"the task is {task}, but the parts are of "
                     f"{sorted(named)}.")
  return task
