"""Tests of the RIM: the unrolled loop, its gradients, saving and training."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rim_tf import metrics
from rim_tf import model as rim_model
from rim_tf import operators

SMALL = {"rim": dict(features=8, gru_features=16),
         "atrous": dict(features=8, gru_features=8)}


def _rim(architecture="rim", channels=1, ablation=None, num_steps=4,
         **kwargs):
  return rim_model.build_rim(architecture, channels, ablation=ablation,
                             num_steps=num_steps,
                             **{**SMALL[architecture], **kwargs})


def _denoising(shape=(2, 12, 10, 1), sigma=0.1, seed=0):
  """(operator, y, sigma, clean x) of a denoising problem."""
  rng = np.random.default_rng(seed)
  x = rng.uniform(0.2, 0.8, shape).astype(np.float32)
  y = x + sigma * rng.standard_normal(shape).astype(np.float32)
  return operators.Identity(shape[1:]), tf.constant(y), sigma, tf.constant(x)


def _randomize_batch_norms(model, seed=0):
  """Moving statistics away from (0, 1), so inference-mode BN does work."""
  rng = np.random.default_rng(seed)
  for weight in model.non_trainable_weights:
    low = 0.5 if "variance" in weight.path else -0.5
    weight.assign(rng.uniform(low, low + 1.0, weight.shape))


class ForwardFunction:
  """A user's forward model: a plain callable with an initial estimate."""

  def __init__(self, function, initial_estimate):
    self._function = function
    self.initial_estimate = initial_estimate

  def __call__(self, x):
    return self._function(x)


def _python_unrolled(model, y, operator, sigma, steps):
  """The RIM of paper eq. 10-12 as a plain Python loop, for reference."""
  x0 = np.clip(operator.initial_estimate(y), rim_model.CLIP,
               1 - rim_model.CLIP)
  eta = tf.constant(np.log(x0) - np.log1p(-x0))
  state = model.cell.initial_state(eta)
  estimates = []
  for _ in range(steps):
    grad = model.likelihood.grad_eta(eta, y, operator, sigma)
    delta, state = model.cell(eta, grad, state, training=False)
    eta = eta + delta
    estimates.append(tf.sigmoid(eta))
  return tf.stack(estimates)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("height, width", [(32, 32), (36, 36), (481, 321),
                                           (321, 481)])
def test_returns_every_estimate_at_the_image_size(channels, height, width):
  model = _rim(channels=channels, features=4, gru_features=4)
  op, y, sigma, _ = _denoising((2, height, width, channels))
  estimates, final = model(y, operator=op, sigma=sigma, steps=2)
  assert estimates.shape == (2, 2, height, width, channels)
  assert estimates.dtype == tf.float32
  np.testing.assert_array_equal(final, estimates[-1])


@pytest.mark.parametrize("architecture", ["rim", "atrous"])
@pytest.mark.parametrize("ablation", [None, "gdn", "ffn"])
def test_while_loop_equals_python_unrolled_reference(architecture, ablation):
  model = _rim(architecture, ablation=ablation)
  _randomize_batch_norms(model)
  op, y, sigma, _ = _denoising()
  # In a tf.function the loop is a graph tf.while_loop; eagerly it would be
  # a Python loop itself.
  estimates = tf.function(
      lambda y: model(y, operator=op, sigma=sigma, steps=5)[0])(y)
  reference = _python_unrolled(model, y, op, sigma, 5)
  np.testing.assert_allclose(estimates, reference, atol=1e-5, rtol=0)


@pytest.mark.parametrize("architecture", ["rim", "atrous"])
@pytest.mark.parametrize("ablation", [None, "gdn", "ffn"])
def test_an_inflated_gray_rim_restores_equal_channels_as_the_gray_one(
    architecture, ablation):
  gray = _rim(architecture, ablation=ablation)
  _randomize_batch_norms(gray)
  # Random biases too, so that the output bias's repetition is tested.
  for weight in gray.trainable_weights:
    weight.assign(weight + 0.05 * tf.random.normal(weight.shape, seed=7))
  colour = _rim(architecture, channels=3, ablation=ablation)
  rim_model.inflate_channels(gray, colour)
  op, y, sigma, _ = _denoising((2, 12, 10, 1), sigma=0.1)
  want, _ = gray(y, operator=op, sigma=sigma, steps=3)
  got, _ = colour(tf.tile(y, [1, 1, 1, 3]),
                  operator=operators.Identity((12, 10, 3)), sigma=sigma,
                  steps=3)
  for c in range(3):
    np.testing.assert_allclose(got[..., c:c + 1], want, atol=2e-5, rtol=0)
  # Unequal channels now differ from the gray RIM on each channel alone.
  op3, y3, _, _ = _denoising((2, 12, 10, 3), sigma=0.1, seed=1)
  mixed, _ = colour(y3, operator=op3, sigma=sigma, steps=3)
  alone, _ = gray(y3[..., :1], operator=op, sigma=sigma, steps=3)
  assert np.abs(mixed[..., :1] - alone).max() > 1e-3


