"""The fused inference form of a RIM computes the Keras model's function."""

import numpy as np
import pytest
import tensorflow as tf

from rim_tf import model as rim_model
from rim_tf import operators
from rim_tf.inference import fused


def _trained_like(channels=1, norm_steps=3, ablation=None, seed=0,
                  channel_context=0):
  """A small RIM whose batch norms have nontrivial statistics and affine
  weights and whose GRU has a bias, as a trained one does."""
  tf.keras.utils.set_random_seed(seed)
  rim = rim_model.build_rim("rim", channels, ablation=ablation, features=8,
                            gru_features=6, num_steps=4,
                            norm_steps=norm_steps,
                            channel_context=channel_context)
  rng = np.random.default_rng(seed)
  for norm in rim.cell.norm_layers():
    for weight in norm.weights:
      shape = weight.shape
      if "variance" in weight.path:
        weight.assign(rng.uniform(0.2, 3.0, shape))
      else:
        weight.assign(rng.normal(0.0, 0.5, shape))
  for layer in (rim.cell.memory.input_conv, rim.cell.down, rim.cell.up,
                rim.cell.out):
    layer.bias.assign(rng.normal(0.0, 0.3, layer.bias.shape))
  return rim


@pytest.mark.parametrize("loop", [False, True])
@pytest.mark.parametrize("channels,norm_steps,ablation,size", [
    (1, 3, None, (13, 10)),   # odd height, steps past the norm rows
    (3, 3, None, (8, 11)),    # colour, odd width
    (1, 1, None, (9, 9)),     # Keras's batch norm (one row)
    (1, 3, "gdn", (10, 12)),  # the cell sees the gradient alone
])
def test_fused_rim_equals_the_keras_model(channels, norm_steps, ablation,
                                          size, loop):
  rim = _trained_like(channels, norm_steps, ablation)
  rng = np.random.default_rng(1)
  y = rng.uniform(0, 1, (2,) + size + (channels,)).astype(np.float32)
  sigma = np.array([0.1, 0.05], np.float32)
  operator = operators.Identity((None, None, channels), "measurement")
  expected = rim.final_estimate(y, operator, sigma, steps=5).numpy()
  fused_rim = fused.FusedRIM(rim)  # Reads the weights eagerly.
  run = tf.function(lambda y, sigma: fused_rim.final_estimate(
      y, operator, sigma, 5, loop=loop))
  got = run(y, sigma).numpy()
  # Far below what the estimate's changes from step to step are.
  assert np.abs(expected - rim.final_estimate(
      y, operator, sigma, steps=4).numpy()).max() > 1e-2
  np.testing.assert_allclose(got, expected, atol=2e-5)


def test_fused_rim_equals_the_keras_model_with_a_channel_context():
  rim = _trained_like(channel_context=3)
  rng = np.random.default_rng(1)
  # Two RGB images as six gray examples, each with its own sigma.
  y = rng.uniform(0, 1, (6, 9, 12, 1)).astype(np.float32)
  sigma = rng.uniform(0.02, 0.1, 6).astype(np.float32)
  operator = operators.Identity((None, None, 1), "measurement")
  expected = rim.final_estimate(y, operator, sigma, steps=5).numpy()
  got = fused.FusedRIM(rim).final_estimate(y, operator, sigma, 5).numpy()
  np.testing.assert_allclose(got, expected, atol=2e-5)
  # The context is read: another channel 1 of image 0 moves its channels
  # 0 and 2, and leaves image 1 alone.
  y[1] = y[1, ::-1]
  other = fused.FusedRIM(rim).final_estimate(y, operator, sigma, 5).numpy()
  moved = np.abs(other - expected).max(axis=(1, 2, 3))
  assert moved[0] > 1e-3 and moved[2] > 1e-3
  np.testing.assert_allclose(other[3:], expected[3:], atol=1e-6)


def test_fused_rim_equals_the_keras_model_on_super_resolution():
  rim = _trained_like()
  low = np.random.default_rng(2).uniform(0, 1, (1, 7, 9, 1)).astype(
      np.float32)
  operator = operators.BicubicDownsample(2, (None, None, 1))
  sigma = np.array([0.01], np.float32)
  np.testing.assert_allclose(
      fused.FusedRIM(rim).final_estimate(low, operator, sigma, 3).numpy(),
      rim.final_estimate(low, operator, sigma, steps=3).numpy(), atol=2e-5)


def test_fused_rim_in_bfloat16_stays_near_the_float32_model():
  rim = _trained_like()
  with rim_model.dtype_policy("mixed_bfloat16"):
    fast = rim_model.build_rim("rim", 1, features=8, gru_features=6,
                               num_steps=4, norm_steps=3)
  fast.set_weights(rim.get_weights())
  y = np.random.default_rng(3).uniform(0, 1, (1, 12, 12, 1)).astype(
      np.float32)
  operator = operators.Identity((None, None, 1), "measurement")
  sigma = np.array([0.1], np.float32)
  got = fused.FusedRIM(fast).final_estimate(y, operator, sigma, 4)
  assert got.dtype == tf.float32
  np.testing.assert_allclose(
      got.numpy(), rim.final_estimate(y, operator, sigma, steps=4).numpy(),
      atol=0.02)


@pytest.mark.parametrize("architecture,ablation,name", [
    ("rim", "ffn", "FFN"), ("atrous", None, "AtrousRIMCell")])
def test_fused_rim_refuses_other_cells_by_name(architecture, ablation, name):
  rim = rim_model.build_rim(architecture, 1, ablation=ablation, features=4,
                            gru_features=4, num_steps=2)
  assert not fused.supports(rim)
  with pytest.raises(ValueError, match=name):
    fused.FusedRIM(rim)
