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
@pytest.mark.parametrize("norm_steps", [1, 3])
def test_cell_config_round_trip_gives_the_same_cell(architecture, ablation,
                                                     norm_steps):
  cell = _cell(architecture, 3, ablation, norm_steps=norm_steps)
  clone = _config_round_trip(cell)
  clone.build()
  assert clone.norm_steps == norm_steps
  _randomize_norms(cell)
  clone.set_weights(cell.get_weights())
  eta, grad = _inputs((2, 9, 7, 3))
  state = _random_state(cell, eta)
  for step in range(norm_steps + 1):
    np.testing.assert_array_equal(cell(eta, grad, state, step=step)[0],
                                  clone(eta, grad, state, step=step)[0])


def _randomize_norms(cell, seed=0):
  """Distinct moving statistics (per row) in every batch norm of `cell`."""
  rng = np.random.default_rng(seed)
  for norm in cell.norm_layers():
    norm.moving_mean.assign(rng.normal(size=norm.moving_mean.shape))
    norm.moving_variance.assign(rng.uniform(0.5, 2.0,
                                            norm.moving_variance.shape))


def _batch_norm_reference(x, mean, variance, gamma, beta, epsilon=1e-3):
  return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def test_step_batch_norm_infers_with_the_row_of_its_step():
  norm = layers.StepBatchNormalization(3)
  norm.build((None, None, None, 4))
  rng = np.random.default_rng(1)
  means, variances = rng.normal(size=(3, 4)), rng.uniform(0.5, 2, (3, 4))
  gamma, beta = rng.normal(size=4), rng.normal(size=4)
  for variable, value in zip(
      (norm.moving_mean, norm.moving_variance, norm.gamma, norm.beta),
      (means, variances, gamma, beta)):
    variable.assign(value)
  x = rng.normal(size=(2, 5, 6, 4)).astype(np.float32)
  for step, row in ((0, 0), (2, 2), (7, 2)):  # Steps past the rows: the last.
    np.testing.assert_allclose(
        norm(x, step=tf.constant(step), training=False),
        _batch_norm_reference(x, means[row], variances[row], gamma, beta),
        rtol=1e-5, atol=1e-5)