def test_inflate_channels_refuses_other_models():
  with pytest.raises(ValueError, match="needs a 1-channel RIM"):
    rim_model.inflate_channels(_rim(channels=3), _rim(channels=3))
  with pytest.raises(ValueError, match="differ in more than channels"):
    rim_model.inflate_channels(_rim(), _rim("atrous", channels=3))
  with pytest.raises(ValueError, match="differ in more than channels.*shape"):
    rim_model.inflate_channels(_rim(), _rim(channels=3, gru_features=8))


@pytest.mark.parametrize("architecture", ["rim", "atrous"])
def test_a_cell_given_a_context_by_zero_rows_computes_as_before(
    architecture):
  plain = _rim(architecture, norm_steps=2)
  _randomize_batch_norms(plain)
  for weight in plain.trainable_weights:
    weight.assign(weight + 0.05 * tf.random.normal(weight.shape, seed=7))
  model = _rim(architecture, norm_steps=2, channel_context=3)
  rim_model.add_cell_inputs(plain, model)
  # Two RGB images as six gray examples, unequal channels.
  op, y, sigma, _ = _denoising((6, 12, 10, 1), sigma=0.1)
  want, _ = plain(y, operator=op, sigma=sigma, steps=3)
  got, _ = model(y, operator=op, sigma=sigma, steps=3)
  np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
  first = model.cell.convs[0] if architecture == "atrous" else model.cell.down
  assert first.kernel.shape[2] == 8
  np.testing.assert_array_equal(first.kernel.numpy()[:, :, 2:], 0.0)
  # Once the context rows are trained, the channels inform each other:
  # another channel 1 of image 0 moves its channels 0 and 2.
  kernel = first.kernel.numpy()
  kernel[:, :, 2:] = 0.1 * np.random.default_rng(3).standard_normal(
      kernel[:, :, 2:].shape)
  first.kernel.assign(kernel)
  before, _ = model(y, operator=op, sigma=sigma, steps=3)
  other = y.numpy()
  other[1] = other[1, ::-1]
  after, _ = model(tf.constant(other), operator=op, sigma=sigma, steps=3)
  moved = np.abs(after - before).max(axis=(0, 2, 3, 4))
  assert moved[0] > 1e-3 and moved[2] > 1e-3
  np.testing.assert_array_equal(moved[3:], 0.0)


def test_add_cell_inputs_refuses_other_models():
  for plain, model in ((_rim(), _rim(gru_features=8, channel_context=3)),
                       (_rim(channel_context=3), _rim(channel_context=3)),
                       (_rim(), _rim("atrous", channel_context=3)),
                       # The plain one must read no map the other lacks.
                       (_rim(channel_context=3, condition_channels=1),
                        _rim(condition_channels=1))):
    with pytest.raises(ValueError, match="differ in the cell's extra inputs "
                       "alone"):
      rim_model.add_cell_inputs(plain, model)


