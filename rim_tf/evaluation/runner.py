"""`run_evaluation`: test images, methods, protocol, results files; the one
entry point of `experiments/evaluate.py`."""

import json
import os

from rim_tf.data import bsds
from rim_tf.evaluation import baseline_cache as baseline_cache_lib
from rim_tf.evaluation import curves
from rim_tf.evaluation import protocols
from rim_tf.evaluation import tables
from rim_tf.inference import engine
from rim_tf import pretrained
from rim_tf import tasks


def run_evaluation(task, methods, subsets, output, data_dir=None,
                   weights=None, rim_name="rim", steps=None,
                   sigmas=None, quantized=(False, True),
                   scales=(2, 3, 4), num_images=None, seed=0, command=None,
                   ratio=0.25, paper_rim=None, fast=False,
                   baseline_cache=None, first_image=0):
  """Loads the test images and methods, evaluates, writes JSON + markdown.

  The one entry point of `experiments/evaluate.py` and `make evaluate`.
  `subsets`: "bsd68" and/or "bsd100"; the images of their union are
  evaluated once and each subset's tables written to `output` with
  "{subset}" replaced. `num_images` takes the first images of that union
  (with "bsd100", of all 100; each subset keeps its share), from number
  `first_image` (0) on: slices of one run, e.g. to fill a baseline cache
  from several processes (each image's noise depends on its id alone). `weights` and
  `rim_name` may be comma lists (one name per RIM); the tables compare the
  first RIM with every other method and with the paper's rows (the
  task's `Evaluation.paper_bars`, and `paper_rim`, default the paper's RIM
  for `task`); `steps` applies to every RIM. The task's `Evaluation` says
  which protocol runs; for "projection_curves" (random projections) the
  output holds Figure 2's curves of the RIMs (e.g. RIM,GDN,FFN) on
  `num_images` (default `protocols.FIGURE2_PATCHES`) test patches at
  `ratio`. `fast`: the RIMs restore on the fast path of `rim_tf.restore`
  (`engine.Restorer.from_weights`), not as float32 Keras models. `sigmas`: the noise levels, default the protocol's (15, 25, 50
  for denoising, `protocols.DEBLUR_SIGMAS` for deblurring).
  `baseline_cache`: a folder where the classical baselines' results are
  kept and reused (`rim_tf.evaluation.baseline_cache`), None for none.
  Returns the markdown reports, joined.
  """
  if isinstance(subsets, str):
    subsets = [subsets]
  if num_images is not None and num_images < 1:
    raise ValueError(f"num_images must be >= 1 (None for all), got "
                     f"{num_images}.")
  if isinstance(first_image, bool) or not (
      isinstance(first_image, int) and first_image >= 0):
    raise ValueError(f"first_image must be a whole number >= 0, got "
                     f"{first_image!r}.")
  evaluation = tasks.get(task).evaluation
  if evaluation.protocol == "projection_curves":
    if not weights:
      raise ValueError(f"task {task!r} needs --weights (a comma list of "
                       f"shipped names or .weights.h5 paths).")
    return _run_projection_curves(output, data_dir, weights, rim_name, steps,
                                  num_images, seed, ratio, command)
  paths = tables.output_paths(output, subsets)
  if paper_rim is not None and not any(
      paper_rim in rows for rows in evaluation.paper.values()):
    known = sorted({row for rows in evaluation.paper.values()
                    for row in rows})
    raise ValueError(f"the paper has no row {paper_rim!r} for task "
                     f"{task!r}; its rows: {known}.")
  if "rim" in methods and not weights:
    raise ValueError("method 'rim' needs --weights (a shipped name or a "
                     ".weights.h5 path).")
  chosen = baseline_cache_lib.cached(
      protocols.baseline_methods(task, methods), baseline_cache)
  named = _named_weights(weights, rim_name) if "rim" in methods else {}
  taken = sorted(set(named) & set(chosen))
  if taken:
    raise ValueError(f"RIM names {taken} are also baseline methods' names.")
  if evaluation.protocol == "measurements":
    return _run_measurements(task, paths, weights, rim_name, steps,
                             data_dir, num_images, seed, command)
  images, ids = _test_images(paths, evaluation.gray, data_dir, num_images,
                             first_image)
  metadata = {"command": command or ""}
  ours = None
  if named:
    rims = {name: engine.Restorer.from_weights(path, steps, fast=fast)[0]
            for name, path in named.items()}
    # Each RIM's path: a cell the fused form cannot run runs as Keras.
    policy = ", ".join(
        f"{name}={rim.model.dtype_policy.name}" +
        (" fused" if rim.fused is not None else "")
        for name, rim in rims.items())
    chosen = {**{name: protocols.rim_method(evaluation.protocol, rim)
                 for name, rim in rims.items()}, **chosen}
    ours = next(iter(rims))
    metadata.update(weights=_weights_line(named), policy=policy,
                    rim_steps=", ".join(f"{name}={rim.steps}"
                                        for name, rim in rims.items()))
    if evaluation.protocol == "denoising":
      metadata["rim_start"] = ", ".join(
          f"{name}={rim.denoise_operator.start}"
          for name, rim in rims.items())
  if evaluation.protocol == "superres":
    results, timing = protocols.evaluate_superres(images, chosen, scales)
  elif evaluation.protocol == "deblurring":
    results, timing = protocols.evaluate_deblurring(
        images, chosen, sigmas or protocols.DEBLUR_SIGMAS, seed=seed)
  else:
    results, timing = protocols.evaluate_denoising(
        images, chosen, sigmas or protocols.DENOISE_SIGMAS, quantized, seed)
  reports = []
  for subset, path in paths.items():
    reports.append(tables.write_results(
        tables.restrict(results, ids[subset]), timing, path, task, subset,
        {**metadata, "images": len(ids[subset])}, ours=ours,
        paper_rim=paper_rim))
  return "\n\n".join(reports)


