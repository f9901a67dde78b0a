"""The paper's figures: Figure 2 from saved curves, Figures 3-4 from a RIM.

Nothing here draws a typed-in number."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

from rim_tf import baselines  # pylint: disable=g-import-not-at-top
from rim_tf import evaluate  # pylint: disable=g-import-not-at-top
from rim_tf import metrics  # pylint: disable=g-import-not-at-top
from rim_tf import restorer  # pylint: disable=g-import-not-at-top
from rim_tf.data import bsds  # pylint: disable=g-import-not-at-top


def figure2(curves, path, train_steps=20, ratio=None):
  """Paper Figure 2: PSNR (mean +- std) over RIM steps, one panel per ensemble.

  Args:
    curves: `rim_tf.evaluate.evaluate_random_projections` output,
      {model: {kind: {"mean": [T + 1], "std": [T + 1], "n": n}}}.
    path: PNG to write.
    train_steps: the training horizon, marked with a dashed line.
    ratio: p, for the title.
  """
  kinds = list(next(iter(curves.values())))
  fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.4),
                           sharey=True, squeeze=False)
  for ax, kind in zip(axes[0], kinds):
    for name, by_kind in curves.items():
      mean = np.asarray(by_kind[kind]["mean"])
      std = np.asarray(by_kind[kind]["std"])
      steps = np.arange(len(mean))
      ax.plot(steps, mean, label=name)
      ax.fill_between(steps, mean - std, mean + std, alpha=0.2)
    ax.axvline(train_steps, color="k", linestyle="--", linewidth=0.8)
    title = evaluate.ENSEMBLE_NAMES.get(kind, kind) + " RP"
    ax.set_title(title + (f", p = {ratio:g}" if ratio is not None else ""))
    ax.set_xlabel("Steps")
  axes[0][0].set_ylabel("PSNR (dB)")
  axes[0][-1].legend(loc="lower right")
  n = next(iter(next(iter(curves.values())).values()))["n"]
  fig.suptitle(f"Reconstruction over time on {n} test patches")
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path


def example_panel(images, path, title=None):
  """Figures 3 and 4: images side by side, each titled with its score.

  Args:
    images: list of (label, image [H, W] or [H, W, C] uint8 or float [0, 1]).
    path: PNG to write.
  """
  fig, axes = plt.subplots(1, len(images), figsize=(3.6 * len(images), 3.4),
                           squeeze=False)
  for ax, (label, image) in zip(axes[0], images):
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
      image = image[..., 0]
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None,
              vmin=0, vmax=255 if image.dtype == np.uint8 else 1)
    ax.set_title(label, fontsize=9)
    ax.axis("off")
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path


def figure2_from_results(results_path, path):
  """Figure 2 from the JSON of `experiments/evaluate.py --task=random_projections`."""
  saved = evaluate.load_curves(results_path)
  return figure2(saved["curves"], path, saved["train_steps"], saved["ratio"])


def _example(weights, gray, image_id, data_dir):
  """(id, uint8 test image, Restorer at the weights' own T) for a figure.

  The image is `image_id`, or the first BSD68 image when it is None.
  """
  images = bsds.load_images("test", gray=gray, data_dir=data_dir,
                            subset=[image_id] if image_id else "bsd68")
  image_id, image = next(iter(images.items()))
  return image_id, image, restorer.Restorer.from_weights(weights)[0]


def figure3(weights, path, image_id=None, sigma_255=50.0, data_dir=None,
            seed=0):
  """Figure 3: noisy (8-bit quantized) / BM3D / RIM on one BSD68 image."""
  if not weights:
    raise ValueError("figure 3 needs --weights (a gray denoising RIM).")
  image_id, clean, rim = _example(weights, True, image_id, data_dir)
  noisy = evaluate.noisy_image(clean, sigma_255, True,
                               evaluate.noise_seed(seed, sigma_255, image_id))
  panels = [("clean", clean)]
  for label, estimate in (("noisy", noisy),
                          ("BM3D", baselines.bm3d_denoise(noisy, sigma_255)),
                          ("RIM", rim.denoise(noisy, sigma_255))):
    out = metrics.to_uint8(estimate)
    panels.append((f"{label} {metrics.psnr_255(out, clean):.2f} dB", out))
  return example_panel(panels, path, f"BSDS300 {image_id}, sigma = "
                       f"{sigma_255:g}, 8-bit quantized")


def figure4(weights, path, image_id=None, scale=3, data_dir=None):
  """Figure 4: LR / bicubic / RIM (PSNR / SSIM on Y) on one test image."""
  if not weights:
    raise ValueError("figure 4 needs --weights (a super-resolution RIM).")
  image_id, image, rim = _example(weights, False, image_id, data_dir)
  high, low = evaluate.superres_pair(image, scale)
  panels = [("HR", high), (f"LR (x{scale})", low)]
  for label, estimate in (
      ("bicubic", baselines.bicubic_upscale_uint8(low, scale)),
      ("RIM", rim.superres_uint8(low, scale))):
    psnr, ssim = metrics.superres_metrics(estimate, high, scale)
    panels.append((f"{label} {psnr:.2f} / {ssim:.4f}", estimate))
  return example_panel(panels, path, f"BSDS300 {image_id}, x{scale}")