def test_a_conditioned_cell_warm_starts_by_input_block_not_position():
  # A condition-only cell's condition row sits at input 2; with a context
  # added it moves to input 8, after the context's six.
  cond = _rim(norm_steps=2, condition_channels=1)
  _randomize_batch_norms(cond)
  for weight in cond.trainable_weights:
    weight.assign(weight + 0.05 * tf.random.normal(weight.shape, seed=5))
  both = _rim(norm_steps=2, channel_context=3, condition_channels=1)
  rim_model.add_cell_inputs(cond, both)
  kernel = both.cell.down.kernel.numpy()
  np.testing.assert_array_equal(kernel[:, :, 2:8], 0.0)
  np.testing.assert_array_equal(kernel[:, :, 8],
                                cond.cell.down.kernel.numpy()[:, :, 2])
  op, y, sigma, _ = _denoising((6, 12, 10, 1), sigma=0.1)
  for flag in (0.0, 1.0):
    condition = tf.fill([6, 1], flag)
    want, _ = cond(y, operator=op, sigma=sigma, steps=3, condition=condition)
    got, _ = both(y, operator=op, sigma=sigma, steps=3, condition=condition)
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
  # The condition moves the estimate (its row is not zero).
  ones, _ = cond(y, operator=op, sigma=sigma, steps=3,
                 condition=tf.ones([6, 1]))
  zeros, _ = cond(y, operator=op, sigma=sigma, steps=3,
                  condition=tf.zeros([6, 1]))
  assert np.abs(ones - zeros).max() > 1e-4


def test_a_conditioned_rim_wants_its_condition_and_no_other():
  op, y, sigma, _ = _denoising((2, 8, 8, 1), sigma=0.1)
  with pytest.raises(ValueError, match=r"pass condition \[N, 1\]"):
    _rim(condition_channels=1)(y, operator=op, sigma=sigma, steps=1)
  with pytest.raises(ValueError, match="reads no condition"):
    _rim()(y, operator=op, sigma=sigma, steps=1, condition=tf.ones([2, 1]))
  with pytest.raises(ValueError, match=r"condition must be \[N, 1\]"):
    _rim(condition_channels=1)(y, operator=op, sigma=sigma, steps=1,
                               condition=tf.ones([2, 2]))


def test_while_loop_equals_python_reference_for_a_projection():
  op = operators.GaussianProjection.sample((8, 8, 1), 0.5, seed=3)
  rng = np.random.default_rng(1)
  y = op.forward(rng.uniform(size=(2, 8, 8, 1)).astype(np.float32))
  model = _rim()
  estimates = tf.function(
      lambda y: model(y, operator=op, sigma=0.2, steps=3)[0])(y)
  np.testing.assert_allclose(estimates, _python_unrolled(model, y, op, 0.2, 3),
                             atol=1e-5, rtol=0)


def test_steps_is_a_call_argument_that_need_not_retrace():
  model = _rim(num_steps=3)
  op, y, sigma, _ = _denoising()
  run = tf.function(
      lambda y, steps: model(y, operator=op, sigma=sigma, steps=steps)[0])
  assert run(y, tf.constant(2)).shape[0] == 2
  assert run(y, tf.constant(7)).shape[0] == 7
  assert run.experimental_get_tracing_count() == 1
  assert model(y, operator=op, sigma=sigma)[0].shape[0] == 3


def test_the_loop_compiles_with_xla():
  model = _rim()
  op, y, sigma, _ = _denoising()
  run = lambda y: model(y, operator=op, sigma=sigma, steps=3)[1]
  np.testing.assert_allclose(tf.function(run, jit_compile=True)(y), run(y),
                             atol=1e-4)


@pytest.mark.parametrize("architecture", ["rim", "atrous"])
@pytest.mark.parametrize("ablation", [None, "gdn", "ffn"])
def test_gradients_reach_every_trainable_weight(architecture, ablation):
  model = _rim(architecture, ablation=ablation)
  op, y, sigma, x = _denoising()
  with tf.GradientTape() as tape:
    estimates, _ = model(y, operator=op, sigma=sigma, steps=3, training=True)
    loss, _ = rim_model.rim_loss(estimates, x)
  gradients = tape.gradient(loss, model.trainable_variables)
  assert "likelihood/phi" in [v.path for v in model.trainable_variables]
  for variable, gradient in zip(model.trainable_variables, gradients):
    assert gradient is not None, variable.path
    assert np.any(gradient.numpy() != 0), variable.path


def test_estimate_feedback_matters_for_the_rim_but_not_the_gdn_cell():
  """eta_t enters the RIM's cell directly; the GDN's only through grad."""
  op, y, sigma, _ = _denoising()
  for ablation, depends in [(None, True), ("gdn", False)]:
    model = _rim(ablation=ablation)
    eta = model.initial_eta(y, op)
    grad = model.likelihood(eta, y=y, operator=op, sigma=sigma)
    state = model.cell.initial_state(eta)
    moved = model.cell(eta + 1.0, grad, state)[0]
    assert np.allclose(model.cell(eta, grad, state)[0], moved) != depends


