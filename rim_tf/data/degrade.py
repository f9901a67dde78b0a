"""The corrupted inputs of the benchmarks, from a clean uint8 image.

The evaluation protocols (`rim_tf.evaluation.protocols`), the benchmarks
and `rim-restore demo` make their inputs here, so every caller degrades an
image the same way: noise seeded per image, MATLAB-exact bicubic reduction,
circular blur with noise of `numpy.random.seed`'s stream.
"""

import zlib

import numpy as np

from rim_tf import metrics
from rim_tf import operators
from rim_tf.operators import blur as blur_operator


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


def superres_pair(image_uint8, scale):
  """(HR, LR) of the Huang et al. protocol: HR cropped to a multiple of s."""
  height = image_uint8.shape[0] - image_uint8.shape[0] % scale
  width = image_uint8.shape[1] - image_uint8.shape[1] % scale
  high = np.ascontiguousarray(image_uint8[:height, :width])
  return high, operators.imresize(high, 1.0 / scale)


def blurred_image(clean_uint8, kernel, sigma_255, seed=0,
                  boundary="circular"):
  """The deblurring benchmark's input: float32 [H, W, C] on the 1/255 grid.

  The clean image on [0, 1] blurred by `kernel` (`scipy.ndimage.convolve`
  in float64; circularly, mode "wrap", the benchmark's boundary, or
  "replicate", mode "nearest", as a photograph is blurred), plus white
  noise of std sigma_255 / 255 from `numpy.random.seed(seed)`'s generator,
  clipped and rounded to 8 bits.
  """
  clean = np.asarray(clean_uint8, np.float64) / 255.0
  blurred = blur_operator.scipy_blur(clean, kernel, boundary)
  rng = np.random.RandomState(seed)  # numpy.random.seed(seed)'s stream.
  noisy = blurred + rng.normal(0.0, sigma_255 / 255.0, blurred.shape)
  return metrics.quantize_8bit(noisy.astype(np.float32))
