"""docs/results.md is what the committed result files give."""

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
