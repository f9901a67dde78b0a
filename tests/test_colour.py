"""The opponent colour space: orthogonal, invertible, [0, 1] to [0, 1],
white noise stays white with the stated gains."""

import itertools

import numpy as np
import pytest

from rim_tf.data import colour


def test_rows_are_orthogonal_so_white_noise_stays_white():
  gram = colour.MATRIX.astype(np.float64) @ colour.MATRIX.T.astype(np.float64)
  np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-7)
  np.testing.assert_allclose(np.diag(gram), colour.NOISE_GAIN ** 2, rtol=1e-6)
  np.testing.assert_allclose(colour.NOISE_GAIN,
                             [np.sqrt(1 / 3), np.sqrt(1 / 2), np.sqrt(3 / 8)],
                             rtol=1e-6)
  # Measured: the channels of transformed white noise.
  noise = np.random.default_rng(0).normal(0.0, 0.1, (400_000, 3))
  out = colour.to_opponent(noise) - colour.OFFSET
  np.testing.assert_allclose(out.std(axis=0), 0.1 * colour.NOISE_GAIN,
                             rtol=5e-3)
  assert abs(np.corrcoef(out.T)[np.triu_indices(3, 1)]).max() < 5e-3


def test_the_rgb_cube_maps_onto_the_unit_cube_exactly():
  corners = np.array(list(itertools.product((0.0, 1.0), repeat=3)),
                     np.float32)
  opponent = colour.to_opponent(corners)
  np.testing.assert_allclose(opponent.min(axis=0), 0.0, atol=1e-7)
  np.testing.assert_allclose(opponent.max(axis=0), 1.0, atol=1e-7)
  # Gray is (v, 1/2, 1/2).
  np.testing.assert_allclose(colour.to_opponent([0.3, 0.3, 0.3]),
                             [0.3, 0.5, 0.5], atol=1e-7)


def test_round_trip_and_a_clear_error_for_other_shapes():
  rgb = np.random.default_rng(1).random((5, 7, 3)).astype(np.float32)
  np.testing.assert_allclose(colour.from_opponent(colour.to_opponent(rgb)),
                             rgb, atol=1e-6)
  with pytest.raises(ValueError, match="3 channels"):
    colour.to_opponent(np.zeros((4, 4, 1)))


def test_the_tensor_transform_and_the_channel_batches_round_trip():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  rgb = np.random.default_rng(2).random((2, 5, 4, 3)).astype(np.float32)
  np.testing.assert_allclose(colour.to_opponent_tf(tf.constant(rgb)).numpy(),
                             colour.to_opponent(rgb), atol=1e-6)
  batch = colour.channels_to_batch(tf.constant(rgb)).numpy()
  assert batch.shape == (6, 5, 4, 1)
  # Example i's channel c is row 3 i + c.
  np.testing.assert_array_equal(batch[3 * 1 + 2, ..., 0], rgb[1, ..., 2])
  np.testing.assert_array_equal(batch[0, ..., 0], rgb[0, ..., 0])
  np.testing.assert_array_equal(
      colour.batch_to_channels(tf.constant(batch)).numpy(), rgb)
