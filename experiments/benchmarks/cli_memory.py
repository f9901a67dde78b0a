"""Peak memory and time of `rim-restore` on a large synthetic image.

  python experiments/benchmarks/cli_memory.py                 # 4000 x 3000 gray
  python experiments/benchmarks/cli_memory.py --channels=3 --steps=2

Writes a noisy synthetic PNG of the given size, restores it with
`python -m rim_tf denoise` (the shipped RIM, tiled) in a child process, and
prints the child's peak resident memory (ru_maxrss) and wall-clock time next
to the bound of 4 GB.
"""

import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

from rim_tf.inference import image_files

FLAGS = flags.FLAGS
flags.DEFINE_integer("height", 3000, "Image rows.")
flags.DEFINE_integer("width", 4000, "Image columns.")
flags.DEFINE_integer("channels", 1, "1 (gray) or 3 (RGB).")
flags.DEFINE_integer("tile", None, "--tile of rim-restore (default: its own).")
flags.DEFINE_integer("overlap", None, "--overlap of rim-restore (default: its "
                     "own).")
flags.DEFINE_string("weights", None, "--weights (default: the shipped RIM).")
flags.DEFINE_integer("steps", None, "--steps (default: the weights' own). "
                     "Memory hardly depends on T at inference; a small T "
                     "measures it sooner.")
flags.DEFINE_float("bound_gb", 4.0, "The memory bound to report against.")


def synthetic_noisy_image(height, width, channels, sigma_255=25.0, seed=0):
  """uint8 [H, W, C]: smooth gradients, rings and edges plus Gaussian noise."""
  rng = np.random.default_rng(seed)
  yy, xx = np.meshgrid(np.linspace(0, 1, height, dtype=np.float32),
                       np.linspace(0, 1, width, dtype=np.float32),
                       indexing="ij")
  planes = []
  for c in range(channels):
    rings = 0.5 + 0.5 * np.sin(40 * np.hypot(yy - 0.5, xx - 0.3 - 0.1 * c))
    plane = 0.2 + 0.4 * xx * (1 - yy) + 0.3 * rings * (xx > 0.5)
    planes.append(255 * plane + sigma_255 * rng.standard_normal(
        (height, width), dtype=np.float32))
  return np.clip(np.round(np.stack(planes, -1)), 0, 255).astype(np.uint8)


def main(argv):
  del argv
  folder = pathlib.Path(tempfile.mkdtemp(prefix="rim_cli_memory_"))
  source = folder / "large.png"
  image_files.write_image(source, synthetic_noisy_image(
      FLAGS.height, FLAGS.width, FLAGS.channels))
  command = [sys.executable, "-m", "rim_tf", "denoise", str(source), "-o",
             str(folder / "restored.png"), "--sigma", "25"]
  for name in ("tile", "overlap", "weights", "steps"):
    if getattr(FLAGS, name) is not None:
      command += [f"--{name}", str(getattr(FLAGS, name))]
  print("running:", " ".join(command), flush=True)
  start = time.perf_counter()
  result = subprocess.run(command, check=False)
  seconds = time.perf_counter() - start
  if result.returncode:
    sys.exit(f"rim-restore failed with exit code {result.returncode}.")
  peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
  megapixels = FLAGS.height * FLAGS.width / 1e6
  verdict = "within" if peak_gb <= FLAGS.bound_gb else "ABOVE"
  print(f"image {FLAGS.width}x{FLAGS.height}x{FLAGS.channels} "
        f"({megapixels:.1f} MP): peak RSS {peak_gb:.2f} GB (bound "
        f"{FLAGS.bound_gb:g} GB: {verdict}), {seconds:.0f} s "
        f"({seconds / megapixels:.1f} s/MP)")
  for path in folder.iterdir():
    path.unlink()
  folder.rmdir()


if __name__ == "__main__":
  app.run(main)
