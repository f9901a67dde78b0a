"""What the project tracks speaks of the project only: no word of its
working history ("session N", "issue N") and no folder of the machine it
was made on. The project's history lives in git."""

import pathlib
import re
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
# The CI script is where a machine's data folder is wired in.
EXEMPT = (".ci/",)
BINARY = (".h5", ".png", ".npz", ".jpg", ".mat", ".pdf", ".gz")
# Spelled in pieces so that this file does not match itself.
PATTERNS = {
    "working-history word": re.compile(
        r"\b(?:" + "sess" + r"ions?|" + "iss" + r"ues?)[ _#-]{0,2}\d", re.I),
    "folder of a machine": re.compile(
        "(?:/" + "work/|/" + "root/|/" + r"home/\w|\.\./" + "shared)"),
}


def tracked_files():
  try:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True,
                           capture_output=True,
                           text=True).stdout.split("\0")
  except (OSError, subprocess.CalledProcessError):
    pytest.skip("not a git checkout")
  return [name for name in names if name and not name.startswith(EXEMPT)
          and not name.endswith(BINARY)]


def find(text, patterns=PATTERNS):
  """[(kind, line number, the line)] of every match in `text`."""
  return [(kind, number, line.strip()[:120])
          for number, line in enumerate(text.splitlines(), 1)
          for kind, pattern in patterns.items() if pattern.search(line)]


def test_the_patterns_find_what_they_are_for():
  text = ("trained in " + "sess" + "ion 9\nsee " + "iss" + "ue #12\n" +
          "--data_dir=/" + "work/shared/data\nout " + "/ro" + "ot/runs/x\n" +
          "a working session, an InferenceSession, issues of speed\n")
  kinds = [kind for kind, _, _ in find(text)]
  assert kinds == ["working-history word"] * 2 + ["folder of a machine"] * 2


def test_no_tracked_file_speaks_of_the_working_history_or_the_machine():
  found = []
  for name in tracked_files():
    path = REPO / name
    try:
      text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError):
      continue
    found += [f"{name}:{number}: {kind}: {line}"
              for kind, number, line in find(text)]
  assert not found, f"{len(found)} lines:\n" + "\n".join(found[:40])
