"""Every shipped RIM restores a fixed input as it did when the outputs in
testdata/shipped_outputs.npz were stored (through `rim_tf.restore`, the API
users call), so a change of the code around the models cannot change what
they return.

The stored outputs were made with `python tests/test_shipped_outputs.py`
(it writes the file anew; do so only when a model's weights change).
"""

import pathlib

import numpy as np
import pytest

import rim_tf
from rim_tf import metrics
from rim_tf import pretrained
from rim_tf.data import builtin
from rim_tf.data import degrade
from rim_tf.data import kernels

STORED = pathlib.Path(__file__).parent / "testdata" / "shipped_outputs.npz"
SIGMA_255 = 25.0
SCALE = 3


def fixed_inputs():
  """{name: uint8 input} of one gray and one RGB crop, noisy or reduced."""
  rng = np.random.default_rng(0)
  gray = builtin.builtin_images(gray=True, names=["camera"])["camera"]
  rgb = builtin.builtin_images(gray=False, names=["astronaut"])["astronaut"]
  noisy = {}
  for name, clean in (("gray", gray[200:264, 200:264]),
                      ("rgb", rgb[100:164, 180:244])):
    values = clean / 255.0 + SIGMA_255 / 255.0 * rng.standard_normal(
        clean.shape)
    noisy[name] = np.clip(np.round(values * 255.0), 0, 255).astype(np.uint8)
  return {"noisy_gray": noisy["gray"], "noisy_rgb": noisy["rgb"],
          "low_rgb": rgb[300:330, 300:330],
          "clean_gray": gray[200:264, 200:264]}


def outputs(fast=False):
  """{model name: its restoration of the fixed input it serves}, by the
  float32 model (stored) or the fast path."""
  inputs = fixed_inputs()
  found = {}
  for name in pretrained.shipped():
    task = pretrained.config(name).task
    if task == "superres":
      found[name] = rim_tf.restore(inputs["low_rgb"], "superres",
                                   scale=SCALE, weights=name, fast=fast)
    elif task == "deblur":
      kernel = kernels.levin09()[0]
      blurred = degrade.blurred_image(inputs["clean_gray"], kernel, 2.55)
      found[name] = rim_tf.restore(metrics.to_uint8(blurred), "deblur",
                                   kernel=kernel, sigma=2.55, weights=name,
                                   fast=fast)
    else:
      image = inputs["noisy_rgb" if task == "denoise_color" else
                     "noisy_gray"]
      found[name] = rim_tf.restore(image, "denoise", sigma=SIGMA_255,
                                   weights=name, fast=fast)
  return found


@pytest.fixture(scope="module")
def stored():
  with np.load(STORED) as saved:
    return dict(saved)


@pytest.mark.parametrize("name", pretrained.shipped())
def test_a_shipped_model_restores_the_fixed_input_as_stored(name, stored):
  assert name in stored, f"no stored output of {name}: regenerate the file"
  out = outputs_of(name)
  expected = stored[name]
  assert out.shape == expected.shape and out.dtype == expected.dtype
  diff = np.abs(out.astype(np.int32) - expected.astype(np.int32))
  # float32 reductions may round a pixel the other way; nothing more.
  assert diff.max() <= 1
  assert np.mean(diff > 0) < 0.01


_CACHE = {}


def outputs_of(name, fast=False):
  if fast not in _CACHE:
    _CACHE[fast] = outputs(fast)
  return _CACHE[fast][name]


@pytest.mark.parametrize("name", pretrained.shipped())
def test_the_fast_path_restores_as_the_float32_model_to_a_level(name):
  # Measured: 1 level apart at most (3 for the 3-task RIM, which denoises
  # in 20 steps), on 4-14 % of the pixels.
  fast = outputs_of(name, fast=True).astype(np.int32)
  plain = outputs_of(name).astype(np.int32)
  diff = np.abs(fast - plain)
  assert diff.max() <= (3 if name == "random_projections" else 1), diff.max()
  assert np.mean(diff > 0) < 0.2


if __name__ == "__main__":
  np.savez_compressed(STORED, **outputs())
  print("wrote", STORED)
