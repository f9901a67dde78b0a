"""Tests of rim_tf.writable: output places made and proved before any work."""

import pathlib

import pytest

from rim_tf import writable


def test_a_folder_is_made_with_its_parents_and_left_clean(tmp_path):
  made = writable.folder(tmp_path / "a" / "b")
  assert made == tmp_path / "a" / "b" and made.is_dir()
  assert list(made.iterdir()) == []  # The probe file is gone.


def test_a_folder_under_the_home_tilde_is_in_the_home_folder(
    tmp_path, monkeypatch):
  monkeypatch.setenv("HOME", str(tmp_path))
  monkeypatch.chdir(tmp_path)
  assert writable.folder("~/out") == tmp_path / "out"
  assert writable.file("~/x/y.json") == tmp_path / "x" / "y.json"
  assert not (tmp_path / "~").exists()


def test_a_folder_under_a_regular_file_names_that_file(tmp_path):
  (tmp_path / "f").write_text("x")
  with pytest.raises(ValueError, match=r"^cannot create the folder "
                     rf"{tmp_path}/f/a/b: {tmp_path}/f is a file\.$"):
    writable.folder(tmp_path / "f" / "a" / "b")


def test_a_place_that_takes_no_file_is_refused():
  # /proc exists and is a folder, but no file can be made in it (even by
  # root, for whom permission bits do not count).
  with pytest.raises(ValueError, match=r"^cannot write into /proc \("):
    writable.folder("/proc")
  with pytest.raises(ValueError, match=r"^/proc/x/y.json: cannot create the "
                     r"folder /proc/x \("):
    writable.file("/proc/x/y.json")


def test_a_file_path_that_is_a_folder_is_refused(tmp_path):
  with pytest.raises(ValueError, match="is a folder; give a file name"):
    writable.file(tmp_path)
  assert writable.file(tmp_path / "r.json") == pathlib.Path(tmp_path / "r.json")


def test_an_existing_file_that_cannot_be_overwritten_is_refused(tmp_path):
  # A name in a writable folder for /proc/version, which no one may write
  # (root neither).
  (tmp_path / "out.txt").symlink_to("/proc/version")
  with pytest.raises(ValueError, match=r"out.txt: cannot be overwritten \("):
    writable.file(tmp_path / "out.txt")
  (tmp_path / "old.json").write_text("kept")
  assert writable.file(tmp_path / "old.json") == tmp_path / "old.json"
  assert (tmp_path / "old.json").read_text() == "kept"