def test_training_mode_updates_batch_norm_statistics_in_the_loop():
  model = _rim()
  op, y, sigma, _ = _denoising()
  before = [w.numpy() for w in model.non_trainable_weights]
  model(y, operator=op, sigma=sigma, steps=2, training=True)
  after = [w.numpy() for w in model.non_trainable_weights]
  assert all(not np.allclose(a, b) for a, b in zip(before, after))


class TestMixedPrecision:

  @pytest.fixture
  def model(self):
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
      yield _rim()
    finally:
      keras.mixed_precision.set_global_policy(policy)

  def test_estimates_are_float32_and_the_cell_bfloat16(self, model):
    op, y, sigma, _ = _denoising()
    estimates, final = model(y, operator=op, sigma=sigma, steps=3)
    assert estimates.dtype == tf.float32 and final.dtype == tf.float32
    assert model.cell.compute_dtype == "bfloat16"
    assert model.likelihood.compute_dtype == "float32"
    eta = model.initial_eta(y, op)
    grad = model.likelihood(eta, y=y, operator=op, sigma=sigma)
    assert grad.dtype == tf.float32
    delta, _ = model.cell(eta, grad, model.cell.initial_state(eta))
    assert delta.dtype == tf.bfloat16

  def test_matches_float32_to_bfloat16_precision(self, model):
    op, y, sigma, _ = _denoising()
    reference = _rim()
    reference.set_weights(model.get_weights())
    np.testing.assert_allclose(
        model(y, operator=op, sigma=sigma, steps=3)[1],
        reference(y, operator=op, sigma=sigma, steps=3)[1], atol=0.02)

  def test_gradients_are_float32_and_reach_phi(self, model):
    op, y, sigma, x = _denoising()
    with tf.GradientTape() as tape:
      loss, _ = rim_model.rim_loss(
          model(y, operator=op, sigma=sigma, steps=2, training=True)[0], x)
    gradients = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None and g.dtype == tf.float32 for g in gradients)


def test_forward_function_matches_explicit_adjoint_for_a_linear_operator():
  op = operators.GaussianProjection.sample((8, 8, 1), 0.5, seed=3)
  rng = np.random.default_rng(1)
  y = op.forward(rng.uniform(size=(2, 8, 8, 1)).astype(np.float32))
  function = ForwardFunction(op.forward, op.initial_estimate)
  model = _rim()
  explicit, _ = model(y, operator=op, sigma=0.2, steps=3)
  autodiff, _ = model(y, operator=function, sigma=0.2, steps=3)
  np.testing.assert_allclose(autodiff, explicit, atol=1e-5)


def test_a_nonlinear_forward_function_trains_through_autodiff():
  # y = x^2 + noise: the likelihood gradient is 2 x (y - x^2) / variance.
  _, y, sigma, x = _denoising()
  function = ForwardFunction(tf.square,
                             lambda y: tf.sqrt(tf.clip_by_value(y, 0, 1)))
  model = _rim()
  with tf.GradientTape() as tape:
    estimates, _ = model(tf.square(x) + 0.05, operator=function, sigma=sigma,
                         steps=3, training=True)
    loss, _ = rim_model.rim_loss(estimates, x)
  gradients = tape.gradient(loss, model.trainable_variables)
  assert np.isfinite(loss.numpy())
  assert all(g is not None for g in gradients)


def test_rejects_missing_or_unusable_arguments():
  model = _rim()
  op, y, sigma, _ = _denoising()
  with pytest.raises(ValueError, match="operator and sigma"):
    model(y, sigma=sigma)
  with pytest.raises(ValueError, match="initial_estimate"):
    model(y, operator=tf.square, sigma=sigma)
  with pytest.raises(ValueError, match="steps"):
    model(y, operator=op, sigma=sigma, steps=0)
  with pytest.raises(ValueError, match="3 channels"):
    model(tf.zeros((1, 4, 4, 3)), operator=operators.Identity((4, 4, 3)),
          sigma=sigma)


