"""`rim-restore demo`: every shipped restorer on photos scikit-image ships.

No data and no download: each shipped RIM that restores images gets a crop
of a built-in photo (`rim_tf.data.builtin`) corrupted as it was trained
for, and one PNG shows, a row per model, the input, the RIM's result and
the clean crop, titled with their PSNRs:

    rim-restore demo -o demo.png

    rows = demo.run(path)   # [Row(model, image, before, psnr_before, psnr)]
"""

import dataclasses

import numpy as np

from rim_tf import metrics
from rim_tf import operators
from rim_tf import pretrained
from rim_tf.data import builtin
from rim_tf.data import degrade
from rim_tf.data import kernels as blur_kernels
from rim_tf.inference import api
from rim_tf.inference import panels

SIGMA_255 = 25.0
SCALE = 3
DEBLUR_SIGMA_255 = 2.55


@dataclasses.dataclass(frozen=True)
class Case:
  """One row: the shipped model, its task, the photo and its crop."""

  model: str
  task: str
  image: str
  gray: bool
  rows: slice
  cols: slice


CASES = (
    Case("denoise_gray", "denoise", "camera", True, slice(40, 200),
         slice(200, 360)),
    Case("denoise_color", "denoise", "astronaut", False, slice(20, 180),
         slice(160, 320)),
    Case("random_projections", "denoise", "coins", True, slice(60, 220),
         slice(40, 200)),
    Case("superres", "superres", "coffee", False, slice(60, 270),
         slice(150, 360)),
    Case("deblur", "deblur", "camera", True, slice(40, 200),
         slice(200, 360)),
)


@dataclasses.dataclass(frozen=True)
class Row:
  """What one model did: the label of its input, and the PSNRs (dB) of the
  input and of the RIM's result against the clean crop."""

  model: str
  image: str
  before: str
  psnr_before: float
  psnr: float


def _corrupt(case, clean):
  """(input for the RIM, uint8 image shown as the input, its label, the
  keyword arguments of `rim_tf.restore`), made as the benchmarks make
  theirs (`rim_tf.data.degrade`)."""
  if case.task == "superres":
    _, low = degrade.superres_pair(clean, SCALE)
    shown = np.asarray(operators.imresize(low, SCALE))
    return low, shown, f"bicubic x{SCALE}", {"scale": SCALE}
  if case.task == "deblur":
    kernel = blur_kernels.levin09()[0]
    blurred = degrade.blurred_image(clean, kernel, DEBLUR_SIGMA_255)
    return blurred, metrics.to_uint8(blurred), (
        f"blurred, sigma {DEBLUR_SIGMA_255:g}"), {
            "kernel": kernel, "sigma": DEBLUR_SIGMA_255}
  noisy = degrade.noisy_image(clean, SIGMA_255, True,
                              degrade.noise_seed(0, SIGMA_255, case.image))
  return noisy, metrics.to_uint8(noisy), f"noisy, sigma {SIGMA_255:g}", {
      "sigma": SIGMA_255}


def run(path, fast=True, log=print):
  """Restores the demo crops with every shipped model that has a case,
  writes the panel to `path` (PNG) and returns the rows."""
  shipped = set(pretrained.shipped())
  rows, panel = [], []
  for case in CASES:
    if case.model not in shipped:
      continue
    clean = builtin.builtin_images(case.gray, [case.image])[case.image]
    clean = np.ascontiguousarray(clean[case.rows, case.cols])
    # A crop a multiple of the scale: the super-resolution input is exact.
    clean = clean[:clean.shape[0] - clean.shape[0] % SCALE,
                  :clean.shape[1] - clean.shape[1] % SCALE]
    source, shown, label, options = _corrupt(case, clean)
    # The result has the input's dtype: uint8 for the reduced photo.
    restored = api.restore(source, case.task, weights=case.model, fast=fast,
                           **options)
    if restored.dtype != np.uint8:
      restored = metrics.to_uint8(restored)
    row = Row(case.model, case.image, label,
              metrics.psnr_255(shown, clean), metrics.psnr_255(restored, clean))
    log(f"{row.model:<20} {row.image:<10} {row.before:<22} "
        f"{row.psnr_before:6.2f} dB -> {row.psnr:6.2f} dB")
    rows.append(row)
    panel.append([(f"{label}: {row.psnr_before:.2f} dB", shown),
                  (f"{case.model}: {row.psnr:.2f} dB", restored),
                  ("clean", clean)])
  panels.grid_panel(panel, path)
  return rows
