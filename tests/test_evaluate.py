"""Tests of rim_tf.evaluation: noisy inputs, SR pairs, scoring, tables, RIMs.

Tiny synthetic images and a RIM of 8 features unrolled 2 steps; the paper's
bicubic Table 3 row is reproduced on BSD100 when RIM_DATA_DIR is set.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import zlib

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # pylint: disable=g-import-not-at-top

from rim_tf import baselines  # pylint: disable=g-import-not-at-top
from rim_tf.data import bsds  # pylint: disable=g-import-not-at-top
from rim_tf.data import corruptions  # pylint: disable=g-import-not-at-top
from rim_tf.evaluation import combination  # pylint: disable=g-import-not-at-top
from rim_tf.evaluation import curves  # pylint: disable=g-import-not-at-top
from rim_tf.evaluation import protocols  # pylint: disable=g-import-not-at-top
from rim_tf.evaluation import runner  # pylint: disable=g-import-not-at-top
from rim_tf.evaluation import tables  # pylint: disable=g-import-not-at-top
from rim_tf.inference import engine  # pylint: disable=g-import-not-at-top
from rim_tf import metrics  # pylint: disable=g-import-not-at-top
from rim_tf import model as rim_model  # pylint: disable=g-import-not-at-top
from rim_tf import operators  # pylint: disable=g-import-not-at-top
from rim_tf import tasks  # pylint: disable=g-import-not-at-top
from synthetic import export_untrained_rim  # pylint: disable=g-import-not-at-top
from synthetic import smooth_image  # pylint: disable=g-import-not-at-top

RESULT_KEYS = {"psnr", "ssim", "psnr_sem", "ssim_sem", "n", "per_image",
               "per_image_ssim"}


# -- noisy_image ------------------------------------------------------------


def test_noisy_image_unclipped_has_the_requested_noise_statistics():
  clean = np.full((128, 128, 1), 6, np.uint8)  # near 0: noise goes below 0
  noisy = protocols.noisy_image(clean, 25, quantized=False, seed=(0, 25, 0))
  assert noisy.dtype == np.float32 and noisy.shape == clean.shape
  noise = noisy.astype(np.float64) - 6 / 255
  assert abs(noise.mean()) < 0.01 * 25 / 255 * 5
  assert noise.std() == pytest.approx(25 / 255, rel=0.03)
  assert noisy.min() < 0.0  # not clipped
  assert not np.allclose(noisy * 255, np.round(noisy * 255), atol=1e-3)


def test_noisy_image_is_deterministic_per_seed():
  clean = smooth_image(20, 30, 1)
  first = protocols.noisy_image(clean, 15, False, (0, 15, 3))
  again = protocols.noisy_image(clean, 15, False, (0, 15, 3))
  other = protocols.noisy_image(clean, 15, False, (0, 15, 4))
  np.testing.assert_array_equal(first, again)
  assert not np.allclose(first, other)


def test_noisy_image_quantized_is_the_clipped_rounded_unquantized_one():
  clean = np.concatenate([np.full((40, 40, 1), 3, np.uint8),
                          np.full((40, 40, 1), 252, np.uint8)], axis=1)
  raw = protocols.noisy_image(clean, 25, False, (1, 25, 0))
  quant = protocols.noisy_image(clean, 25, True, (1, 25, 0))
  assert quant.dtype == np.float32
  assert quant.min() == 0.0 and quant.max() == 1.0  # clipped both ways
  levels = quant.astype(np.float64) * 255
  np.testing.assert_allclose(levels, np.round(levels), atol=1e-4)
  np.testing.assert_array_equal(
      quant, (metrics.to_uint8(raw) / 255.0).astype(np.float32))


# -- superres_pair ------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_superres_pair_crops_top_left_and_downscales_in_uint8(scale):
  image = smooth_image(37, 50, 3)
  high, low = protocols.superres_pair(image, scale)
  height, width = 37 - 37 % scale, 50 - 50 % scale
  np.testing.assert_array_equal(high, image[:height, :width])
  assert low.dtype == np.uint8
  assert low.shape == (height // scale, width // scale, 3)
  np.testing.assert_array_equal(low, operators.imresize(high, 1.0 / scale))


# -- evaluate_denoising -------------------------------------------------------


def _denoise_images():
  return {"a": smooth_image(24, 28, 1, seed=0),
          "b": smooth_image(26, 24, 1, seed=1)}


def test_evaluate_denoising_identity_scores_the_noisy_image():
  images = _denoise_images()
  results, timing = protocols.evaluate_denoising(
      images, {"identity": lambda noisy, sigma: noisy}, sigmas=(15, 25),
      quantized=(False, True), seed=7, progress=False)
  assert set(results) == {"identity"} and set(timing) == {"identity"}
  by_setting = results["identity"]
  assert set(by_setting) == {"sigma15", "sigma25", "sigma15_q8", "sigma25_q8"}
  for setting, sigma, quant in (("sigma15", 15, False),
                                ("sigma25_q8", 25, True)):
    r = by_setting[setting]
    assert set(r) == RESULT_KEYS
    assert r["n"] == 2
    for image_id, clean in images.items():
      noisy = protocols.noisy_image(clean, sigma, quant,
                                   (7, sigma, zlib.crc32(image_id.encode())))
      expected = metrics.psnr_255(metrics.to_uint8(noisy), clean)
      assert r["per_image"][image_id] == pytest.approx(expected, abs=1e-12)
    assert r["psnr"] == pytest.approx(np.mean(list(r["per_image"].values())))
    assert np.isfinite(r["psnr_sem"]) and r["psnr_sem"] >= 0
    assert np.isfinite(r["ssim_sem"]) and 0 < r["ssim"] < 1
  # Noisier setting, lower score; the identity at sigma 15 is ~24.6 dB.
  assert by_setting["sigma25"]["psnr"] < by_setting["sigma15"]["psnr"] - 3
  assert 23 < by_setting["sigma15"]["psnr"] < 26.5
  json.dumps(results, allow_nan=False)  # plain JSON


def test_restrict_equals_evaluating_only_those_images():
  images = {**_denoise_images(), "c": smooth_image(20, 22, 1, seed=2)}
  shrink = {"shrink": lambda noisy, sigma: 0.8 * noisy + 0.1}
  full, _ = protocols.evaluate_denoising(images, shrink, sigmas=(25,),
                                        quantized=(False, True), seed=3,
                                        progress=False)
  part, _ = protocols.evaluate_denoising(
      {k: images[k] for k in ("c", "a")}, shrink, sigmas=(25,),
      quantized=(False, True), seed=3, progress=False)
  # The noise depends on the image id only: the same numbers, SEMs too.
  assert tables.restrict(full, ["c", "a"]) == part
  assert tables.restrict(full, ["c", "a"])["shrink"]["sigma25"]["n"] == 2
  assert tables.restrict(full, images) == full
  with pytest.raises(ValueError, match=r"shrink at sigma25 .*\['z'\]"):
    tables.restrict(full, ["a", "z"])


def test_subset_ids_and_output_paths():
  ids = ["100007", bsds.BSD68[1], "2092", bsds.BSD68[0]]
  assert "100007" not in bsds.BSD68 and "2092" not in bsds.BSD68
  # In BSD68's own order, as a run on BSD68 alone takes them.
  assert tables.subset_ids("bsd68", ids) == [bsds.BSD68[0], bsds.BSD68[1]]
  assert tables.subset_ids("bsd100", ids) == ids
  assert tables.output_paths("r_{subset}.json", ["bsd68", "bsd100"]) == {
      "bsd68": "r_bsd68.json", "bsd100": "r_bsd100.json"}
  assert tables.output_paths("r.json", ["bsd68"]) == {"bsd68": "r.json"}
  with pytest.raises(ValueError, match=r"must contain \{subset\}"):
    tables.output_paths("r.json", ["bsd68", "bsd100"])
  with pytest.raises(ValueError, match="subsets must be among"):
    tables.output_paths("r.json", ["set14"])


def test_an_output_in_a_missing_folder_is_refused_before_evaluating(
    tmp_path):
  missing = tmp_path / "no_such_folder"
  with pytest.raises(FileNotFoundError, match=r"no_such_folder.*create"):
    runner.run_evaluation("denoise", ["bm3d"], ["bsd68", "bsd100"],
                            str(missing / "r_{subset}.json"),
                            data_dir=str(tmp_path / "no_data"))
  weights = export_untrained_rim(tmp_path, task="random_projections")
  with pytest.raises(FileNotFoundError, match=r"no_such_folder.*create"):
    runner.run_evaluation("random_projections", ["rim"], (),
                            str(missing / "c.json"),
                            data_dir=str(tmp_path / "no_data"),
                            weights=str(weights), rim_name="RIM")
  assert not missing.exists()


@pytest.mark.parametrize("task", ["denoise", "random_projections"])
def test_zero_images_is_refused_not_taken_for_all(tmp_path, task):
  weights = export_untrained_rim(tmp_path, task=task)
  with pytest.raises(ValueError, match="num_images must be >= 1.*got 0"):
    runner.run_evaluation(task, ["rim"], ["bsd68"],
                            str(tmp_path / "r_{subset}.json"),
                            data_dir=str(tmp_path / "no_data"),
                            weights=str(weights), num_images=0)


def test_evaluate_denoising_same_noise_for_every_method():
  seen = {"m1": [], "m2": []}

  def recorder(name):
    def method(noisy, sigma):
      seen[name].append(noisy.copy())
      return noisy
    return method

  protocols.evaluate_denoising(_denoise_images(),
                              {"m1": recorder("m1"), "m2": recorder("m2")},
                              sigmas=(25,), quantized=(True,), progress=False)
  for a, b in zip(seen["m1"], seen["m2"]):
    np.testing.assert_array_equal(a, b)


def test_evaluate_denoising_oracle_raises_instead_of_an_inf_mean():
  images = _denoise_images()
  # An "oracle" that sees the clean image: PSNR inf, mean/SEM undefined.
  order = iter(list(images.values()) * 2)
  oracle = lambda noisy, sigma: next(order).astype(np.float32) / 255.0
  with pytest.raises(ValueError, match=r"'oracle'.*image a.*sigma15"):
    protocols.evaluate_denoising(images, {"oracle": oracle}, sigmas=(15,),
                                quantized=(False,), progress=False)


def test_summarize_rejects_infinite_psnr_and_names_the_image():
  with pytest.raises(ValueError, match=r"\['b'\]"):
    tables.summarize({"a": 30.0, "b": float("inf")}, {"a": 0.9, "b": 1.0})
  r = tables.summarize({"a": 30.0, "b": 32.0}, {"a": 0.8, "b": 0.9})
  assert r["psnr"] == 31.0 and r["ssim"] == pytest.approx(0.85)
  assert r["psnr_sem"] == pytest.approx(1.0 / np.sqrt(2), rel=0.05)


def test_evaluate_denoising_rejects_a_wrong_output_shape():
  with pytest.raises(ValueError, match="'flat' returned shape"):
    protocols.evaluate_denoising(
        _denoise_images(), {"flat": lambda noisy, sigma: noisy[..., 0]},
        sigmas=(15,), quantized=(False,), progress=False)


# -- evaluate_superres --------------------------------------------------------


def test_evaluate_superres_bicubic_matches_a_hand_computation():
  images = {"s1": smooth_image(40, 44, 3, seed=2),
            "s2": smooth_image(38, 41, 3, seed=3)}
  results, _ = protocols.evaluate_superres(
      images, {"bicubic": baselines.bicubic_upscale_uint8}, scales=(2, 3),
      progress=False)
  assert set(results["bicubic"]) == {"x2", "x3"}
  for scale in (2, 3):
    r = results["bicubic"][f"x{scale}"]
    assert set(r) == RESULT_KEYS and r["n"] == 2
    psnrs, ssims = [], []
    for image_id, image in images.items():
      h = image.shape[0] - image.shape[0] % scale
      w = image.shape[1] - image.shape[1] % scale
      high = image[:h, :w]
      low = operators.imresize(high, 1.0 / scale)
      up = operators.imresize(low, scale)
      psnr, ssim = metrics.superres_metrics(up, high, scale)
      assert r["per_image"][image_id] == psnr
      psnrs.append(psnr)
      ssims.append(ssim)
    assert r["psnr"] == pytest.approx(np.mean(psnrs), abs=1e-12)
    assert r["ssim"] == pytest.approx(np.mean(ssims), abs=1e-12)


def test_evaluate_superres_rejects_a_wrong_output_shape():
  images = {"s": smooth_image(24, 24, 3)}
  with pytest.raises(ValueError, match="'half' returned shape"):
    protocols.evaluate_superres(images, {"half": lambda low, s: low},
                               scales=(2,), progress=False)


def test_bicubic_row_of_table3_on_bsd100(bsds_dir):
  images = bsds.load_images("test", gray=False, data_dir=bsds_dir,
                            download=False)
  assert len(images) == 100
  results, _ = protocols.evaluate_superres(
      images, {"bicubic": baselines.bicubic_upscale_uint8}, progress=False)
  evaluation = tasks.get("superres").evaluation
  paper_psnr = evaluation.paper_rows("bsd100")["Bicubic"]
  paper_ssim = evaluation.paper_rows("bsd100", "ssim")["Bicubic"]
  assert paper_psnr == {"x2": 29.55, "x3": 27.20, "x4": 25.96}
  for setting in ("x2", "x3", "x4"):
    r = results["bicubic"][setting]
    assert r["n"] == 100
    assert round(r["psnr"], 2) == paper_psnr[setting], (setting, r["psnr"])
    assert round(r["ssim"], 4) == paper_ssim[setting], (setting, r["ssim"])


def _fake(psnr, ssim):
  return {"psnr": psnr, "ssim": ssim, "psnr_sem": 0.1, "ssim_sem": 0.001,
          "n": 100, "per_image": {"1": psnr}}


def test_markdown_table_has_our_rows_and_the_paper_rows():
  results = {"bicubic": {f"x{s}": _fake(30.0 - s, 0.8) for s in (4, 2, 3)}}
  table = tables.markdown_table(results, "superres", "bsd100")
  lines = table.splitlines()
  assert lines[0] == "| method | x2 | x3 | x4 |"
  assert "| bicubic (ours) | 28.00 ± 0.10 | 27.00 ± 0.10 | 26.00 ± 0.10 |" in (
      lines)
  assert "| Bicubic (paper) | 29.55 | 27.20 | 25.96 |" in lines
  assert "| RIM (paper) | 31.39 | 28.51 | 27.01 |" in lines
  ssim = tables.markdown_table(results, "superres", "bsd100", "ssim")
  assert "| Bicubic (paper) | 0.8425 | 0.7382 | 0.6672 |" in ssim
  assert "0.8000 ± 0.0010" in ssim


def test_markdown_table_orders_denoising_settings():
  results = {"bm3d": {s: _fake(28.0, 0.8) for s in
                      ("sigma25_q8", "sigma50", "sigma15", "sigma25")}}
  lines = tables.markdown_table(results, "denoise", "bsd68").splitlines()
  assert lines[0] == "| method | sigma15 | sigma25 | sigma50 | sigma25_q8 |"
  assert "| BM3D (paper) | 31.08 | 28.56 | 25.62 | 28.31 |" in lines
  assert "| RIM-denoise (paper) | 31.31 | 28.91 | 26.06 | 28.76 |" in lines


def test_write_results_writes_json_and_markdown(tmp_path):
  results = {"bicubic": {"x2": _fake(29.5, 0.84)}}
  path = tmp_path / "out.json"
  text = tables.write_results(results, {"bicubic": 0.5}, path, "superres",
                                "bsd100", {"command": "cmd"})
  assert json.loads(path.read_text()) == results
  md = (tmp_path / "out.md").read_text()
  assert md == text
  assert md.startswith("# superres on bsd100")
  assert "- command: cmd" in md and "Seconds per image: bicubic 0.50" in md
  assert "| Bicubic (paper) | 29.55 |" in md


def test_comparison_table_differences_wins_and_gap_to_the_paper(tmp_path):
  def entry(values):
    return {"psnr": float(np.mean(values)), "ssim": 0.8, "psnr_sem": 0.1,
            "ssim_sem": 0.01, "n": 3,
            "per_image": dict(zip(("a", "b", "c"), values))}

  results = {"rim": {"sigma25": entry([30.0, 28.0, 27.0]),
                     "sigma15": entry([33.0, 31.0, 30.5])},
             "bm3d": {"sigma25": entry([29.0, 28.5, 26.0]),
                      "sigma15": entry([33.5, 31.5, 30.0])}}
  table = tables.comparison_table(results, "denoise", "bsd68", "rim")
  # Means: rim 31.5 / 28.333..., bm3d 31.666... / 27.833...
  assert table.splitlines() == [
      "| PSNR (dB) | sigma15 | sigma25 |",
      "|---|---|---|",
      "| rim − bm3d (same run) | -0.17 | +0.50 |",
      "| images where rim beats bm3d | 1 / 3 | 2 / 3 |"]
  assert tables.comparison_table({"rim": results["rim"]}, "superres",
                                   "bsd100", "rim") == ""
  text = tables.write_results(results, {"rim": 1.0, "bm3d": 2.0},
                                tmp_path / "r.json", "denoise", "bsd68",
                                ours="rim")
  assert "| rim − bm3d (same run) | -0.17 | +0.50 |" in text
  assert ("The paper's rows are over all 68 images of bsd68; this run "
          "scored 3, so no difference to them is taken.") in text


def test_comparison_table_takes_the_paper_gap_on_the_whole_subset(tmp_path):
  def whole(psnr, n=68):
    return {"psnr": psnr, "ssim": 0.8, "psnr_sem": 0.1, "ssim_sem": 0.01,
            "n": n, "per_image": {str(i): psnr for i in range(n)}}

  results = {"rim": {"sigma15": whole(31.5), "sigma25": whole(28.3)}}
  # The paper's RIM-denoise on BSD68: 31.31 / 28.91.
  table = tables.comparison_table(results, "denoise", "bsd68", "rim")
  assert table.splitlines()[2:] == [
      "| rim − RIM-denoise (paper) | +0.19 | -0.61 |"]
  text = tables.write_results(results, {"rim": 1.0}, tmp_path / "r.json",
                                "denoise", "bsd68", ours="rim")
  assert "| rim − RIM-denoise (paper) | +0.19 | -0.61 |" in text
  assert "no difference to them is taken" not in text
  # Super-resolution: the paper's SRCNN row (31.11 / 28.20), then its RIM
  # (31.39 / 28.51).
  results = {"rim": {"x2": whole(31.5, 100), "x3": whole(28.3, 100)}}
  table = tables.comparison_table(results, "superres", "bsd100", "rim")
  assert table.splitlines()[2:] == [
      "| rim − SRCNN (paper) | +0.39 | +0.10 |",
      "| rim − RIM (paper) | +0.11 | -0.21 |"]
  # Another of the paper's RIMs: RIM-3task on BSD68, 31.19 / 28.67.
  results = {"rim": {"sigma15": whole(31.5), "sigma25": whole(28.3)}}
  table = tables.comparison_table(results, "denoise", "bsd68", "rim",
                                    paper_rim="RIM-3task")
  assert table.splitlines()[2:] == [
      "| rim − RIM-3task (paper) | +0.31 | -0.37 |"]


def test_baseline_methods_pick_per_task_and_refuse_mismatches():
  methods = protocols.baseline_methods

  assert methods("denoise", ["rim", "bm3d"]) == {
      "bm3d": baselines.bm3d_denoise}
  assert methods("denoise_color", ["bm3d"]) == {
      "cbm3d": baselines.cbm3d_denoise}
  assert methods("superres", ["bicubic", "rim"]) == {
      "bicubic": baselines.bicubic_upscale_uint8}
  for task, name, known in (("superres", "bm3d", "bicubic"),
                            ("denoise", "bicubic", "bm3d"),
                            ("denoise", "srcnn", "bm3d")):
    with pytest.raises(ValueError, match=f"{name!r} does not apply to task "
                       f"{task!r}; its methods are \\['{known}', 'rim'\\]"):
      methods(task, [name])


def test_run_evaluation_checks_weights_before_looking_for_data(tmp_path):
  empty = tmp_path / "empty"
  empty.mkdir()
  with pytest.raises(ValueError, match="needs --weights"):
    runner.run_evaluation("denoise", ["rim"], "bsd68", tmp_path / "o.json",
                            data_dir=str(empty))
  with pytest.raises(ValueError, match="needs --weights"):
    runner.run_evaluation("random_projections", ["rim"], "bsd68",
                            tmp_path / "o.json", data_dir=str(empty))
  with pytest.raises(ValueError, match="'bicubic'.*'denoise'"):
    runner.run_evaluation("denoise", ["bicubic"], "bsd68",
                            tmp_path / "o.json", data_dir=str(empty))
  with pytest.raises(ValueError, match=r"no row 'RIM-4task' for task "
                     r"'denoise'; its rows: \['BM3D', 'RIM-3task', "
                     r"'RIM-denoise'\]"):
    runner.run_evaluation("denoise", ["bm3d"], "bsd68", tmp_path / "o.json",
                            data_dir=str(empty), paper_rim="RIM-4task")
  assert list(empty.iterdir()) == []


def test_one_run_writes_the_bsd100_and_bsd68_tables(bsds_dir, tmp_path):
  weights = export_untrained_rim(tmp_path)
  output = tmp_path / "rim_{subset}.json"
  runner.run_evaluation("denoise", ["rim"], ["bsd68", "bsd100"],
                          str(output), data_dir=bsds_dir, weights=str(weights),
                          sigmas=(25,), quantized=(False,), num_images=4)
  every = json.loads((tmp_path / "rim_bsd100.json").read_text())["rim"][
      "sigma25"]
  bsd68 = json.loads((tmp_path / "rim_bsd68.json").read_text())["rim"][
      "sigma25"]
  assert every["n"] == 4 and 1 <= bsd68["n"] < 4
  assert set(bsd68["per_image"]) == set(bsds.BSD68) & set(every["per_image"])
  for image_id, value in bsd68["per_image"].items():
    assert value == every["per_image"][image_id]
  assert bsd68["psnr"] == pytest.approx(np.mean(list(
      bsd68["per_image"].values())), abs=1e-12)
  assert "- images: 4" in (tmp_path / "rim_bsd100.md").read_text()


def test_slices_of_a_run_score_its_images_as_the_whole_run(bsds_dir,
                                                          tmp_path):
  weights = export_untrained_rim(tmp_path)
  settings = dict(data_dir=bsds_dir, weights=str(weights), sigmas=(25,),
                  quantized=(False,))
  runner.run_evaluation("denoise", ["rim"], "bsd100",
                        str(tmp_path / "all.json"), num_images=4, **settings)
  whole = json.loads((tmp_path / "all.json").read_text())["rim"]["sigma25"]
  parts = {}
  for first in (0, 2):
    runner.run_evaluation("denoise", ["rim"], "bsd100",
                          str(tmp_path / f"{first}.json"), num_images=2,
                          first_image=first, **settings)
    part = json.loads((tmp_path / f"{first}.json").read_text())["rim"][
        "sigma25"]["per_image"]
    assert len(part) == 2 and not set(part) & set(parts)
    parts.update(part)
  assert parts == whole["per_image"]
  # Joined again, the slices are the whole run, its SEM included.
  combined, _ = combination.combine(
      [(first, *combination.read_part(tmp_path / f"{first}.json")[:2])
       for first in (2, 0)], "bsd100")
  assert combined["rim"]["sigma25"] == whole
  for first, fragment in ((-1, "whole number >= 0"), (1.5, "whole number"),
                          (100, "past the last of the 100")):
    with pytest.raises(ValueError, match=fragment):
      runner.run_evaluation("denoise", ["rim"], "bsd100",
                            str(tmp_path / "x.json"), first_image=first,
                            **settings)


def test_several_rims_in_one_run_are_compared_first_against_the_rest(
    bsds_dir, tmp_path):
  # Table 1's use: a colour RIM beside a gray one run per channel. A folder
  # with a comma in its name: a Path is one path.
  (tmp_path / "a,b").mkdir()
  colour = export_untrained_rim(tmp_path / "a,b", task="denoise_color")
  gray = export_untrained_rim(tmp_path)
  settings = {"sigmas": (25,), "quantized": (True,), "num_images": 2}
  report = runner.run_evaluation(
      "denoise_color", ["rim"], "bsd68", str(tmp_path / "two.json"),
      data_dir=bsds_dir, weights=[colour, gray],
      rim_name="colour, per_channel", **settings)
  alone = runner.run_evaluation(
      "denoise_color", ["rim"], "bsd68", str(tmp_path / "one.json"),
      data_dir=bsds_dir, weights=colour, rim_name="colour", **settings)
  results = json.loads((tmp_path / "two.json").read_text())
  assert list(results) == ["colour", "per_channel"]
  # Each name restored with its own weights.
  assert results["colour"] == json.loads(
      (tmp_path / "one.json").read_text())["colour"]
  assert results["colour"]["sigma25_q8"]["per_image"] != results[
      "per_channel"]["sigma25_q8"]["per_image"]
  difference = (results["colour"]["sigma25_q8"]["psnr"] -
                results["per_channel"]["sigma25_q8"]["psnr"])
  assert (f"| colour − per_channel (same run) | {difference:+.2f} |"
          in report)
  # Which weights scored: their file's name (no folder of this machine),
  # export step and sha256 (first 12 digits).
  def provenance(path):
    return (f"{path.name} (step 0, sha256 "
            f"{hashlib.sha256(path.read_bytes()).hexdigest()[:12]})")

  assert (f"- weights: colour={provenance(colour)}, "
          f"per_channel={provenance(gray)}") in report
  assert "- rim_steps: colour=2, per_channel=2" in report
  assert f"- weights: colour={provenance(colour)}\n" in alone


def test_denoising_tables_say_where_each_rim_starts(bsds_dir, tmp_path):
  # The 3-task RIM denoises from a flat start (Table 2's RIM-3task row).
  three_task = export_untrained_rim(tmp_path, task="random_projections")
  gray = export_untrained_rim(tmp_path)
  report = runner.run_evaluation(
      "denoise", ["rim"], "bsd68", str(tmp_path / "start.json"),
      data_dir=bsds_dir, weights=[three_task, gray],
      rim_name="three_task,gray", sigmas=(25,), quantized=(False,),
      num_images=1, paper_rim="RIM-3task")
  assert "- rim_start: three_task=flat, gray=measurement\n" in report
  results = json.loads((tmp_path / "start.json").read_text())
  flat = engine.Restorer.from_weights(three_task)[0]
  image_id, clean = next(iter(bsds.load_images(
      "test", data_dir=bsds_dir, subset="bsd68").items()))
  noisy = protocols.noisy_image(clean, 25, False,
                               protocols.noise_seed(0, 25, image_id))
  expected = metrics.psnr_255(metrics.to_uint8(flat.denoise(noisy, 25)),
                               clean)
  assert results["three_task"]["sigma25"]["per_image"] == pytest.approx(
      {image_id: expected}, abs=1e-6)


@pytest.mark.parametrize("names,message", [
    ("one", r"one name per weights file"),
    ("same,same", r"names must differ"),
    ("rim,bm3d", r"\['bm3d'\] are also baseline methods' names"),
])
def test_rim_names_that_do_not_fit_are_refused_before_looking_for_data(
    tmp_path, names, message):
  weights = export_untrained_rim(tmp_path)
  with pytest.raises(ValueError, match=message):
    runner.run_evaluation(
        "denoise", ["rim", "bm3d"], "bsd68", str(tmp_path / "o.json"),
        data_dir=str(tmp_path / "no_data"), weights=f"{weights},{weights}",
        rim_name=names)
  assert not (tmp_path / "o.json").exists()


def test_figure2_refuses_rims_trained_with_different_t(tmp_path):
  (tmp_path / "t3").mkdir()
  two = export_untrained_rim(tmp_path, task="random_projections", steps=2)
  three = export_untrained_rim(tmp_path / "t3", task="random_projections",
                               steps=3)
  with pytest.raises(ValueError, match=r"different ones: \{'RIM': 2, "
                     r"'FFN': 3\}"):
    runner.run_evaluation("random_projections", ["rim"], (),
                            str(tmp_path / "c.json"),
                            data_dir=str(tmp_path / "no_data"),
                            weights=[two, three], rim_name=["RIM", "FFN"])


def test_a_subset_with_no_evaluated_image_is_refused_before_evaluating(
    bsds_dir, tmp_path, monkeypatch):
  monkeypatch.setattr(bsds, "BSD68", ["not-an-id"])
  with pytest.raises(ValueError, match=r"none of the 2 images .*bsd68"):
    runner.run_evaluation("denoise", ["rim"], ["bsd68", "bsd100"],
                            str(tmp_path / "r_{subset}.json"),
                            data_dir=bsds_dir, weights="denoise_gray",
                            num_images=2)
  assert list(tmp_path.iterdir()) == []


# -- random projections (Figure 2) ----------------------------------------------


def test_test_patches_leave_out_constant_patches():
  # Left half flat (every 8 x 8 patch there is constant), right half ramps.
  image = np.zeros([12, 24, 1], np.uint8)
  image[:, :12] = 255
  image[:, 12:] = np.arange(12, dtype=np.uint8)[None, :, None] * 20
  images = {"a": image}
  patches = protocols.test_patches(images, 40, patch_size=8, seed=3)
  assert patches.shape == (40, 8, 8, 1)
  assert patches.dtype == np.float32
  spread = np.ptp(patches.reshape(40, -1), axis=1)
  assert np.all(spread > 0)
  # Every patch is one of the image's (up to its 17 x 5 positions).
  every = {image[i:i + 8, j:j + 8].tobytes() for i in range(5)
           for j in range(17)}
  assert all(np.round(p * 255).astype(np.uint8).tobytes() in every
             for p in patches)
  # Of the 85 positions, the 5 x 5 at columns 0-4 are constant.
  assert len(protocols.test_patches(images, 60, patch_size=8, seed=3)) == 60
  with pytest.raises(ValueError, match="hold 60 patches of 8² that are not "
                     "constant; 61 asked"):
    protocols.test_patches(images, 61, patch_size=8, seed=3)
  with pytest.raises(ValueError, match="test patches must be >= 1, got 0"):
    protocols.test_patches(images, 0, patch_size=8, seed=3)


def _saved_curves(train_steps=3):
  def curve(mean):
    return {"mean": mean, "std": [0.0] * len(mean), "n": 2}
  return {"train_steps": train_steps, "ratio": 0.25, "curves": {
      "RIM": {"gaussian": curve([10.0, 12.0, 14.0, 16.0, 15.0]),
              "fourier": curve([8.0, 9.0, 9.5, 9.75, 9.25])},
      "GDN": {"gaussian": curve([10.0, 11.0, 15.0, 15.5, 15.25]),
              "fourier": curve([8.0, 9.25, 9.5, 9.0, 8.0])}}}


def test_curves_table_marks_t_and_the_best_model_per_ensemble():
  table = curves.curves_table(_saved_curves(), steps=(0, 1, 10))
  # Step 10 is past the curves' end; T = 3 is shown though not asked; the
  # last column is the mean over steps 1..4; step 0 is never bold.
  assert table.splitlines() == [
      "| model, ensemble | step 0 | 1 | 3 (= T) | mean of steps 1–4 |",
      "|---|---|---|---|---|",
      "| RIM, Gaussian | 10.00 | **12.00** | **16.00** | **14.25** |",
      "| GDN, Gaussian | 10.00 | 11.00 | 15.50 | 14.19 |",
      "| RIM, Fourier | 8.00 | 9.00 | **9.75** | **9.38** |",
      "| GDN, Fourier | 8.00 | **9.25** | 9.00 | 8.94 |"]


def test_curves_table_bolds_ties_as_printed():
  saved = _saved_curves()
  saved["curves"]["GDN"]["gaussian"]["mean"][1] = 12.001
  rows = curves.curves_table(saved, steps=(1,)).splitlines()
  assert rows[2].startswith("| RIM, Gaussian | **12.00** |")
  assert rows[3].startswith("| GDN, Gaussian | **12.00** |")


def test_curves_table_of_one_model_bolds_nothing():
  saved = _saved_curves()
  del saved["curves"]["GDN"]
  assert "**" not in curves.curves_table(saved)


def test_load_curves_refuses_other_json(tmp_path):
  saved = tmp_path / "c.json"
  saved.write_text(json.dumps(_saved_curves()))
  assert curves.load_curves(str(saved)) == _saved_curves()
  other = tmp_path / "o.json"
  other.write_text(json.dumps({"rim": {"sigma25": {}}}))
  with pytest.raises(ValueError, match=r"o.json is not a curves JSON .* "
                     r"lacks \['curves', 'ratio', 'train_steps'\]"):
    curves.load_curves(str(other))


def test_evaluate_random_projections_curves(tiny_rim):
  patches = np.stack([smooth_image(8, 8, 1, seed=s) for s in range(6)])
  patches = (patches / 255.0).astype(np.float32)
  other = rim_model.build_rim("rim", 1, features=8, gru_features=8,
                              ablation="ffn", num_steps=2)
  steps, ratio, seed = 3, 0.25, 4
  kinds = ("gaussian", "binary", "fourier")
  curves = protocols.evaluate_random_projections(
      {"rim": tiny_rim, "ffn": other}, patches,
      tasks.make("random_projections"), kinds=kinds, ratio=ratio,
      steps=steps, batch_size=4, seed=seed)
  assert set(curves) == {"rim", "ffn"}
  for k, kind in enumerate(kinds):
    # Step 0: the PSNR of the operator's initial estimate, the same for all.
    per_patch = []
    for start in (0, 4):
      batch = corruptions.RandomProjections((kind,), (ratio,), 1.0)(
          {"x": tf.constant(patches[start:start + 4])},
          tf.constant([seed * 1000 + k, start], tf.int64))
      op = operators.MatrixProjection(batch["matrix"], (8, 8, 1))
      x0 = op.initial_estimate(batch["y"])
      per_patch.append(metrics.psnr_tf(x0, batch["x"]).numpy())
    per_patch = np.concatenate(per_patch)
    for name in ("rim", "ffn"):
      c = curves[name][kind]
      assert c["n"] == 6
      assert len(c["mean"]) == len(c["std"]) == steps + 1
      assert np.all(np.isfinite(c["mean"]))
      assert c["mean"][0] == pytest.approx(per_patch.mean(), abs=1e-4)
      assert c["std"][0] == pytest.approx(per_patch.std(), abs=1e-4)
    assert curves["rim"][kind]["mean"][1:] != curves["ffn"][kind]["mean"][1:]


def test_the_deblurring_input_is_circular_blur_seeded_noise_and_8_bits():
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  from rim_tf.data import kernels  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  clean = rng.integers(0, 256, (40, 36, 1), dtype=np.uint8)
  kernel = kernels.levin09()[2]
  # numpy.random.seed(0), then one normal draw of the image's shape.
  np.random.seed(0)
  noise = np.random.normal(0, 7.65 / 255, (40, 36))
  for boundary, mode in (("circular", "wrap"), ("replicate", "nearest")):
    got = protocols.blurred_image(clean, kernel, 7.65, boundary=boundary)
    blurred = ndimage.convolve(clean[..., 0] / 255.0, kernel, mode=mode)
    want = np.clip(np.round((blurred + noise) * 255), 0, 255) / 255
    np.testing.assert_allclose(got[..., 0], want, atol=1e-6)
  assert not np.array_equal(protocols.blurred_image(clean, kernel, 7.65),
                            got)


def test_deblurring_scores_each_kernel_and_their_mean_per_image():
  rng = np.random.default_rng(1)
  images = {"a": rng.integers(0, 256, (24, 24, 1), dtype=np.uint8),
            "b": rng.integers(0, 256, (24, 24, 1), dtype=np.uint8)}
  kernels = [np.full((3, 3), 1 / 9), np.full((5, 5), 1 / 25)]
  methods = {"blurred": lambda y, k, s: y}
  results, _ = protocols.evaluate_deblurring(
      images, methods, sigmas=(2.55,), kernels=kernels, progress=False)
  by_setting = results["blurred"]
  assert sorted(by_setting) == ["sigma2.55", "sigma2.55_k1", "sigma2.55_k2"]
  for image_id, clean in images.items():
    per_kernel = [metrics.psnr_255(metrics.to_uint8(
        protocols.blurred_image(clean, k, 2.55)), clean) for k in kernels]
    for k, value in enumerate(per_kernel, start=1):
      assert by_setting[f"sigma2.55_k{k}"]["per_image"][image_id] == \
          pytest.approx(value)
    assert by_setting["sigma2.55"]["per_image"][image_id] == pytest.approx(
        np.mean(per_kernel))
  assert tables.setting_order("sigma2.55_k2") < tables.setting_order(
      "sigma7.65") < tables.setting_order("sigma15")


def test_markdown_table_shows_published_rows_only_for_their_settings():
  unclipped = {"cbm3d": {s: _fake(30.0, 0.8) for s in
                         ("sigma15", "sigma25", "sigma50", "sigma25_q8")}}
  lines = tables.markdown_table(unclipped, "denoise_color",
                                "bsd68").splitlines()
  assert "| CBM3D (published) | 33.52 | 30.71 | 27.38 |  |" in lines
  assert "| CDnCNN-B (published) |  | 31.23 |  |  |" in lines
  assert "| DRUNet (published) | 34.30 | 31.69 | 28.51 |  |" in lines
  assert "| CBM3D (paper) |  |  |  | 30.18 |" in lines
  assert lines[-1].startswith("Published rows: CBM3D, as tabulated by")
  # Table 1's setting alone: none of them printed it.
  quantized = {"cbm3d": {"sigma25_q8": _fake(30.0, 0.8)}}
  table = tables.markdown_table(quantized, "denoise_color", "bsd68")
  assert "(published)" not in table and "Published rows" not in table
  # Not on the 100 images, nor for SSIM.
  assert "(published)" not in tables.markdown_table(unclipped,
                                                    "denoise_color", "bsd100")
  assert "(published)" not in tables.markdown_table(
      unclipped, "denoise_color", "bsd68", "ssim")


def _synthetic_results(methods, ids, offset=0.0):
  """{method: {setting: summary}} with made-up per-image values."""
  rng = np.random.default_rng(7)
  values = {(m, s, i): float(rng.uniform(20, 30)) + offset
            for m in ("rim", "bm3d", "wiener") for s in ("sigma2.55_k1",
                                                         "sigma2.55")
            for i in sorted(set(bsds.BSD68[:6]) | set(_BSD100_IDS))}
  return {m: {s: tables.summarize({i: values[m, s, i] for i in ids},
                                  {i: values[m, s, i] / 40 for i in ids})
              for s in ("sigma2.55_k1", "sigma2.55")} for m in methods}


# Test ids of 4 to 6 digits, in the order a whole run takes them (by
# number, `bsds.read_ids`), not as strings sort.
_BSD100_IDS = ("3096", "8023", "12084", "58060", "101085", "108005")


def test_combine_of_slices_and_methods_equals_the_whole_run():
  ids = bsds.BSD68[:6]
  whole = _synthetic_results(("rim", "bm3d", "wiener"), ids)
  parts = [("a", _synthetic_results(("bm3d", "wiener"), ids[3:]),
            {"bm3d": 30.0, "wiener": 0.5}),
           ("b", _synthetic_results(("bm3d", "wiener"), ids[:3]),
            {"bm3d": 20.0, "wiener": 0.1}),
           ("c", _synthetic_results(("rim", "wiener"), ids[::-1]),
            {"rim": 2.0, "wiener": 0.3})]
  # A run on all 100 images gives its BSD68 images to the BSD68 table.
  outside = "58060"  # A BSDS300 test image outside BSD68.
  assert outside not in bsds.BSD68
  parts[2][1]["rim"]["sigma2.55"]["per_image"][outside] = 99.0
  parts[2][1]["rim"]["sigma2.55"]["per_image_ssim"][outside] = 0.5
  combined, seconds = combination.combine(parts, "bsd68")
  assert combined == whole  # Per image, mean and bootstrap SEM.
  assert list(combined["bm3d"]["sigma2.55"]["per_image"]) == list(ids)
  assert seconds == pytest.approx({"bm3d": 25.0, "rim": 2.0,
                                   "wiener": (0.5 * 3 + 0.1 * 3 + 0.3 * 6) /
                                   12})


def test_combine_takes_the_100_images_in_the_whole_runs_order():
  whole = _synthetic_results(("rim",), _BSD100_IDS)
  combined, _ = combination.combine(
      [("b", _synthetic_results(("rim",), _BSD100_IDS[3:]), {}),
       ("a", _synthetic_results(("rim",), _BSD100_IDS[:3]), {})], "bsd100")
  assert combined == whole
  assert list(combined["rim"]["sigma2.55"]["per_image"]) == list(_BSD100_IDS)


def test_combine_refuses_parts_that_disagree_or_do_not_cover_alike():
  ids = bsds.BSD68[:6]
  other = _synthetic_results(("wiener",), ids[:2], offset=0.01)
  with pytest.raises(ValueError, match=r"'wiener' at sigma2.55\S* scores "
                     r"image \S+ \S+ in a.json and \S+ in b.json: their "
                     r"inputs or code differ"):
    combination.combine([("a.json", _synthetic_results(("wiener",), ids), {}),
                    ("b.json", other, {})], "bsd68")
  with pytest.raises(ValueError, match=r"'rim' at .* no result for images "
                     r"\['" + ids[3]):
    combination.combine([("a", _synthetic_results(("rim",), ids[:3]), {}),
                    ("b", _synthetic_results(("wiener",), ids), {})],
                   "bsd68")
  fewer = _synthetic_results(("rim",), ids[3:])
  del fewer["rim"]["sigma2.55"]
  with pytest.raises(ValueError, match=r"'rim' has settings "
                     r"\['sigma2.55_k1'\] in b.json but .* in a.json"):
    combination.combine([("a.json", _synthetic_results(("rim",), ids[:3]), {}),
                    ("b.json", fewer, {})], "bsd68")
  with pytest.raises(ValueError, match="no part has an image of bsd68"):
    combination.combine([("a", _synthetic_results(("rim",), ("58060",)), {})],
                   "bsd68")


def test_read_part_names_a_file_that_is_not_a_results_file(tmp_path):
  cases = {"missing.json": None, "text.json": "not json",
           "empty.json": "{}", "list.json": "[1, 2]",
           "curves.json": json.dumps({"rim": {"sigma25": {"psnr": 1.0}}})}
  for name, text in cases.items():
    if text is not None:
      (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / name))):
      combination.read_part(tmp_path / name)


def _write_parts(tmp_path, shas=("cd12", "cd12")):
  """Two results files of a RIM named rim, on BSD68 images 0-2 and 3-5."""
  ids = bsds.BSD68[:6]
  paths = []
  for number, part in enumerate((ids[:3], ids[3:])):
    path = tmp_path / f"part{number}.json"
    tables.write_results(
        _synthetic_results(("rim",), part), {"rim": 9.0}, path, "deblur",
        "bsd68", {"command": f"python evaluate.py part {number}",
                  "weights": f"rim=deblur.weights.h5 (step 8000, sha256 "
                             f"{shas[number]})", "rim_steps": "rim=10"})
    paths.append(str(path))
  return paths


def test_combine_files_writes_the_union_with_every_parts_command(tmp_path):
  paths = _write_parts(tmp_path)
  output = tmp_path / "all.json"
  report = combination.combine_files([str(tmp_path / "part*.json")], output,
                                     command="python combine.py")
  assert json.loads(output.read_text()) == _synthetic_results(
      ("rim",), bsds.BSD68[:6])
  md = (tmp_path / "all.md").read_text()
  assert md == report and md.startswith("# deblur on bsd68")  # Its task.
  assert "- command: python combine.py" in md
  assert "- part 0: python evaluate.py part 0" in md
  assert "- part 1: python evaluate.py part 1" in md
  assert "- images: 6" in md and "Seconds per image: rim 9.00" in md
  assert "- weights: rim=deblur.weights.h5 (step 8000, sha256 cd12)" in md
  assert combination.expand_inputs([paths[1], str(tmp_path / "p*.json")]) == [
      paths[1], paths[0]]


def test_combine_files_refuses_what_does_not_join_and_keeps_its_inputs(
    tmp_path):
  paths = _write_parts(tmp_path, shas=("cd12", "ab12"))
  before = {p: (open(p).read(), open(p[:-5] + ".md").read()) for p in paths}
  output = tmp_path / "all.json"
  for target in (paths[0], paths[1][:-5] + ".md", paths[1][:-5]):
    with pytest.raises(ValueError, match="would overwrite the input"):
      combination.combine_files(paths, target)
  with pytest.raises(ValueError, match=re.escape(
      f"RIM 'rim' is weights cd12 in {paths[0]} but ab12 in {paths[1]}: "
      f"not the same RIM.")):
    combination.combine_files(paths, output)
  with pytest.raises(ValueError, match=re.escape(
      "the task is denoise, but the parts are of ['deblur'].")):
    combination.combine_files(paths[:1], output, task="denoise")
  with pytest.raises(ValueError, match="the pattern .*x\\*.json matches no "
                     "file"):
    combination.combine_files([str(tmp_path / "x*.json")], output)
  with pytest.raises(FileNotFoundError, match="does not exist"):
    combination.combine_files(paths[:1], tmp_path / "no" / "all.json")
  assert {p: (open(p).read(), open(p[:-5] + ".md").read())
          for p in paths} == before
  assert not output.exists()


def test_combine_results_binary_is_one_line_on_bad_input_and_writes(
    tmp_path):
  paths = _write_parts(tmp_path)
  script = os.path.join(os.path.dirname(__file__), os.pardir, "experiments",
                        "combine_results.py")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  run = lambda *args: subprocess.run(  # pylint: disable=g-long-lambda
      [sys.executable, script, *args], env=env, capture_output=True,
      text=True, timeout=240)
  refused = run(f"--inputs={','.join(paths)}", f"--output={paths[0]}")
  assert refused.returncode != 0 and "Traceback" not in refused.stderr
  assert [l for l in refused.stderr.splitlines() if l.startswith("error: ")
          ] == [f"error: the output {paths[0]} would overwrite the input "
                f"{paths[0]} or its markdown; write the combination to a "
                f"new file."]
  done = run(f"--inputs={tmp_path / 'part*.json'}",
             f"--output={tmp_path / 'all.json'}")
  assert done.returncode == 0, done.stderr
  assert "# deblur on bsd68" in done.stdout
  assert json.loads((tmp_path / "all.json").read_text()) == (
      _synthetic_results(("rim",), bsds.BSD68[:6]))
