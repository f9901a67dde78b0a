"""Tests of rim_tf.evaluation.plots: figures are PNGs of the expected pixel size."""

import json

import numpy as np
import pytest
from PIL import Image

from rim_tf.evaluation import examples
from rim_tf.evaluation import plots
from rim_tf.inference import panels


def fake_curves(models=("RIM", "GDN"), kinds=("gaussian", "binary", "fourier"),
                steps=6):
  rng = np.random.default_rng(0)
  return {m: {k: {"mean": list(20 + np.cumsum(rng.random(steps + 1))),
                  "std": list(rng.random(steps + 1)), "n": 10}
              for k in kinds} for m in models}


def png_size(path):
  with Image.open(path) as image:
    assert image.format == "PNG"
    return image.size


def test_figure2_writes_one_panel_per_ensemble(tmp_path):
  path = tmp_path / "fig2.png"
  assert plots.figure2(fake_curves(), path, train_steps=3, ratio=0.25) == path
  # figsize (4.2 per panel, 3.4) inches at 120 dpi.
  assert png_size(path) == (3 * 504, 408)
  one = tmp_path / "one.png"
  plots.figure2(fake_curves(kinds=("gaussian",)), one, train_steps=3)
  assert png_size(one) == (504, 408)


def test_figure2_draws_the_curves(tmp_path):
  flat = fake_curves(kinds=("gaussian",))
  for by_kind in flat.values():
    by_kind["gaussian"]["mean"] = [0.0] * 7
  plots.figure2(flat, tmp_path / "flat.png", train_steps=3)
  a = np.asarray(Image.open(tmp_path / "flat.png").convert("L"), np.float64)
  plots.figure2(fake_curves(kinds=("gaussian",)), tmp_path / "c.png", 3)
  b = np.asarray(Image.open(tmp_path / "c.png").convert("L"), np.float64)
  assert np.abs(a - b).mean() > 0.5  # different data, different picture


def test_figure2_from_results_reads_the_evaluation_json(tmp_path):
  saved = {"curves": fake_curves(), "train_steps": 4, "ratio": 0.1,
           "weights": ["a", "b"]}
  results = tmp_path / "curves.json"
  results.write_text(json.dumps(saved))
  path = plots.figure2_from_results(str(results), tmp_path / "f.png")
  assert png_size(path) == (1512, 408)


@pytest.mark.parametrize("results", [None, ""])
def test_figure2_from_results_needs_results(tmp_path, results):
  with pytest.raises(ValueError, match="--results"):
    plots.figure2_from_results(results, tmp_path / "f.png")
  assert not (tmp_path / "f.png").exists()


def test_example_panel_writes_images_side_by_side(tmp_path):
  rng = np.random.default_rng(0)
  images = [("gray uint8", rng.integers(0, 256, (20, 30), dtype=np.uint8)),
            ("gray [H,W,1]", rng.random((20, 30, 1))),
            ("rgb float", rng.random((20, 30, 3)).astype(np.float32)),
            ("rgb uint8", rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))]
  path = panels.example_panel(images, tmp_path / "panel.png", title="t")
  assert png_size(path) == (4 * 432, 408)  # 3.6 in per image at 120 dpi


@pytest.mark.parametrize("figure", [examples.figure3, examples.figure4])
def test_figures_3_and_4_need_weights(tmp_path, figure):
  with pytest.raises(ValueError, match="needs --weights"):
    figure(None, tmp_path / "f.png", data_dir=str(tmp_path))


def _export_tiny_rim(folder, task):
  """A tiny untrained RIM exported as Trainer.export_weights does it."""
  from rim_tf import configs  # pylint: disable=g-import-not-at-top
  from rim_tf import tasks  # pylint: disable=g-import-not-at-top

  config = configs.override(configs.preset("smoke", task), {
      "model.features": 8, "model.gru_features": 8, "trainer.rim_steps": 2})
  model = tasks.from_config(config).build_model(config)
  path = folder / "tiny.weights.h5"
  model.save_weights(str(path))
  (folder / "tiny.json").write_text(json.dumps(
      {"step": 0, "patches_seen": 0, "config": json.loads(config.to_json())}))
  return path


def test_figure4_on_a_real_image(bsds_dir, tmp_path):
  weights = _export_tiny_rim(tmp_path, "superres")
  path = examples.figure4(str(weights), tmp_path / "fig4.png", image_id="3096",
                       scale=3, data_dir=bsds_dir)
  assert png_size(path) == (4 * 432, 408)
