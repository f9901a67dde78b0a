"""Tests of rim_tf.inference.tiling: tile placement, blend windows, tiled == whole."""

import numpy as np
import pytest

from rim_tf.inference import tiling


@pytest.mark.parametrize("size,tile,overlap,align", [
    (481, 128, 32, 1), (481, 128, 32, 2), (321, 100, 16, 2), (1000, 512, 48, 2),
    (129, 128, 8, 2), (4000, 512, 32, 1)])
def test_tile_starts_cover_the_axis_with_the_overlap_and_alignment(
    size, tile, overlap, align):
  extents = tiling._extents(size, tile, overlap, align)  # pylint: disable=protected-access
  starts = [s for s, _ in extents]
  assert starts[0] == 0 and all(s % align == 0 for s in starts)
  assert sum(1 for _ in extents) == len(set(starts))  # strictly increasing
  assert extents[-1][0] + extents[-1][1] == size
  for (s0, n0), (s1, _) in zip(extents, extents[1:]):
    assert s0 + n0 - s1 >= overlap  # neighbours overlap enough
  assert all(tile <= n < tile + align for _, n in extents)


def test_tile_starts_single_tile_when_the_image_fits():
  assert tiling.tile_starts(100, 128, 32) == [0]
  assert tiling.tile_starts(128, 128, 32) == [0]


def test_windows_of_exact_overlap_sum_to_one_and_zero_the_tile_edges():
  overlap, length = 32, 100
  left = tiling._window(length, 1, overlap, False, True)  # pylint: disable=protected-access
  right = tiling._window(length, 1, overlap, True, False)  # pylint: disable=protected-access
  # Tile 2 starts where tile 1's last `overlap` samples begin.
  shared = left[length - overlap:] + right[:overlap]
  np.testing.assert_allclose(shared, 1.0, atol=1e-12)
  assert np.all(left[-overlap // 4:] == 0) and np.all(right[:overlap // 4] == 0)
  assert np.all(left[:length - overlap] == 1)  # image border: no fade


@pytest.mark.parametrize("scale", [1, 3])
def test_apply_tiled_of_a_pointwise_function_is_exact(scale):
  rng = np.random.default_rng(0)
  image = rng.random((130, 201, 2)).astype(np.float32)

  def fn(tile):  # pointwise, then nearest-neighbour upscaling
    return np.repeat(np.repeat(np.sqrt(tile), scale, 0), scale, 1)

  out = tiling.apply_tiled(fn, image, tile=64, overlap=16, scale=scale)
  np.testing.assert_allclose(out, fn(image), rtol=1e-6)


def test_apply_tiled_of_a_local_filter_matches_away_from_nothing():
  # A 5-tap box filter sees 2 pixels of context; tiles discard overlap / 4
  # = 4 pixels at shared edges, so tiled == whole everywhere.
  rng = np.random.default_rng(1)
  image = rng.random((150, 170, 1)).astype(np.float32)

  def box(x):
    padded = np.pad(x, ((2, 2), (2, 2), (0, 0)), mode="edge")
    return sum(padded[i:i + x.shape[0], j:j + x.shape[1]]
               for i in range(5) for j in range(5)) / 25.0

  np.testing.assert_allclose(tiling.apply_tiled(box, image, 64, 16), box(image),
                             atol=1e-6)
  # Without dead zones (overlap 0) the tile borders would show.
  assert np.abs(tiling.apply_tiled(box, image, 64, 0) - box(image)).max() > 1e-3


def test_apply_tiled_passes_a_small_image_whole():
  calls = []

  def fn(tile):
    calls.append(tile.shape)
    return tile

  tiling.apply_tiled(fn, np.zeros((40, 50, 1)), tile=64, overlap=16)
  assert calls == [(40, 50, 1)]


@pytest.mark.parametrize("tile,overlap,message", [
    (64, -1, "overlap must be >= 0"), (64, 32, "more than twice"),
    (64.5, 8, "integers")])
def test_check_tiling_rejects_bad_values(tile, overlap, message):
  with pytest.raises(ValueError, match=message):
    tiling.check_tiling(tile, overlap)


def test_apply_tiled_rejects_a_function_of_the_wrong_size():
  with pytest.raises(ValueError, match="expected"):
    tiling.apply_tiled(lambda t: t[:-1], np.zeros((100, 100, 1)), 64, 8)