def test_step_batch_norm_trains_on_batch_moments_and_moves_only_its_row():
  norm = layers.StepBatchNormalization(3, momentum=0.9)
  norm.build((None, None, None, 4))
  x = np.random.default_rng(2).normal(2.0, 3.0, (4, 5, 6, 4)).astype(
      np.float32)
  out = norm(x, step=1, training=True)
  mean, variance = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
  np.testing.assert_allclose(out, _batch_norm_reference(x, mean, variance, 1,
                                                        0), atol=1e-5)
  np.testing.assert_allclose(norm.moving_mean.numpy(),
                             [np.zeros(4), 0.1 * mean, np.zeros(4)],
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(norm.moving_variance.numpy(),
                             [np.ones(4), 0.9 + 0.1 * variance, np.ones(4)],
                             rtol=1e-5)


def test_one_row_of_step_statistics_is_keras_batch_norm():
  x = np.random.default_rng(3).normal(1.0, 2.0, (3, 4, 5, 2)).astype(
      np.float32)
  ours = layers.StepBatchNormalization(1)
  keras_norm = keras.layers.BatchNormalization()
  ours.build(x.shape)
  keras_norm.build(x.shape)
  for training in (True, False, True):
    np.testing.assert_allclose(ours(x, step=5, training=training),
                               keras_norm(x, training=training), atol=1e-5)
  np.testing.assert_allclose(ours.moving_mean.numpy()[0],
                             keras_norm.moving_mean.numpy(), rtol=1e-6)
  np.testing.assert_allclose(ours.moving_variance.numpy()[0],
                             keras_norm.moving_variance.numpy(), rtol=1e-6)


def test_step_batch_norm_config_and_bad_rows():
  norm = layers.StepBatchNormalization(4, momentum=0.95, epsilon=1e-4,
                                       name="n")
  clone = layers.StepBatchNormalization.from_config(norm.get_config())
  assert (clone.num_steps, clone.momentum, clone.epsilon, clone.name) == (
      4, 0.95, 1e-4, "n")
  with pytest.raises(ValueError, match="num_steps must be >= 1"):
    layers.StepBatchNormalization(0)
  with pytest.raises(ValueError, match="norm_steps must be >= 1"):
    layers.make_cell("rim", 1, norm_steps=0)


@pytest.mark.parametrize("architecture", ["rim", "atrous"])
def test_cells_keep_keras_batch_norms_for_one_row_and_step_ones_beyond(
    architecture):
  shared = _cell(architecture)
  per_step = _cell(architecture, norm_steps=4)
  assert all(type(n) is keras.layers.BatchNormalization  # pylint: disable=unidiomatic-typecheck
             for n in shared.norm_layers())
  assert all(isinstance(n, layers.StepBatchNormalization) and
             n.num_steps == 4 for n in per_step.norm_layers())
  assert len(shared.norm_layers()) == {"rim": 2, "atrous": 3}[architecture]
  # The same weights, the moving statistics with a row per step.
  assert [w.path.split("/", 1)[1] for w in shared.weights] == [
      w.path.split("/", 1)[1] for w in per_step.weights]
  _randomize_norms(per_step)
  eta, grad = _inputs((2, 8, 8, 1))
  state = _random_state(per_step, eta)
  assert not np.allclose(per_step(eta, grad, state, step=0)[0],
                         per_step(eta, grad, state, step=1)[0])


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


@pytest.mark.parametrize("norm_steps", [1, 3])
def test_cell_computes_in_bfloat16_under_mixed_precision(norm_steps):
  policy = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    cell = _cell("rim", norm_steps=norm_steps)
  finally:
    keras.mixed_precision.set_global_policy(policy)
  eta, grad = _inputs((2, 9, 7, 1))
  for training in (True, False):
    delta, (state,) = cell(eta, grad, cell.initial_state(eta), step=1,
                           training=training)
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


# --- channel context -----------------------------------------------------------


def _context_reference(eta, k):
  """context_maps in numpy: example k i + c gets image i's k estimates, then
  the one-hot of c."""
  eta = np.asarray(eta)[..., 0]
  out = []
  for index in range(eta.shape[0]):
    image, c = divmod(index, k)
    maps = [eta[k * image + j] for j in range(k)]
    maps += [np.full(eta.shape[1:], float(j == c)) for j in range(k)]
    out.append(np.stack(maps, axis=-1))
  return np.stack(out)


@pytest.mark.parametrize("k", [2, 3])
def test_channel_context_gives_each_example_its_images_channels(k):
  cell = _cell(channel_context=k)
  eta, grad = _inputs((2 * k, 5, 7, 1))
  np.testing.assert_array_equal(cell.context_maps(eta),
                                _context_reference(eta, k))
  # Traced with the batch and the size unknown, as exports trace it.
  traced = tf.function(cell.context_maps, input_signature=[
      tf.TensorSpec([None, None, None, 1], tf.float32)])
  np.testing.assert_array_equal(traced(eta), _context_reference(eta, k))
  inputs = cell.step_inputs(eta, grad)
  assert inputs.shape == (2 * k, 5, 7, 2 + 2 * k) == (
      2 * k, 5, 7, cell.input_channels)
  np.testing.assert_array_equal(inputs[..., :2],
                                tf.concat([eta, grad], -1))


@pytest.mark.parametrize("architecture", ["rim", "atrous"])
def test_a_context_cell_restores_each_channel_knowing_the_others(
    architecture):
  cell = _cell(architecture, channel_context=3)
  eta, grad = _inputs((6, 8, 8, 1))
  state = cell.initial_state(eta)
  delta, _ = cell(eta, grad, state)
  # Changing image 0's channel 1 changes the updates of channels 0 and 2
  # of image 0, and nothing of image 1.
  changed = tf.tensor_scatter_nd_add(eta, [[1]], tf.ones([1, 8, 8, 1]))
  other, _ = cell(changed, grad, state)
  moved = np.abs(np.asarray(other) - np.asarray(delta)).max(axis=(1, 2, 3))
  assert moved[0] > 1e-4 and moved[2] > 1e-4
  np.testing.assert_array_equal(moved[3:], 0.0)
  # Without a context, channel 0's update is its own.
  plain = _cell(architecture)
  alone, _ = plain(eta, grad, plain.initial_state(eta))
  again, _ = plain(changed, grad, plain.initial_state(eta))
  np.testing.assert_array_equal(np.asarray(alone)[[0, 2]],
                                np.asarray(again)[[0, 2]])


def test_channel_context_config_round_trip_and_bad_settings():
  cell = _cell(channel_context=3, norm_steps=2)
  clone = _config_round_trip(cell)
  assert clone.channel_context == 3 and clone.input_channels == 8
  assert _cell().get_config()["channel_context"] == 0
  for kwargs, fragment in (
      (dict(channels=3, channel_context=3), "channels=3"),
      (dict(channel_context=1), "channel_context=1"),
      (dict(ablation="gdn", channel_context=3), "use_estimate=False")):
    with pytest.raises(ValueError, match=f"channel_context must be.*"
                       f"{fragment}"):
      _cell(**kwargs)
  with pytest.raises(ValueError, match="3 consecutive examples; got a "
                     "batch of 4"):
    cell.context_maps(tf.zeros([4, 6, 6, 1]))
