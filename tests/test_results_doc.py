"""docs/results.md is what the committed result files give."""

import dataclasses
import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from rim_tf.evaluation import results_doc

REPO = pathlib.Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "results"
PAGE = REPO / "docs" / "results.md"


def test_the_results_page_agrees_with_the_result_files():
  done = subprocess.run(
      [sys.executable, str(REPO / "experiments" / "results_tables.py"),
       "--check"], capture_output=True, text=True, cwd=str(REPO),
      check=False, timeout=120)
  assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture
def copied(tmp_path):
  """A copy of the result files and the page, to change."""
  results = tmp_path / "results"
  shutil.copytree(RESULTS, results)
  page = tmp_path / "results.md"
  shutil.copy(PAGE, page)
  return results, page


def test_a_changed_number_in_a_result_file_fails_the_check(copied):
  results, page = copied
  path = results / "superres_bsd100.json"
  data = json.loads(path.read_text())
  data["rim"]["x3"]["psnr"] += 0.01
  path.write_text(json.dumps(data))
  problems = results_doc.check(page, results)
  assert len(problems) == 1 and "superres" in problems[0]
  assert "28.73" in problems[0] and "28.72" in problems[0]


def test_a_hand_edited_page_fails_the_check(copied):
  results, page = copied
  page.write_text(page.read_text().replace("| fast |", "| quick |"))
  assert results_doc.check(page, results)
  page.write_text(page.read_text() + "one more line\n")
  assert results_doc.check(page, results)


def test_a_table_of_other_weights_than_the_shipped_is_refused(copied):
  results, _ = copied
  md = results / "denoise_gray_bsd68.md"
  md.write_text(md.read_text().replace("sha256 404588b54b5c",
                                       "sha256 0123456789ab"))
  with pytest.raises(ValueError, match="not the shipped denoise_gray"):
    results_doc.render(results)


def test_a_hand_edited_readme_table_fails_the_check(copied, tmp_path):
  results, page = copied
  readme = tmp_path / "README.md"
  text = (REPO / "README.md").read_text()
  assert results_doc.check(page, results, readme=REPO / "README.md") == []
  readme.write_text(text.replace("| 31.43 / 29.01 / 26.10 |",
                                 "| 31.43 / 29.11 / 26.10 |"))
  problems = results_doc.check(page, results, readme=readme)
  assert len(problems) == 1 and "README.md's results table" in problems[0]
  readme.write_text("no markers")
  with pytest.raises(ValueError, match="no results-table markers"):
    results_doc.check(page, results, readme=readme)


def test_the_levin_table_shows_each_kernel_the_mean_and_the_times(tmp_path):
  from rim_tf.evaluation import tables  # pylint: disable=g-import-not-at-top
  rng = __import__("numpy").random.default_rng(0)

  def entry(offset):
    psnr = {str(i): 25.0 + offset + rng.random() for i in range(3)}
    return tables.summarize(psnr, {i: 0.8 for i in psnr})

  results = {"rim": {}, "bm3d": {}}
  for sigma in ("sigma2.55", "sigma7.65"):
    for k in range(1, 9):
      results["rim"][f"{sigma}_k{k}"] = entry(1.0)
      results["bm3d"][f"{sigma}_k{k}"] = entry(0.0)
    for name in results:
      results[name][sigma] = entry(0.5 if name == "rim" else -0.5)
  (tmp_path / "deblur_bsd68.json").write_text(json.dumps(results))
  (tmp_path / "deblur_bsd68.md").write_text(
      "# deblur\n\nSeconds per image: rim 1.97, bm3d 8.40\n")
  section = results_doc.Section(
      "Deblurring", "", "", "deblur_bsd68.json", render="levin",
      methods={"rim": "deblur", "bm3d": "BM3D-deblurring"})
  lines = results_doc._RENDERERS["levin"](section, tmp_path)  # pylint: disable=protected-access
  text = "\n".join(lines)
  assert "σ = 2.55" in text and "σ = 7.65" in text
  assert "| method | k1 | k2 | k3 | k4 | k5 | k6 | k7 | k8 | mean |" in text
  mean = (results["rim"]["sigma2.55"]["psnr"] -
          results["bm3d"]["sigma2.55"]["psnr"])
  assert f"{mean:+.2f} |" in text.split("σ = 7.65")[0]
  # Every RIM value is 1 dB above its BM3D value before a draw on [0, 1).
  wins = [line for line in text.splitlines()
          if line.startswith("| images where deblur beats BM3D-deblurring |")]
  assert len(wins) == 2 and wins[0].count("3 / 3") == 9
  assert "Seconds per image: deblur 1.97, BM3D-deblurring 8.40." in text
  # A table joined from slices run under different loads shows no times.
  quiet = dataclasses.replace(section, seconds=False)
  text = "\n".join(results_doc._RENDERERS["levin"](quiet, tmp_path))  # pylint: disable=protected-access
  assert "σ = 2.55" in text and "Seconds" not in text