@pytest.mark.parametrize("architecture", ["rim", "atrous"])
@pytest.mark.parametrize("ablation", [None, "gdn", "ffn"])
def test_a_widened_rim_computes_what_the_narrow_one_does(architecture,
                                                         ablation):
  narrow = _rim(architecture, ablation=ablation)
  _randomize_batch_norms(narrow)
  for weight in narrow.trainable_weights:
    weight.assign(weight + 0.05 * tf.random.normal(weight.shape, seed=7))
  width = SMALL[architecture]["gru_features"]
  wide = _rim(architecture, ablation=ablation, gru_features=width + 5)
  rim_model.widen_gru(narrow, wide, seed=3)
  op, y, sigma, x = _denoising()
  want, _ = narrow(y, operator=op, sigma=sigma, steps=4)
  got, _ = wide(y, operator=op, sigma=sigma, steps=4)
  np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)
  # A copied state channel and its source get different gradients, so
  # training can pull them apart.
  memory = wide.cell.memory_links()[0][0]
  kernel = (memory.input_conv if ablation != "ffn" else memory).kernel
  with tf.GradientTape() as tape:
    estimates, _ = wide(y, operator=op, sigma=sigma, steps=4, training=True)
    loss, _ = rim_model.rim_loss(estimates, x)
  gradient = tape.gradient(loss, kernel).numpy()
  columns = kernel.numpy().reshape(-1, kernel.shape[-1])
  gradient = gradient.reshape(columns.shape)
  copies = [(i, j) for i in range(width) for j in range(width, width + 5)
            if np.array_equal(columns[:, i], columns[:, j])]
  assert len(copies) == 5
  for i, j in copies:
    assert not np.allclose(gradient[:, i], gradient[:, j], atol=1e-7)


def test_widen_gru_refuses_other_models():
  with pytest.raises(ValueError, match="differ in the GRU width alone"):
    rim_model.widen_gru(_rim(), _rim(features=4))
  with pytest.raises(ValueError, match="the second wider"):
    rim_model.widen_gru(_rim(gru_features=16), _rim(gru_features=8))
  with pytest.raises(ValueError, match="differ in the GRU width alone"):
    rim_model.widen_gru(_rim(), _rim("atrous"))


def test_loss_is_the_weighted_sum_of_per_step_mse():
  target = tf.fill((2, 3, 3, 1), 0.5)
  estimates = tf.stack([tf.fill((2, 3, 3, 1), v) for v in (0.1, 0.3, 0.5)])
  total, per_step = rim_model.rim_loss(estimates, target)
  np.testing.assert_allclose(per_step, [0.16, 0.04, 0.0], atol=1e-7)
  np.testing.assert_allclose(total, 0.2, atol=1e-7)
  weighted, _ = rim_model.rim_loss(estimates, target, weights=[0, 1, 1])
  np.testing.assert_allclose(weighted, 0.04, atol=1e-7)


def test_step_weights_sum_to_the_steps_and_weigh_as_named():
  np.testing.assert_array_equal(rim_model.step_weights("uniform", 3),
                                [1.0, 1.0, 1.0])
  np.testing.assert_allclose(rim_model.step_weights("linear", 4),
                             [0.4, 0.8, 1.2, 1.6], rtol=1e-6)
  np.testing.assert_array_equal(rim_model.step_weights("final", 3),
                                [0.0, 0.0, 3.0])
  assert rim_model.step_weights("final", 1).dtype == np.float32
  with pytest.raises(ValueError, match="one of .*'last'"):
    rim_model.step_weights("last", 3)
  with pytest.raises(ValueError, match="steps must be an int >= 1"):
    rim_model.step_weights("uniform", 0)


def test_example_weights_weigh_each_examples_mse():
  target = tf.zeros((2, 2, 2, 1))
  # Example 0 is off by 0.1 everywhere, example 1 by 0.3, at both steps.
  one = tf.stack([tf.fill((2, 2, 1), 0.1), tf.fill((2, 2, 1), 0.3)])
  estimates = tf.stack([one, one])
  total, per_step = rim_model.rim_loss(estimates, target,
                                       example_weights=[1.5, 0.5])
  expected = (1.5 * 0.01 + 0.5 * 0.09) / 2
  np.testing.assert_allclose(per_step, [expected, expected], rtol=1e-6)
  np.testing.assert_allclose(total, 2 * expected, rtol=1e-6)
  plain, _ = rim_model.rim_loss(estimates, target, example_weights=[1, 1])
  np.testing.assert_allclose(plain, rim_model.rim_loss(estimates, target)[0],
                             rtol=1e-7)