def default_methods(task):
  """The RIM and the classical baselines of `task`'s protocol."""
  return ["rim", *tasks.get(task).evaluation.baselines]


def _test_images(paths, gray, data_dir, num_images, first_image=0):
  """(images, {subset: ids}) of the test images the subsets of `paths` need
  (`num_images` of their union from number `first_image` on)."""
  images = bsds.load_images(
      "test", gray=gray, data_dir=data_dir,
      subset=None if "bsd100" in paths else "bsd68")
  if first_image >= len(images):
    raise ValueError(f"first_image {first_image} is past the last of the "
                     f"{len(images)} test images.")
  end = None if num_images is None else first_image + num_images
  images = dict(list(images.items())[first_image:end])
  ids = {subset: tables.subset_ids(subset, images) for subset in paths}
  empty = [subset for subset, chosen_ids in ids.items() if not chosen_ids]
  if empty:
    raise ValueError(f"none of the {len(images)} images evaluated is in "
                     f"{empty}; evaluate more images (--num_images).")
  return images, ids


def _run_measurements(task, paths, weights, rim_name, steps, data_dir,
                      num_images, seed, command):
  """The "measurements" protocol (`protocols.evaluate_measurements`) of the
  RIMs `weights` trained on `task`; writes and returns the tables."""
  if not weights:
    raise ValueError(f"task {task!r} is scored on its RIMs only: give "
                     f"--weights (a comma list of .weights.h5 paths).")
  named = _named_weights(weights, rim_name)
  rims, problem = {}, None
  for name, path in named.items():
    model, config = pretrained.load(path)
    if config.task != task:
      raise ValueError(f"weights {path} were trained for {config.task!r}, "
                       f"not for {task!r}.")
    problem = problem or tasks.from_config(config)
    rims[name] = (model, steps or config.trainer.rim_steps)
  images, ids = _test_images(paths, problem.image_channels == 1, data_dir,
                             num_images)
  results, timing = protocols.evaluate_measurements(images, problem, rims,
                                                    seed)
  metadata = {"command": command or "", "weights": _weights_line(named),
              "rim_steps": ", ".join(f"{name}={t}"
                                     for name, (_, t) in rims.items())}
  return "\n\n".join(
      tables.write_results(tables.restrict(results, ids[subset]), timing,
                           path, task, subset,
                           {**metadata, "images": len(ids[subset])},
                           ours=next(iter(rims)))
      for subset, path in paths.items())


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
    parts.append(f"{name}={known['path']} (step {known['step']}, sha256 "
                 f"{known['sha256'][:12]})")
  return ", ".join(parts)


def _run_projection_curves(output, data_dir, weights, names, steps,
                           num_patches, seed, ratio, command):
  """Figure 2's data: curves of several RIMs written as JSON to `output`,
  and their `curves.curves_table` beside it (.md); returns the markdown."""
  tables.check_output_folder(output)
  named = _named_weights(weights, names)
  models, train_steps, problems = {}, {}, {}
  for name, path in named.items():
    models[name], config = pretrained.load(path)
    train_steps[name] = config.trainer.rim_steps
    problems[name] = tasks.from_config(config)
  if len(set(problems.values())) > 1:
    raise ValueError(f"Figure 2 compares RIMs of one problem; these were "
                     f"trained on different ones: {problems}.")
  if len(set(train_steps.values())) > 1:
    raise ValueError(f"Figure 2 marks one training T; these RIMs were "
                     f"trained with different ones: {train_steps}.")
  train_steps = next(iter(train_steps.values()))
  images = bsds.load_images("test", gray=True, data_dir=data_dir)
  patches = protocols.test_patches(
      images, protocols.FIGURE2_PATCHES if num_patches is None else num_patches,
      seed=seed)
  found = protocols.evaluate_random_projections(
      models, patches, next(iter(problems.values())), ratio=ratio,
      steps=50 if steps is None else steps, seed=seed)
  payload = {"curves": found, "train_steps": train_steps, "ratio": ratio,
             "weights": {name: pretrained.weights_name(path)
                         for name, path in named.items()},
             "provenance": {name: pretrained.provenance(path)
                            for name, path in named.items()}}
  with open(output, "w", encoding="utf-8") as f:
    json.dump(payload, f)
  md = [f"# random_projections on {len(patches)} test patches", "",
        f"- command: {command or ''}", f"- weights: {_weights_line(named)}",
        f"- ratio: {ratio}, training T: {train_steps}", "",
        "Mean PSNR (dB) over the patches:", "", curves.curves_table(payload)]
  return tables._write_markdown(output, "\n".join(md) + "\n")
