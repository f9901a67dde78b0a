"""The evaluation protocols of the paper (Tables 1-3, Figure 2).

Denoising (Tables 1, 2): clean = BSDS300 test JPEG as uint8 (gray by MATLAB
rgb2gray, or RGB); noisy = clean / 255 + sigma / 255 * N(0, 1) with a seed
fixed per (image, sigma), unclipped, or clipped and rounded to 1/255 steps
for the 8-bit quantized variant; every method sees the same noisy image; the
score is PSNR on [0, 255] of the clipped, rounded estimate.

Super-resolution (Table 3, the protocol of Huang et al. 2015): HR = top-left
crop of the RGB test JPEG to a multiple of the scale; LR = uint8
imresize(HR, 1/s); scores on the Y channel of uint8 RGB, shaved by s.

Random projections (Figure 2): PSNR over RIM steps on noisy projections of
test patches, every model seeing the same operators and noise.

Deblurring (the benchmark of DPIR's and IRCNN's code): each gray test image
blurred circularly by each of Levin et al.'s 8 kernels, white noise of std
2.55 or 7.65 (0-255 scale) drawn after `numpy.random.seed(0)` per image,
8-bit quantized; PSNR of the clipped, rounded estimate. Settings
"sigma2.55_k1" ... per kernel and "sigma2.55" over all kernels (per image,
the mean PSNR over the kernels).

Results: {method: {setting: {"psnr", "ssim", "psnr_sem", "ssim_sem", "n",
"per_image": {id: psnr}, "per_image_ssim": {id: ssim}}}} with settings
"sigma15", "sigma25_q8", "x2", "sigma2.55_k1", ... (`rim_tf.evaluation.
tables`).
"""

import functools
import time
import zlib

import numpy as np
import tensorflow as tf
import tqdm

from rim_tf import baselines
from rim_tf.data import degrade
from rim_tf.data import kernels as blur_kernels
from rim_tf.data import patches as rim_patches
from rim_tf.evaluation import tables
from rim_tf import metrics
from rim_tf import tasks


def denoising_setting(sigma_255, quantized):
  """The setting name, e.g. "sigma25" or "sigma25_q8"."""
  return f"sigma{sigma_255:g}" + ("_q8" if quantized else "")


# The benchmarks' inputs, made in one place (also for rim-restore demo).
noise_seed = degrade.noise_seed


noisy_image = degrade.noisy_image


DENOISE_SIGMAS = (15, 25, 50)


