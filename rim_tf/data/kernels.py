"""Blur kernels: the benchmark's motion kernels and the training samplers.

`levin09()` returns the 8 motion-blur kernels of Levin, Weiss, Durand and
Freeman, "Understanding and evaluating blind deconvolution algorithms"
(CVPR 2009), the kernels of the deblurring benchmark that DPIR's and
IRCNN's code run (`kernels/Levin09.mat` of cszn/DPIR, sha256
377ce2fa5c95784cf454eb1c6e286038dc2ace76fb94a15ba6383a8f7b48aa1d). They ship
in `levin09_kernels.npz` beside this file, converted unchanged (float64,
keys kernel1 ... kernel8, sides 19, 17, 15, 27, 13, 21, 23, 23, each summing
to 1); MATLAB v7.3 files read with h5py come transposed, so each array is
`numpy.array(f[ref]).T` of the .mat file's "kernels" references. They are
for evaluation only: a RIM never trains on them.

For training, `motion_kernel` draws random camera-shake trajectories (a
random walk of the velocity with inertia and sudden turns, in the manner of
Boracchi and Foi, "Modeling the performance of image restoration from
motion blur", IEEE TIP 2012) and `gaussian_kernel` isotropic and
anisotropic Gaussian blur; `sample_kernel` mixes them. Every kernel sums to
1, has odd sides and its centre of mass at its centre pixel (to within a
pixel), so no kernel shifts the image.
"""

import functools
import pathlib

import numpy as np

LEVIN09_PATH = pathlib.Path(__file__).with_name("levin09_kernels.npz")


@functools.lru_cache(maxsize=1)
def _levin09():
  with np.load(LEVIN09_PATH) as archive:
    return tuple(archive[f"kernel{i}"] for i in range(1, 9))


def levin09():
  """The 8 Levin et al. kernels, float64 [k, k] each (copies)."""
  return [k.copy() for k in _levin09()]


def embed(kernel, size):
  """`kernel` centred in a size x size array of zeros (size odd, at least
  the kernel's sides)."""
  kh, kw = kernel.shape
  if size % 2 == 0 or kh > size or kw > size or kh % 2 == 0 or kw % 2 == 0:
    raise ValueError(f"cannot centre a {kh}x{kw} kernel in {size}x{size}.")
  out = np.zeros((size, size), kernel.dtype)
  top, left = (size - kh) // 2, (size - kw) // 2
  out[top:top + kh, left:left + kw] = kernel
  return out


def _splat(points, size):
  """Bilinear accumulation of equal-weight points (x, y) on a size x size
  grid, normalised to sum 1."""
  kernel = np.zeros((size + 1, size + 1))
  x0, y0 = np.floor(points[:, 0]).astype(int), np.floor(points[:, 1]).astype(int)
  fx, fy = points[:, 0] - x0, points[:, 1] - y0
  for dx, dy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                         (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
    np.add.at(kernel, (y0 + dy, x0 + dx), weight)
  kernel = kernel[:size, :size]
  return kernel / kernel.sum()


def motion_kernel(rng, size, length=None):
  """A random camera-shake kernel, float64 [size, size] (size odd).

  Args:
    rng: numpy Generator.
    size: side of the kernel.
    length: the trajectory's path length in pixels; default uniform in
      [size / 2, 2 size] (long paths fold back on themselves or are
      shrunk to fit).
  """
  steps = 256
  length = rng.uniform(0.5 * size, 2.0 * size) if length is None else length
  # Inertia (how much the velocity persists), jitter, and the chance of a
  # sudden turn, drawn per kernel: smooth sweeps to shaky zig-zags.
  inertia = rng.uniform(0.7, 0.99)
  jitter = rng.uniform(0.05, 0.6)
  turn_rate = rng.uniform(0.0, 0.02)
  velocity = np.exp(1j * rng.uniform(0, 2 * np.pi))
  position, path = 0j, np.empty(steps, complex)
  for t in range(steps):
    kick = jitter * (rng.normal() + 1j * rng.normal())
    if rng.random() < turn_rate:
      velocity *= np.exp(1j * rng.uniform(0.5 * np.pi, 1.5 * np.pi))
    velocity = inertia * velocity + kick
    velocity /= max(abs(velocity), 1e-8)
    position += velocity * length / steps
    path[t] = position
  # Centre of mass on the centre pixel; shrink paths that do not fit.
  path -= path.mean()
  extent = max(np.abs(path.real).max(), np.abs(path.imag).max(), 1e-8)
  half = (size - 3) / 2
  if extent > half:
    path *= half / extent
  centre = (size - 1) / 2
  points = np.stack([path.real + centre, path.imag + centre], axis=1)
  return _splat(points, size)


def gaussian_kernel(rng, size, std_range=(0.5, 3.0), isotropic=None):
  """A Gaussian blur kernel, float64 [size, size]: standard deviations
  uniform in `std_range` along a random angle (equal if `isotropic`; by
  default isotropic one time in three)."""
  if isotropic is None:
    isotropic = rng.random() < 1 / 3
  s1 = rng.uniform(*std_range)
  s2 = s1 if isotropic else rng.uniform(*std_range)
  angle = rng.uniform(0, np.pi)
  rotation = np.array([[np.cos(angle), -np.sin(angle)],
                       [np.sin(angle), np.cos(angle)]])
  precision = np.linalg.inv(rotation @ np.diag([s1 ** 2, s2 ** 2]) @
                            rotation.T)
  r = np.arange(size) - (size - 1) / 2
  grid = np.stack(np.meshgrid(r, r, indexing="xy"), axis=-1)
  kernel = np.exp(-0.5 * np.einsum("...i,ij,...j->...", grid, precision,
                                   grid))
  return kernel / kernel.sum()


def sample_kernel(rng, size, motion_fraction=0.75, motion_sizes=(7, 25)):
  """One training kernel centred in [size, size], float32: a motion kernel
  (side odd, uniform in `motion_sizes` up to `size`) with probability
  `motion_fraction`, else a Gaussian one."""
  if rng.random() < motion_fraction:
    low, high = (min(side, size) for side in motion_sizes)
    side = 2 * rng.integers(low // 2, high // 2 + 1) + 1
    kernel = motion_kernel(rng, int(side))
  else:
    kernel = gaussian_kernel(rng, size)
  return embed(kernel, size).astype(np.float32)