def test_the_calibration_scores_show_one_held_out_column_or_one_per_setting(
    tmp_path):
  rows = {"a.weights.h5": {"step": 80, "psnr": 31.048},
          "b.weights.h5": {"step": 80, "psnr": 31.2166}}
  (tmp_path / "norm_calibration_deblur.json").write_text(json.dumps(rows))
  section = results_doc.Section("", "", "", "norm_calibration_deblur.json",
                                render="scores")
  assert results_doc._RENDERERS["scores"](section, tmp_path) == [  # pylint: disable=protected-access
      "| `deblur` (step 80) | held out |", "|---|---|",
      "| one set of statistics | 31.05 |", "| a row per step | 31.22 |",
      "| gain | +0.17 |", ""]
  rows = {"a": {"step": 8, "psnr_x2": 34.8, "psnr_x3": 31.7},
          "b": {"step": 8, "psnr_x2": 34.9, "psnr_x3": 31.95}}
  (tmp_path / "norm_calibration_sr.json").write_text(json.dumps(rows))
  section = dataclasses.replace(section, results="norm_calibration_sr.json")
  assert results_doc._RENDERERS["scores"](section, tmp_path)[0] == (  # pylint: disable=protected-access
      "| `sr` (step 8) | x2 | x3 |")


def test_a_readme_row_of_a_problem_outside_the_paper_has_no_paper_cell():
  rows = {line.split("|")[1].strip(): [cell.strip() for cell in
                                       line.split("|")[1:-1]]
          for line in results_doc.readme_table(RESULTS).splitlines()
          if line.startswith("| `")}
  assert rows["`deblur`"][-1] == ""
  assert rows["`deblur`"][3].startswith("BM3D-deblurring ")
  assert rows["`denoise_gray`"][-1].startswith("RIM-denoise 31.")


def test_the_hypothesis_table_shows_each_probe_row_and_its_command(tmp_path):
  folder = tmp_path / "rp_hypotheses"
  folder.mkdir()
  row = {"patches": 76800, "train_steps": 10,
         "held_out_at_T": {"gaussian": 26.5871, "binary": 26.5749,
                           "fourier": 25.1249},
         "transfer_bsd68_first10": {"sigma50": 20.874, "sigma15": 27.0634,
                                    "sigma25": 23.6577},
         "command": "python docs/probes/rp_hypotheses.py --weights=a"}
  (folder / "a.json").write_text(json.dumps(row))
  section = results_doc.Section("H", "", "", "rp_hypotheses",
                                render="hypotheses",
                                methods={"a": "normalised", "b": "missing"})
  with pytest.raises(ValueError, match="b.json is missing"):
    results_doc._RENDERERS["hypotheses"](section, tmp_path)  # pylint: disable=protected-access
  section = dataclasses.replace(section, methods={"a": "normalised"})
  text = "\n".join(results_doc._RENDERERS["hypotheses"](section, tmp_path))  # pylint: disable=protected-access
  assert ("| set-up | patches | T | held out, gaussian | held out, binary | "
          "held out, fourier | denoising sigma15 | denoising sigma25 | "
          "denoising sigma50 |") in text
  assert ("| normalised | 76.8 k | 10 | 26.59 | 26.57 | 25.12 | 27.06 | "
          "23.66 | 20.87 |") in text
  assert "- normalised: `python docs/probes/rp_hypotheses.py --weights=a`" in (
      text)


def test_the_channel_table_shows_each_channel_its_share_and_the_lead(
    tmp_path):
  def score(lum, c1, c2, shares, rgb):
    return {"psnr": {"luminance": lum, "chroma 1": c1, "chroma 2": c2},
            "share_of_rgb_mse": dict(zip(("luminance", "chroma 1",
                                          "chroma 2"), shares)),
            "rgb_psnr": rgb}
  (tmp_path / "c.json").write_text(json.dumps({"images": 10, "channels": {
      "sigma15": {"context": score(34.2512, 42.6309, 45.4478,
                                   (0.8561, 0.0846, 0.0593), 33.5686),
                  "CBM3D": score(34.2889, 43.0071, 45.9114,
                                 (0.8662, 0.0791, 0.0546), 33.6623)}}}))
  section = results_doc.Section("C", "", "", "c.json", render="channels")
  text = "\n".join(results_doc._RENDERERS["channels"](section, tmp_path))  # pylint: disable=protected-access
  assert "| method | luminance | chroma 1 | chroma 2 | RGB |" in text
  assert ("| context | 34.25 (86 %) | 42.63 (8 %) | 45.45 (6 %) | 33.57 |"
          in text)
  assert "| context − CBM3D | -0.04 | -0.38 | -0.46 | -0.09 |" in text


def test_a_probe_table_shows_each_method_and_its_lead_on_the_baseline(
    tmp_path):
  (tmp_path / "p.json").write_text(json.dumps({"images": 10, "psnr": {
      "sigma25": {"rim": 30.9712, "CBM3D": 30.8804},
      "sigma15": {"rim": 33.5611, "CBM3D": 33.6603}}}))
  section = results_doc.Section("P", "", "", "p.json", render="probe")
  text = "\n".join(results_doc._RENDERERS["probe"](section, tmp_path))  # pylint: disable=protected-access
  assert "Mean PSNR (dB) over 10 images:" in text
  assert "| method | sigma15 | sigma25 |" in text
  assert "| rim | 33.56 | 30.97 |" in text
  assert "| CBM3D | 33.66 | 30.88 |" in text
  assert "| rim − CBM3D | -0.10 | +0.09 |" in text
