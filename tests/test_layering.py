"""The package's architecture: rooms whose imports point down, no cycles.

    core (operators, likelihood, layers, model, metrics, data, baselines,
    writable, precision)
      <- tasks <- configs <- pretrained
      <- training | inference (neither imports the other)
      <- evaluation
      <- entry points (the package's __init__ and __main__, experiment_flags)

Every import counts, those inside functions too. Restoring an image loads
nothing of training or evaluation.
"""

import ast
import pathlib
import subprocess
import sys
import textwrap

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "rim_tf"

# (room, rank): a module may import its own room and rooms of lower rank.
_CORE = ("operators", "likelihood", "layers", "model", "metrics", "data",
         "baselines", "writable", "precision")
ROOMS = {**{name: ("core", 0) for name in _CORE},
         "tasks": ("tasks", 1), "configs": ("configs", 2),
         "pretrained": ("pretrained", 3), "training": ("training", 4),
         "inference": ("inference", 4), "evaluation": ("evaluation", 5),
         "experiment_flags": ("entry", 6), "reproduce": ("entry", 6),
         "__main__": ("entry", 6),
         "__init__": ("entry", 6)}


def module_name(path, root):
  """rim_tf.a.b of a file below `root` (the package folder)."""
  parts = list(path.relative_to(root.parent).with_suffix("").parts)
  if parts[-1] == "__init__" and len(parts) > 1:
    parts = parts[:-1]
  return ".".join(parts)


def room_of(module, top):
  """(room, rank) of a module of package `top`."""
  parts = module.split(".")
  key = parts[1] if len(parts) > 1 else "__init__"
  if key not in ROOMS:
    raise KeyError(f"{module} is in no room: add it to ROOMS or move it.")
  return ROOMS[key]


def imports(path, module, top):
  """The modules of package `top` that the file imports, lazily or not."""
  tree = ast.parse(path.read_text(encoding="utf-8"))
  package = module if path.name == "__init__.py" else module.rpartition(".")[0]
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      found.update(a.name for a in node.names)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
      for alias in node.names:
        # `from pkg import name`: the submodule pkg.name if it is one, else
        # pkg (`graph` keeps the longest prefix that is a module).
        found.add(f"{base}.{alias.name}")
  return {m for m in found if m == top or m.startswith(top + ".")}


def graph(root):
  """{module: set of imported modules of the package} of a package folder."""
  top = root.name
  known = {module_name(p, root): p for p in root.rglob("*.py")}
  edges = {}
  for module, path in known.items():
    edges[module] = set()
    for target in imports(path, module, top):
      # `from a.b import name` lists a.b.name; keep what is a module.
      while target not in known and "." in target:
        target = target.rpartition(".")[0]
      if target in known and target != module and target != top:
        edges[module].add(target)
  return edges


def violations(root):
  """Lines naming every upward or sideways import between rooms."""
  top = root.name
  bad = []
  for module, targets in sorted(graph(root).items()):
    room, rank = room_of(module, top)
    for target in sorted(targets):
      other, other_rank = room_of(target, top)
      if other_rank > rank or (other_rank == rank and other != room):
        bad.append(f"{module} ({room}) imports {target} ({other})")
  return bad


def cycles(root):
  """Each import cycle once, as a list of modules."""
  edges = graph(root)
  found, state = [], {}

  def visit(module, stack):
    state[module] = "open"
    stack.append(module)
    for target in sorted(edges.get(module, ())):
      if state.get(target) == "open":
        found.append(stack[stack.index(target):] + [target])
      elif target not in state:
        visit(target, stack)
    stack.pop()
    state[module] = "done"

  for module in sorted(edges):
    if module not in state:
      visit(module, [])
  return found


def test_imports_point_down_between_rooms():
  assert violations(PACKAGE) == []


def test_the_package_has_no_import_cycle():
  assert cycles(PACKAGE) == []


def _write_package(tmp_path, files):
  root = tmp_path / "rim_tf"
  for name, text in files.items():
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
  return root


def test_the_check_finds_an_upward_import_even_a_lazy_one(tmp_path):
  root = _write_package(tmp_path, {
      "__init__.py": "",
      "model.py": """
          def build():
            from rim_tf.training import trainer
            return trainer
          """,
      "training/__init__.py": "",
      "training/trainer.py": "from rim_tf import model\n",
      "inference/__init__.py": "",
      "inference/engine.py": "from rim_tf.training import trainer\n",
  })
  assert violations(root) == [
      "rim_tf.inference.engine (inference) imports rim_tf.training.trainer "
      "(training)",
      "rim_tf.model (core) imports rim_tf.training.trainer (training)"]
  assert [sorted(set(cycle)) for cycle in cycles(root)] == [
      ["rim_tf.model", "rim_tf.training.trainer"]]


def test_a_module_outside_every_room_is_named(tmp_path):
  root = _write_package(tmp_path, {"__init__.py": "", "misc.py": ""})
  with pytest.raises(KeyError, match="rim_tf.misc is in no room"):
    violations(root)


def test_restoring_an_image_loads_nothing_of_training_or_evaluation():
  script = textwrap.dedent("""
      import sys
      import numpy as np
      import rim_tf
      image = np.random.default_rng(0).uniform(size=(24, 24)).astype("f4")
      rim_tf.restore(image, "denoise", sigma=25)
      rim_tf.restore(image, "superres", scale=2)
      loaded = sorted(m for m in sys.modules if m.startswith(
          ("rim_tf.training", "rim_tf.evaluation")))
      print("LOADED", loaded)
      """)
  out = subprocess.run([sys.executable, "-c", script], capture_output=True,
                       text=True, check=True, timeout=600).stdout
  assert "LOADED []" in out