def test_inverse_mse_weighting_is_the_gradient_of_the_mean_log_mse():
  rng = np.random.default_rng(0)
  target = tf.constant(rng.uniform(size=(3, 4, 4, 1)), tf.float32)
  # Three examples whose errors differ by a factor of ~10 in MSE.
  offsets = tf.constant(rng.normal(size=(2, 3, 4, 4, 1)) *
                        np.array([0.02, 0.06, 0.2])[None, :, None, None, None],
                        tf.float32)
  estimates = tf.Variable(target[tf.newaxis] + offsets)
  with tf.GradientTape(persistent=True) as tape:
    total, per_step = rim_model.rim_loss(estimates, target, weights=[1, 2],
                                         example_weighting="inverse_mse")
    mse = tf.reduce_mean(tf.square(estimates - target[tf.newaxis]),
                         axis=[2, 3, 4])  # [T, N]
    harmonic = 1.0 / np.mean(1.0 / mse.numpy(), axis=1)
    # The gradient should be that of sum_t w_t HM_t mean_n log MSE_tn.
    log_objective = tf.reduce_sum(tf.constant([1.0, 2.0]) * harmonic *
                                  tf.reduce_mean(tf.math.log(mse), axis=1))
    plain, _ = rim_model.rim_loss(estimates, target, weights=[1, 2])
  np.testing.assert_allclose(per_step, harmonic, rtol=1e-5)
  np.testing.assert_allclose(total, harmonic[0] + 2 * harmonic[1], rtol=1e-5)
  expected = tape.gradient(log_objective, estimates)
  np.testing.assert_allclose(tape.gradient(total, estimates), expected,
                             rtol=1e-4, atol=1e-9)
  assert not np.allclose(tape.gradient(plain, estimates), expected, rtol=0.1)
  # Example weights v then weigh the log-MSEs (instead of cancelling out).
  v = tf.constant([0.5, 1.0, 1.5])
  with tf.GradientTape(persistent=True) as tape:
    weighted, _ = rim_model.rim_loss(estimates, target, weights=[1, 2],
                                     example_weights=v,
                                     example_weighting="inverse_mse")
    mse = tf.reduce_mean(tf.square(estimates - target[tf.newaxis]),
                         axis=[2, 3, 4])
    log_objective = tf.reduce_sum(tf.constant([1.0, 2.0]) * harmonic *
                                  tf.reduce_mean(v * tf.math.log(mse), axis=1))
  np.testing.assert_allclose(tape.gradient(weighted, estimates),
                             tape.gradient(log_objective, estimates),
                             rtol=1e-4, atol=1e-9)
  with pytest.raises(ValueError, match="example weighting must be one of"):
    rim_model.rim_loss(estimates, target, example_weighting="psnr")


