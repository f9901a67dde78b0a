"""The paper's Figures 3 and 4: one test image restored by a RIM beside its
classical baseline, with their scores."""

from rim_tf import baselines
from rim_tf.data import bsds
from rim_tf.evaluation import protocols
from rim_tf.inference import engine
from rim_tf.inference import panels
from rim_tf import metrics


def _example(weights, gray, image_id, data_dir):
  """(id, uint8 test image, Restorer at the weights' own T) for a figure.

  The image is `image_id`, or the first BSD68 image when it is None.
  """
  images = bsds.load_images("test", gray=gray, data_dir=data_dir,
                            subset=[image_id] if image_id else "bsd68")
  image_id, image = next(iter(images.items()))
  return image_id, image, engine.Restorer.from_weights(weights)[0]


def figure3(weights, path, image_id=None, sigma_255=50.0, data_dir=None,
            seed=0):
  """Figure 3: noisy (8-bit quantized) / BM3D / RIM on one BSD68 image."""
  if not weights:
    raise ValueError("figure 3 needs --weights (a gray denoising RIM).")
  image_id, clean, rim = _example(weights, True, image_id, data_dir)
  noisy = protocols.noisy_image(
      clean, sigma_255, True, protocols.noise_seed(seed, sigma_255, image_id))
  shown = [("clean", clean)]
  for label, estimate in (("noisy", noisy),
                          ("BM3D", baselines.bm3d_denoise(noisy, sigma_255)),
                          ("RIM", rim.denoise(noisy, sigma_255))):
    out = metrics.to_uint8(estimate)
    shown.append((f"{label} {metrics.psnr_255(out, clean):.2f} dB", out))
  return panels.example_panel(shown, path, f"BSDS300 {image_id}, sigma = "
                              f"{sigma_255:g}, 8-bit quantized")


def figure4(weights, path, image_id=None, scale=3, data_dir=None):
  """Figure 4: LR / bicubic / RIM (PSNR / SSIM on Y) on one test image."""
  if not weights:
    raise ValueError("figure 4 needs --weights (a super-resolution RIM).")
  image_id, image, rim = _example(weights, False, image_id, data_dir)
  high, low = protocols.superres_pair(image, scale)
  shown = [("HR", high), (f"LR (x{scale})", low)]
  for label, estimate in (
      ("bicubic", baselines.bicubic_upscale_uint8(low, scale)),
      ("RIM", rim.superres_uint8(low, scale))):
    psnr, ssim = metrics.superres_metrics(estimate, high, scale)
    shown.append((f"{label} {psnr:.2f} / {ssim:.4f}", estimate))
  return panels.example_panel(shown, path, f"BSDS300 {image_id}, x{scale}")
