"""Overlapping tiles: run an image-to-image function on a large image in pieces.

`apply_tiled(fn, image, tile, overlap, scale, align)` cuts `image` [H, W, C]
into tiles of side `tile` that overlap their neighbours by at least
`overlap` pixels and start at multiples of `align` (2 for a stride-2
network, whose output follows a shift of its input only in steps of 2),
runs `fn` on each (tile [h, w, C] -> [scale h, scale w, C']) and blends the
results with separable windows. Along an axis, a tile's window is 0 on the
`overlap / 4` pixels next to an edge it shares with another tile (where it
lacked the context a whole-image pass has), rises linearly over the next
`overlap / 2` and is 1 elsewhere, including at the image's own borders;
where two tiles overlap by exactly `overlap` the two windows sum to 1, a
cross-fade without seams (the sum of weights divides out where they overlap
by more).
"""

import math

import numpy as np

# Defaults for a RIM (`rim-restore`): 512-pixel tiles keep a 64/128 cell's
# activations at tens of MB; 32 pixels of overlap keep tiled results within
# a fraction of 1/255 of a whole-image pass (docs/results.md).
DEFAULT_TILE = 512
DEFAULT_OVERLAP = 32


def tile_starts(size, tile, overlap, align=1):
  """Start offsets of tiles of side `tile` covering [0, size).

  Starts are multiples of `align`; neighbours overlap by at least
  `overlap`; the first tile starts at 0 and the last one reaches `size`
  (it is up to `align - 1` longer than `tile` to get there). One tile
  (start 0) if `size <= tile`.
  """
  if size <= tile:
    return [0]
  # Rounding starts down to `align` can widen a gap by align - 1.
  stride = tile - overlap - (align - 1)
  count = math.ceil((size - tile) / stride) + 1
  spacing = (size - tile) / (count - 1)
  # Near-equal starts can coincide after rounding; the last tile then
  # simply runs to the end.
  return sorted({int(math.floor(k * spacing / align)) * align
                 for k in range(count)})


def _extents(size, tile, overlap, align):
  """(start, length) of every tile along one axis."""
  starts = tile_starts(size, tile, overlap, align)
  ends = [min(start + tile, size) for start in starts[:-1]] + [size]
  return [(start, end - start) for start, end in zip(starts, ends)]


def _window(length, scale, overlap, before, after):
  """1-D blend weights of a tile's output, `length` samples.

  `before` / `after`: whether the tile shares its first / last edge with a
  neighbour (at the image border there is nothing to fade into).
  """
  weights = np.ones(length, np.float64)
  if overlap == 0:
    return weights
  dead = scale * (overlap // 4)
  ramp = scale * overlap - 2 * dead
  position = np.arange(length) + 0.5
  if before:
    weights = np.minimum(weights, np.clip((position - dead) / ramp, 0, 1))
  if after:
    weights = np.minimum(
        weights, np.clip((length - position - dead) / ramp, 0, 1))
  return weights


def check_tiling(tile, overlap, align=1):
  """Raises ValueError unless 0 <= overlap and tile > 2 overlap + align."""
  if int(tile) != tile or int(overlap) != overlap:
    raise ValueError(f"tile and overlap must be integers, got {tile!r} and "
                     f"{overlap!r}.")
  if overlap < 0:
    raise ValueError(f"overlap must be >= 0 pixels, got {overlap}.")
  if tile <= 2 * overlap + align - 1:
    raise ValueError(f"tile ({tile}) must be more than twice the overlap "
                     f"({overlap}) so that tiles make progress.")


def count_tiles(shape, tile, overlap, align=1):
  """How many tiles `apply_tiled` cuts an image of `shape` [H, W, ...] into
  (1 for an image no larger than `tile`)."""
  height, width = shape[:2]
  if height <= tile and width <= tile:
    return 1
  return (len(_extents(height, tile, overlap, align)) *
          len(_extents(width, tile, overlap, align)))


def apply_tiled(fn, image, tile, overlap, scale=1, align=1, progress=None):
  """`fn` applied to overlapping tiles of `image`, blended into one image.

  Args:
    fn: callable, float32 [h, w, C] -> array [scale h, scale w, C'].
    image: float array [H, W, C].
    tile: tile side in input pixels; an image no larger than this in both
      dimensions is passed to `fn` whole.
    overlap: minimum overlap of neighbouring tiles in input pixels.
    scale: integer output-to-input size ratio of `fn`.
    align: tiles start at multiples of this, so that a `fn` that is only
      equivariant to shifts by `align` pixels (a strided network) sees
      every tile on the whole image's sampling grid.
    progress: optional callable(done, total) told after every tile (and
      once with 0 before the first).

  Returns:
    float32 [scale H, scale W, C'].
  """
  check_tiling(tile, overlap, align)
  image = np.asarray(image, np.float32)
  if image.ndim != 3:
    raise ValueError(f"image must be [H, W, C], got shape {image.shape}.")
  height, width = image.shape[:2]
  total_tiles = count_tiles(image.shape, tile, overlap, align)
  report = progress or (lambda done, total: None)
  report(0, total_tiles)
  if total_tiles == 1:
    whole = np.asarray(fn(image), np.float32)
    report(1, 1)
    return whole
  rows = _extents(height, tile, overlap, align)
  cols = _extents(width, tile, overlap, align)
  out = None
  total = np.zeros((scale * height, scale * width, 1), np.float32)
  for i, (top, size_h) in enumerate(rows):
    w_rows = _window(scale * size_h, scale, overlap, i > 0, i < len(rows) - 1)
    for j, (left, size_w) in enumerate(cols):
      w_cols = _window(scale * size_w, scale, overlap, j > 0,
                       j < len(cols) - 1)
      result = np.asarray(
          fn(image[top:top + size_h, left:left + size_w]), np.float32)
      expected = (scale * size_h, scale * size_w)
      if result.shape[:2] != expected:
        raise ValueError(f"fn returned shape {result.shape} for a tile of "
                         f"{size_h}x{size_w} at scale {scale}; expected "
                         f"{expected} rows and columns.")
      if out is None:
        out = np.zeros((scale * height, scale * width, result.shape[-1]),
                       np.float32)
      weight = np.outer(w_rows, w_cols).astype(np.float32)[..., None]
      region = (slice(scale * top, scale * (top + size_h)),
                slice(scale * left, scale * (left + size_w)))
      out[region] += weight * result
      total[region] += weight
      report(i * len(cols) + j + 1, total_tiles)
  return out / total
