"""Small synthetic images the tests share (no real data needed)."""

import pathlib

import numpy as np
from PIL import Image


def smooth_image(height, width, channels, seed=0):
  """A uint8 image of gradients and a blob, plus mild texture."""
  rng = np.random.default_rng(seed)
  yy, xx = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width),
                       indexing="ij")
  planes = []
  for c in range(channels):
    blob = np.exp(-((yy - 0.4 - 0.1 * c) ** 2 + (xx - 0.6) ** 2) / 0.05)
    plane = 40 + 120 * xx * (1 - yy) + 80 * blob + 8 * rng.standard_normal(
        (height, width))
    planes.append(plane)
  return np.clip(np.round(np.stack(planes, -1)), 0, 255).astype(np.uint8)


def export_untrained_rim(folder, task="denoise", steps=2, seed=0,
                         overrides=None, name=None):
  """Writes an untrained tiny RIM for `task` as folder/NAME.weights.h5 +
  .json (NAME: the task's, unless given).

  8 features, T = `steps`, then the config `overrides`; the JSON holds only
  what the loader reads (the config). Returns the .weights.h5 path.
  """
  import json  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  from rim_tf import configs  # pylint: disable=g-import-not-at-top
  from rim_tf import tasks  # pylint: disable=g-import-not-at-top
  config = configs.override(configs.preset("smoke", task), {
      "model.features": 8, "model.gru_features": 8,
      "trainer.rim_steps": steps, **(overrides or {})})
  keras.utils.set_random_seed(seed)
  model = tasks.from_config(config).build_model(config)
  name = name or task
  path = folder / f"{name}.weights.h5"
  model.save_weights(str(path))
  (folder / f"{name}.json").write_text(json.dumps(
      {"config": json.loads(config.to_json()), "step": 0}))
  return path


def random_patches(num_validation):
  """A PatchDataset of 8x8 patches (stride 4) of two random 24x24 gray
  images, `num_validation` of them held out."""
  from rim_tf import data as rim_data  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  images = [rng.integers(0, 256, (24, 24, 1), dtype=np.uint8)
            for _ in range(2)]
  return rim_data.PatchDataset(images, patch_size=8, stride=4,
                               num_validation=num_validation)


def write_fake_bsds(root, num_train=200, num_test=100, size=(12, 8)):
  """A BSDS300 folder in the official layout with tiny random JPEGs."""
  folder = pathlib.Path(root) / "BSDS300"
  rng = np.random.default_rng(0)
  for split, count, first in (("train", num_train, 100000),
                              ("test", num_test, 200000)):
    (folder / "images" / split).mkdir(parents=True, exist_ok=True)
    ids = [str(first + k) for k in range(count)]
    for k, image_id in enumerate(ids):
      shape = size if k % 2 else size[::-1]
      Image.fromarray(rng.integers(0, 256, shape + (3,), np.uint8)).save(
          folder / "images" / split / f"{image_id}.jpg")
    (folder / f"iids_{split}.txt").write_text("\n".join(ids) + "\n")
  return folder


class FakeClock:
  """A stand-in for a module's `time`, so that time limits buy the same
  steps on an idle or a loaded machine: each reading is `per_reading` s
  after the last, and `advance` moves it on."""

  def __init__(self, per_reading=0.0):
    self.now = 0.0
    self.per_reading = per_reading

  def time(self):
    self.now += self.per_reading
    return self.now

  def advance(self, seconds):
    self.now += seconds