class TestSaving:

  @pytest.mark.parametrize("architecture", ["rim", "atrous"])
  @pytest.mark.parametrize("ablation", [None, "ffn"])
  def test_keras_file_round_trip_gives_identical_outputs(
      self, tmp_path, architecture, ablation):
    model = _rim(architecture, channels=3, ablation=ablation, num_steps=3,
                 epsilon_init=0.01)
    _randomize_batch_norms(model)
    op, y, sigma, _ = _denoising((2, 9, 7, 3))
    path = str(tmp_path / "rim.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded(y, operator=op, sigma=sigma)[0],
                                  model(y, operator=op, sigma=sigma)[0])

  def test_weights_round_trip_gives_identical_outputs(self, tmp_path):
    model = _rim()
    _randomize_batch_norms(model)
    model.likelihood.phi.assign(-2.0)
    path = str(tmp_path / "rim.weights.h5")
    model.save_weights(path)
    loaded = _rim()
    loaded.load_weights(path)
    op, y, sigma, _ = _denoising()
    np.testing.assert_array_equal(loaded(y, operator=op, sigma=sigma)[0],
                                  model(y, operator=op, sigma=sigma)[0])

  @pytest.mark.parametrize("other", [
      dict(architecture="atrous"), dict(gru_features=32), dict(channels=3),
      dict(ablation="ffn")])
  def test_weights_of_another_architecture_raise_a_clear_error(
      self, tmp_path, other):
    path = str(tmp_path / "rim.weights.h5")
    _rim().save_weights(path)
    with pytest.raises(ValueError, match="do not fit this RIM") as error:
      _rim(**other).load_weights(path)
    assert path in str(error.value)

  @pytest.mark.parametrize("damage", ["truncate", "garbage"])
  @pytest.mark.parametrize("name", ["rim.weights.h5", "rim.keras"])
  def test_corrupt_weights_file_raises_a_clear_error(self, tmp_path, damage,
                                                     name):
    path = tmp_path / name
    if name.endswith(".keras"):
      _rim().save(str(path))
    else:
      _rim().save_weights(str(path))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2] if damage == "truncate" else
                     np.random.default_rng(0).bytes(len(data)))
    with pytest.raises(ValueError, match="cannot be read") as error:
      _rim().load_weights(str(path))
    assert str(path) in str(error.value)

  def test_missing_weights_file_raises_a_clear_error(self, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
      _rim().load_weights(str(tmp_path / "none.weights.h5"))
    with pytest.raises(ValueError, match=r"\.weights\.h5 or \.keras"):
      _rim().load_weights(str(tmp_path / "rim.h5"))

  def test_weights_load_from_a_keras_file(self, tmp_path):
    model = _rim()
    _randomize_batch_norms(model)
    model.save(str(tmp_path / "rim.keras"))
    loaded = _rim()
    loaded.load_weights(str(tmp_path / "rim.keras"))
    op, y, sigma, _ = _denoising()
    np.testing.assert_array_equal(loaded(y, operator=op, sigma=sigma)[0],
                                  model(y, operator=op, sigma=sigma)[0])

  def test_inference_export_reloads_to_the_same_output(self, tmp_path):
    model = _rim(num_steps=3)
    _randomize_batch_norms(model)
    op, y, _, _ = _denoising((2, 9, 7, 1))
    sigma = tf.constant([0.1, 0.2])
    rim_model.export_inference(model, tmp_path / "saved",
                               operators.Identity((None, None, 1)), steps=4)
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    expected = model(y, operator=op, sigma=sigma, steps=4)[1]
    np.testing.assert_allclose(loaded.serve(y, sigma), expected, atol=1e-6)
    # Any image size: the operator was exported with unknown H and W.
    assert loaded.serve(tf.zeros((1, 5, 6, 1)), sigma[:1]).shape == (
        1, 5, 6, 1)
    served = loaded.signatures["serving_default"](y=y, sigma=sigma)
    np.testing.assert_allclose(list(served.values())[0], expected, atol=1e-6)


def _smooth_images(rng, count, size):
  """Images in [0.1, 0.9] made of a few low-frequency waves: a learnable prior."""
  grid = np.linspace(0.0, 1.0, size, dtype=np.float32)
  u, v = np.meshgrid(grid, grid, indexing="ij")
  images = np.zeros((count, size, size, 1), np.float32)
  for _ in range(3):
    fu, fv, phase = rng.uniform(0, 3, (3, count, 1, 1))
    images[..., 0] += np.sin(2 * np.pi * (fu * u + fv * v) + 2 * np.pi * phase)
  return 0.5 + 0.4 * images / 3


def test_training_lowers_the_loss_and_later_steps_beat_earlier_ones():
  rng = np.random.default_rng(0)
  keras.utils.set_random_seed(0)
  model = _rim(num_steps=6)
  optimizer = keras.optimizers.Adam(3e-3)
  sigma = 0.1
  op = operators.Identity((16, 16, 1))

  @tf.function
  def train_step(x, noise):
    with tf.GradientTape() as tape:
      estimates, _ = model(x + sigma * noise, operator=op, sigma=sigma,
                           training=True)
      loss, _ = rim_model.rim_loss(estimates, x)
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                  model.trainable_variables))
    return loss

  def batch():
    return (tf.constant(_smooth_images(rng, 16, 16)),
            tf.constant(rng.standard_normal((16, 16, 16, 1)), tf.float32))

  losses = [float(train_step(*batch())) for _ in range(250)]
  x, noise = batch()
  estimates, _ = model(x + sigma * noise, operator=op, sigma=sigma)
  psnr = [float(tf.reduce_mean(metrics.psnr_tf(e, x))) for e in estimates]
  noisy_psnr = float(tf.reduce_mean(metrics.psnr_tf(x + sigma * noise, x)))
  assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:5])
  assert psnr[-1] > psnr[0] + 1.0
  assert psnr[-1] > noisy_psnr + 3.0
