"""Tests of the RIM cells and the ConvGRU (paper section 4.1, 4.4, footnote 5)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rim_tf import layers

# Small feature sizes keep the tests fast; the architecture is unchanged.
SMALL = {"rim": dict(features=8, gru_features=16),
         "atrous": dict(features=8, gru_features=8)}


def _cell(architecture="rim", channels=1, ablation=None, **kwargs):
  cell = layers.make_cell(architecture, channels, ablation=ablation,
                          **{**SMALL[architecture], **kwargs})
  cell.build()
  return cell


def _inputs(shape, seed=0):
  eta = tf.random.stateless_normal(shape, seed=[seed, 1])
  grad = tf.random.stateless_normal(shape, seed=[seed, 2])
  return eta, grad


def _random_state(cell, eta, seed=0):
  return tuple(tf.random.stateless_uniform(tf.shape(s), seed=[seed, i],
                                           minval=-1.0, maxval=1.0)
               for i, s in enumerate(cell.initial_state(eta)))


def _count(layer):
  return sum(int(np.prod(w.shape)) for w in layer.weights)


def test_paper_cell_has_the_published_size():
  cell = layers.RIMCell(1)  # 64 -> GRU 256 -> 64, the defaults
  cell.build()
  # 2.36 M, counting the batch norms' moving statistics as Keras does.
  assert _count(cell) == 2_362_433


def test_atrous_cell_has_about_500k_parameters():
  cell = layers.AtrousRIMCell(1)
  cell.build()
  assert 450_000 < _count(cell) < 550_000


@pytest.mark.parametrize("architecture", ["rim", "atrous"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("height, width", [(32, 32), (36, 36), (481, 321),
                                           (321, 481), (7, 5)])
def test_update_has_the_shape_of_eta_for_any_size(architecture, channels,
                                                  height, width):
  cell = _cell(architecture, channels, features=4, gru_features=4)
  eta, grad = _inputs((2, height, width, channels))
  state = cell.initial_state(eta)
  delta, new_state = cell(eta, grad, state)
  assert delta.shape == (2, height, width, channels)
  assert [s.shape for s in new_state] == [s.shape for s in state]


def test_strided_cell_keeps_its_state_at_half_resolution():
  cell = _cell("rim")
  state = cell.initial_state(tf.zeros((2, 481, 321, 1)))
  assert [s.shape for s in state] == [(2, 241, 161, 16)]


def test_atrous_cell_keeps_two_full_resolution_states():
  cell = _cell("atrous")
  state = cell.initial_state(tf.zeros((2, 9, 7, 1)))
  assert [s.shape for s in state] == [(2, 9, 7, 8)] * 2


def test_conv_gru_follows_the_gru_equations():
  gru = layers.ConvGRU(4)
  x = tf.random.stateless_normal((2, 5, 6, 3), seed=[1, 1])
  h = tf.random.stateless_uniform((2, 5, 6, 4), seed=[1, 2], minval=-1)
  gru.build(x.shape)
  for weight in gru.weights:  # Non-zero biases so every term is exercised.
    weight.assign(tf.random.stateless_normal(weight.shape, seed=[2, 3]) * 0.3)
  conv = lambda layer, v: tf.nn.conv2d(v, layer.kernel, 1, "SAME")
  w_z, w_r, w_n = tf.split(conv(gru.input_conv, x) + gru.input_conv.bias, 3,
                           axis=-1)
  u_z, u_r = tf.split(conv(gru.gate_conv, h), 2, axis=-1)
  z = tf.sigmoid(w_z + u_z)
  r = tf.sigmoid(w_r + u_r)
  n = tf.tanh(w_n + conv(gru.candidate_conv, r * h))
  np.testing.assert_allclose(gru(x, h), (1 - z) * n + z * h, atol=1e-5)


def _config_round_trip(layer):
  config = layer.get_config()
  clone = type(layer).from_config(config)
  assert clone.get_config() == config
  return clone


@pytest.mark.parametrize("architecture", ["rim", "atrous"])
@pytest.mark.parametrize("ablation", [None, "gdn", "ffn"])
def test_cell_config_round_trip_gives_the_same_cell(architecture, ablation):
  cell = _cell(architecture, 3, ablation)
  clone = _config_round_trip(cell)
  clone.build()
  clone.set_weights(cell.get_weights())
  eta, grad = _inputs((2, 9, 7, 3))
  state = _random_state(cell, eta)
  np.testing.assert_array_equal(cell(eta, grad, state)[0],
                                clone(eta, grad, state)[0])


def test_conv_gru_config_round_trip():
  gru = layers.ConvGRU(5, kernel_size=3, dilation_rate=2)
  clone = _config_round_trip(gru)
  assert (clone.features, clone.dilation_rate) == (5, 2)


def test_atrous_cell_config_keeps_the_dilations():
  cell = _cell("atrous", dilations=(1, 3, 5))
  assert _config_round_trip(cell).dilations == (1, 3, 5)


@pytest.mark.parametrize("architecture", ["rim", "atrous"])
def test_gdn_update_ignores_the_estimate(architecture):
  eta, grad = _inputs((2, 9, 7, 1))
  other_eta = eta + tf.random.stateless_normal(eta.shape, seed=[5, 5])
  gdn = _cell(architecture, ablation="gdn")
  state = _random_state(gdn, eta)
  np.testing.assert_array_equal(gdn(eta, grad, state)[0],
                                gdn(other_eta, grad, state)[0])
  rim = _cell(architecture)
  assert not np.allclose(rim(eta, grad, state)[0],
                         rim(other_eta, grad, state)[0])


@pytest.mark.parametrize("architecture", ["rim", "atrous"])
def test_gdn_still_sees_the_gradient(architecture):
  eta, grad = _inputs((2, 9, 7, 1))
  gdn = _cell(architecture, ablation="gdn")
  state = gdn.initial_state(eta)
  assert not np.allclose(gdn(eta, grad, state)[0],
                         gdn(eta, 2.0 * grad, state)[0])


@pytest.mark.parametrize("architecture", ["rim", "atrous"])
def test_ffn_carries_no_state(architecture):
  eta, grad = _inputs((2, 9, 7, 1))
  ffn = _cell(architecture, ablation="ffn")
  assert ffn.initial_state(eta) == ()
  memories = [ffn.memory] if architecture == "rim" else ffn.memories
  assert not any(isinstance(layer, layers.ConvGRU) for layer in memories)
  first, state = ffn(eta, grad, ())
  assert state == ()
  # Whatever ran before, the same inputs give the same update.
  ffn(*_inputs((2, 9, 7, 1), seed=3), ())
  np.testing.assert_array_equal(ffn(eta, grad, ())[0], first)


@pytest.mark.parametrize("architecture", ["rim", "atrous"])
def test_recurrent_update_depends_on_the_state(architecture):
  eta, grad = _inputs((2, 9, 7, 1))
  rim = _cell(architecture)
  assert not np.allclose(rim(eta, grad, _random_state(rim, eta, 1))[0],
                         rim(eta, grad, _random_state(rim, eta, 2))[0])


def test_ffn_replaces_each_gru_by_a_relu_convolution_of_its_width():
  ffn = _cell("rim", ablation="ffn")
  assert isinstance(ffn.memory, keras.layers.Conv2D)
  assert ffn.memory.filters == 16
  assert ffn.memory.activation is keras.activations.relu


def test_cell_computes_in_bfloat16_under_mixed_precision():
  policy = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    cell = _cell("rim")
  finally:
    keras.mixed_precision.set_global_policy(policy)
  eta, grad = _inputs((2, 9, 7, 1))
  delta, (state,) = cell(eta, grad, cell.initial_state(eta))
  assert cell.compute_dtype == "bfloat16"
  assert delta.dtype == tf.bfloat16 and state.dtype == tf.bfloat16
  assert all(w.dtype == "float32" for w in cell.weights)


def test_make_cell_rejects_unknown_names():
  with pytest.raises(ValueError, match="architecture"):
    layers.make_cell("unet", 1)
  with pytest.raises(ValueError, match="ablation"):
    layers.make_cell("rim", 1, ablation="lstm")
  with pytest.raises(ValueError, match="channels"):
    layers.make_cell("rim", 0)


@pytest.mark.parametrize("height,width", [(49, 48), (48, 49), (49, 49)])
def test_rim_cell_sees_odd_sizes_on_the_even_sampling_grid(height, width):
  # Removing rows / columns at the far end of an image must not change the
  # RIM's estimate far from them. A stride-2 "same" convolution samples odd
  # sizes on a grid shifted by one pixel, which moved odd-sized images by a
  # pixel per RIM step (BSDS300's 481 x 321 came out at ~8 dB).
  from rim_tf import model  # pylint: disable=g-import-not-at-top
  from rim_tf import operators  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(3)
  rim = model.build_rim("rim", 1, features=8, gru_features=8, num_steps=3)
  image = tf.random.stateless_uniform([1, 50, 50, 1], seed=[4, 2])
  identity = operators.Identity((None, None, 1))
  _, even = rim(image[:, :48, :48], operator=identity, sigma=[0.1])
  _, odd = rim(image[:, :height, :width], operator=identity, sigma=[0.1])
  assert odd.shape == (1, height, width, 1)
  # Three steps reach about 24 pixels; the top-left 16 x 16 is beyond it.
  np.testing.assert_allclose(odd[:, :16, :16], even[:, :16, :16], atol=1e-5)
  assert layers.RIMCell.shift_period == 2
  assert layers.AtrousRIMCell.shift_period == 1
  assert rim.shift_period == 2
