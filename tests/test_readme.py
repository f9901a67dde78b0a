"""The README's Python examples run as printed."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).parent.parent / "README.md"


def _python_block_after(marker):
  text = README.read_text()
  start = text.index(marker)
  return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def test_restore_example_runs_and_denoises():
  namespace = {}
  exec(_python_block_after("The same from Python:"), namespace)  # pylint: disable=exec-used
  restored, noisy, clean = (namespace[k] for k in ("restored", "noisy",
                                                   "clean"))
  assert restored.dtype == np.uint8 and restored.shape == (64, 96)
  error = lambda x: np.mean((x.astype(np.float64) - clean) ** 2)
  assert error(restored) < error(noisy) / 4