def evaluate_denoising(images, methods, sigmas=DENOISE_SIGMAS,
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
        _timed_score(lambda m=method: m(noisy, sigma), clean, name, image_id,
                     setting, scores[name], seconds[name], method)
        bar.update(1)
    for name in methods:
      results[name][setting] = tables.summarize(*scores[name])
  bar.close()
  return results, {n: float(np.mean(s)) for n, s in seconds.items()}


def _timed_score(run, clean, name, image_id, setting, scores, seconds,
                 method=None):
  """Runs one method on one input (`run()` -> float estimate [H, W, C] on
  [0, 1]), appends its seconds to `seconds` and scores its clipped, rounded
  estimate into `scores` = ({id: psnr}, {id: ssim}); a wrong shape is a
  ValueError naming the method. A method that reports its own time
  (`last_seconds`: a `baseline_cache.CachedBaseline`) is timed by it."""
  start = time.perf_counter()
  estimate = run()
  measured = time.perf_counter() - start
  seconds.append(getattr(method, "last_seconds", None) or measured)
  if np.shape(estimate) != clean.shape:
    raise ValueError(f"method {name!r} returned shape {np.shape(estimate)} "
                     f"for an image of shape {clean.shape}.")
  _score_uint8(scores, metrics.to_uint8(estimate), clean, name, image_id,
               setting)


def _score_uint8(scores, estimate_uint8, clean_uint8, name, image_id,
                 setting):
  """Records the PSNR and mean channel SSIM of one uint8 estimate in
  `scores` = ({id: psnr}, {id: ssim})."""
  scores[0][image_id] = _finite_psnr(
      metrics.psnr_255(estimate_uint8, clean_uint8), name, image_id, setting)
  scores[1][image_id] = _mean_channel_ssim(estimate_uint8, clean_uint8)


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


superres_pair = degrade.superres_pair


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
        measured = time.perf_counter() - start
        seconds[name].append(getattr(method, "last_seconds", None) or measured)
        if estimate.shape != high.shape:
          raise ValueError(f"method {name!r} returned shape {estimate.shape} "
                           f"for an HR image of shape {high.shape}.")
        psnr, ssim = metrics.superres_metrics(estimate, high, scale)
        scores[name][0][image_id] = _finite_psnr(psnr, name, image_id,
                                                 f"x{scale}")
        scores[name][1][image_id] = ssim
        bar.update(1)
    for name in methods:
      results[name][f"x{scale}"] = tables.summarize(*scores[name])
  bar.close()
  return results, {n: float(np.mean(s)) for n, s in seconds.items()}


DEBLUR_SIGMAS = (2.55, 7.65)


blurred_image = degrade.blurred_image


def deblurring_setting(sigma_255, kernel_index=None):
  """"sigma2.55" (over all kernels) or "sigma2.55_k3" (kernel 3, from 1)."""
  base = f"sigma{sigma_255:g}"
  return base if kernel_index is None else f"{base}_k{kernel_index}"


def evaluate_deblurring(images, methods, sigmas=DEBLUR_SIGMAS, kernels=None,
                        seed=0, progress=True):
  """Deblurring PSNR/SSIM of every method, image, kernel and noise level.

  Args:
    images: dict id -> clean uint8 [H, W, C].
    methods: dict name -> callable(blurred01 [H, W, C], kernel [kh, kw],
      sigma_255) -> float estimate [H, W, C] on [0, 1].
    sigmas: noise levels on [0, 255].
    kernels: the blur kernels (default Levin et al.'s 8).
    seed: the noise seed of every image.

  Returns:
    (results, timing) as `evaluate_denoising`.
  """
  kernels = blur_kernels.levin09() if kernels is None else list(kernels)
  results = {name: {} for name in methods}
  seconds = {name: [] for name in methods}
  bar = tqdm.tqdm(
      total=len(sigmas) * len(kernels) * len(images) * len(methods),
      disable=None if progress else True, unit="image")
  for sigma in sigmas:
    overall = {name: ({}, {}) for name in methods}
    for k, kernel in enumerate(kernels, start=1):
      setting = deblurring_setting(sigma, k)
      scores = {name: ({}, {}) for name in methods}
      for image_id, clean in images.items():
        blurred = blurred_image(clean, kernel, sigma, seed)
        for name, method in methods.items():
          _timed_score(lambda m=method: m(blurred, kernel, sigma), clean,
                       name, image_id, setting, scores[name], seconds[name],
                       method)
          bar.update(1)
      for name in methods:
        results[name][setting] = tables.summarize(*scores[name])
        for part in (0, 1):
          for image_id, value in scores[name][part].items():
            overall[name][part].setdefault(image_id, []).append(value)
    for name in methods:
      results[name][deblurring_setting(sigma)] = tables.summarize(
          *({i: float(np.mean(v)) for i, v in part.items()}
            for part in overall[name]))
  bar.close()
  return results, {n: float(np.mean(s)) for n, s in seconds.items()}


def baseline_methods(task, names):
  """The classical methods among `names` (method flags: "rim", "bm3d",
  ...) for the registered `task` ({name in the tables: callable}, from its
  `Evaluation.baselines`)."""
  evaluation = tasks.get(task).evaluation
  methods = {}
  for name in names:
    if name in evaluation.baselines:
      label, function = evaluation.baselines[name]
      methods[label] = getattr(baselines, function)
    elif name != "rim":
      known = sorted(evaluation.baselines) + ["rim"]
      raise ValueError(f"method {name!r} does not apply to task {task!r}; "
                       f"its methods are {known}.")
  return methods


def rim_method(protocol, restorer):
  """The callable a protocol's runner calls for a RIM (`engine.Restorer`)."""
  return {"superres": restorer.superres_uint8,
          "deblurring": restorer.deblur}.get(protocol, restorer.denoise)


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


def evaluate_random_projections(models, patches, task,
                                kinds=("gaussian", "binary", "fourier"),
                                ratio=0.25, steps=50, batch_size=250, seed=0):
  """PSNR over RIM steps 0..T on noisy random projections (paper Figure 2).

  Step 0 is the initial estimate. Every model sees the same operators and
  noise (seeded per kind and batch).

  Args:
    models: dict name -> RIM (gray).
    patches: float32 [n, P, P, 1] clean test patches.
    task: the random-projection Task the models trained on: its
      ensembles' scaling, test noise and start (`corruption(kinds,
      ratios, noise_sigma)`, `operator`).
    kinds: projection ensembles.
    ratio: p = m / d.
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

  def compiled(model):
    def run(y, matrix, sigma):
      operator = task.operator({"matrix": matrix, "x": tf.zeros((1,) + shape)})
      return model(y, operator=operator, sigma=sigma, steps=steps)[0]
    return tf.function(run, input_signature=signature)

  runners = {name: compiled(model) for name, model in models.items()}
  results = {name: {} for name in models}
  for k, kind in enumerate(kinds):
    corruption = task.corruption((kind,), (ratio,), task.noise_sigma)
    psnr_rows = {name: [] for name in models}
    for start in range(0, len(patches), batch_size):
      batch = corruption({"x": tf.constant(patches[start:start + batch_size])},
                         tf.constant([seed * 1000 + k, start], tf.int64))
      x0 = task.operator(batch).initial_estimate(batch["y"])
      for name, run in runners.items():
        estimates = run(batch["y"], batch["matrix"], batch["sigma"])
        per_step = [metrics.psnr_tf(x0, batch["x"])] + [
            metrics.psnr_tf(e, batch["x"]) for e in tf.unstack(estimates)]
        psnr_rows[name].append(tf.stack(per_step, axis=1).numpy())
    for name in models:
      values = np.concatenate(psnr_rows[name])
      results[name][kind] = {"mean": values.mean(0).tolist(),
                             "std": values.std(0).tolist(),
                             "n": int(len(values))}
  return results


def evaluate_measurements(images, task, rims, seed=0, progress=True):
  """PSNR of RIMs on their task's own measurements of whole test images.

  The protocol of a task without a table of its own (a user's): each
  image is measured by every validation stream of the task
  (`Task.validation_streams`, its corruption on the whole image, seeded by
  the image's id); each RIM restores it with the task's operator; the
  score is PSNR on [0, 255] of the clipped, rounded final estimate.

  Args:
    images: dict id -> clean uint8 [H, W, C].
    task: the `rim_tf.tasks.Task`.
    rims: dict name -> (RIM, T).

  Returns:
    (results, timing) as `evaluate_denoising`, one setting per stream.
  """
  runners = {name: tf.function(functools.partial(task.infer, model,
                                                 steps=steps))
             for name, (model, steps) in rims.items()}
  streams = task.validation_streams()
  results = {name: {} for name in rims}
  seconds = {name: [] for name in rims}
  bar = tqdm.tqdm(total=len(streams) * len(images) * len(rims),
                  disable=None if progress else True, unit="image")
  for setting, corruption in streams.items():
    scores = {name: ({}, {}) for name in rims}
    for image_id, clean in images.items():
      batch = corruption(
          {"x": tf.constant(np.asarray(clean, np.float32)[None] / 255.0)},
          tf.constant([seed, zlib.crc32(str(image_id).encode())], tf.int64))
      for name, run in runners.items():
        start = time.perf_counter()
        estimates, _ = run(batch)
        estimate_uint8 = metrics.to_uint8(estimates[-1][0].numpy())
        seconds[name].append(time.perf_counter() - start)
        _score_uint8(scores[name], estimate_uint8, clean, name, image_id,
                     setting)
        bar.update(1)
    for name in rims:
      results[name][setting] = tables.summarize(*scores[name])
  bar.close()
  return results, {n: float(np.mean(s)) for n, s in seconds.items()}


# Figure 2's test patches: "5000 random patches from the BSD-300 test set".
FIGURE2_PATCHES = 5000
