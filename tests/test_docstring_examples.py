"""The `Example:` blocks of the public API's docstrings run as printed."""

import doctest

import pytest

import rim_tf
from rim_tf import model
from rim_tf import operators
from rim_tf import tasks
from rim_tf import training


@pytest.mark.parametrize("obj", [
    rim_tf.restore, operators.LinearOperator, model.RIM, tasks.Task,
    training.Trainer], ids=lambda obj: obj.__qualname__)
def test_the_docstring_example_runs(obj):
  finder = doctest.DocTestFinder(recurse=False)
  examples = [t for t in finder.find(obj, obj.__qualname__, globs={})
              if t.examples]
  assert examples, f"{obj.__qualname__} has no Example: block"
  runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
  for test in examples:
    runner.run(test)
  assert runner.failures == 0, f"{runner.failures} example(s) failed"
