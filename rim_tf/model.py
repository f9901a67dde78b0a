"""The Recurrent Inference Machine: a cell unrolled over T steps in eta space."""

import contextlib
import zipfile

import keras
import numpy as np
import tensorflow as tf

from rim_tf import layers as rim_layers
from rim_tf import likelihood as rim_likelihood

# x0 is clipped to [CLIP, 1 - CLIP] before the logit so eta0 stays finite.
CLIP = 1e-3


@keras.saving.register_keras_serializable(package="rim_tf")
class RIM(keras.Model):
  """eta_{t+1} = eta_t + g_phi(d log p(y | A, sigmoid(eta_t)) / d eta, eta_t, s_t).

  Call with the measurement y ([N] + operator.range_shape), the operator (a
  `rim_tf.operators.LinearOperator`, or any differentiable callable
  x -> A(x) together with `initial_estimate`), the noise std sigma
  (scalar or [N], in the units of y) and, if the cell reads one, the
  condition [N, m] (`rim_tf.layers._CellBase`). Starts from
  eta_0 = logit(clip(operator.initial_estimate(y))) and runs the cell for
  `steps` steps in one `tf.while_loop`.

  Returns a pair (estimates, final): estimates x_t = sigmoid(eta_t) for
  t = 1..T stacked as [T, N, H, W, C] float32, and final = estimates[-1].
  The likelihood gradient and eta are float32 under any dtype policy; only
  the cell runs in the policy's compute dtype (e.g. bfloat16).

  Saving: `model.save("x.keras")` / `keras.models.load_model`, or
  `save_weights` / `load_weights` (".weights.h5") into a model built with
  the same arguments; `export_inference` writes a SavedModel for one
  operator.

  Args:
    cell: a cell from `rim_tf.layers` (built here for its channel count).
    num_steps: default T when `steps` is not given at call time.
    epsilon_init: initial eps = softplus(phi) of the likelihood.

  Example:

  >>> import tensorflow as tf
  >>> from rim_tf import model, operators
  >>> rim = model.build_rim("rim", channels=1, features=8, gru_features=8,
  ...                       num_steps=3)
  >>> A = operators.Identity((None, None, 1))
  >>> y = tf.random.stateless_uniform([2, 16, 12, 1], seed=(1, 2))
  >>> estimates, final = rim(y, operator=A, sigma=0.1)
  >>> estimates.shape, final.shape
  (TensorShape([3, 2, 16, 12, 1]), TensorShape([2, 16, 12, 1]))
  >>> total, per_step = model.rim_loss(estimates, y)   # paper eq. 13
  >>> per_step.shape
  TensorShape([3])
  """

  def __init__(self, cell, num_steps=20, epsilon_init=1e-3, **kwargs):
    # y and sigma must reach the likelihood in float32, not the policy's
    # compute dtype; the cell's own layers cast what they consume.
    kwargs["autocast"] = False
    super().__init__(**kwargs)
    if int(num_steps) < 1:
      raise ValueError(f"num_steps must be >= 1, got {num_steps}.")
    self.cell = cell
    self.num_steps = int(num_steps)
    self.likelihood = rim_likelihood.GaussianLikelihood(
        epsilon_init=epsilon_init, name="likelihood")
    # Every weight's shape follows from the channel count alone, so the model
    # is complete before its first call and weight files load into it.
    if not self.cell.built:  # A deserialised cell arrives built.
      self.cell.build()
    self.built = True

  @property
  def channels(self):
    return self.cell.channels

  @property
  def shift_period(self):
    """Shifts of the input by multiples of this shift the output alike."""
    return self.cell.shift_period

  def initial_eta(self, y, operator):
    """eta_0 = logit(clip(operator.initial_estimate(y))), float32 NHWC."""
    x0 = tf.cast(operator.initial_estimate(y), tf.float32)
    x0 = tf.clip_by_value(x0, CLIP, 1.0 - CLIP)
    # log(1 - x0), not log1p(-x0): exact enough after the clip, and an op
    # every exported runtime has (ONNX has no Log1p).
    return tf.math.log(x0) - tf.math.log(1.0 - x0)

  def step(self, eta, state, y, operator, sigma, training=False, t=0,
           condition=None):
    """RIM update number t (from 0): returns (eta_{t+1}, s_{t+1})."""
    # Through __call__ so the likelihood's float32 scope applies to phi.
    grad = self.likelihood(eta, y=y, operator=operator, sigma=sigma)
    delta, state = self.cell(eta, grad, state, step=t, training=training,
                             condition=condition)
    return eta + tf.cast(delta, tf.float32), state

  def call(self, y, operator=None, sigma=None, steps=None, training=False,
           condition=None):
    if operator is None or sigma is None:
      raise ValueError("RIM needs the operator and sigma: "
                       "model(y, operator=A, sigma=s).")
    if not callable(operator) or not hasattr(operator, "initial_estimate"):
      raise ValueError(
          f"operator must be a rim_tf.operators.LinearOperator or a callable "
          f"x -> A(x) with an initial_estimate(y) method, got {operator!r}.")
    steps = self.num_steps if steps is None else steps
    if isinstance(steps, int) and steps < 1:
      raise ValueError(f"steps must be >= 1, got {steps}.")
    y = tf.cast(y, tf.float32)
    sigma = tf.cast(sigma, tf.float32)
    eta = self.initial_eta(y, operator)
    if eta.shape[-1] != self.channels:
      raise ValueError(
          f"the operator's images have {eta.shape[-1]} channels but this "
          f"RIM's cell was built for {self.channels}.")
    state = self.cell.initial_state(eta)
    estimates = tf.TensorArray(tf.float32, size=steps,
                               element_shape=eta.shape)

    def body(t, eta, state, estimates):
      eta, state = self.step(eta, state, y, operator, sigma, training, t,
                             condition)
      return t + 1, eta, state, estimates.write(t, tf.sigmoid(eta))

    # One graph loop whatever T: inside tf.function it trains as fast as
    # Python unrolling (measured; the cell's convolutions take the time) and
    # traces once for every T.
    _, _, _, estimates = tf.while_loop(
        lambda t, *_: t < steps, body, (tf.constant(0), eta, state, estimates),
        maximum_iterations=steps)
    estimates = estimates.stack()
    return estimates, estimates[-1]

  def final_estimate(self, y, operator, sigma, steps=None, condition=None):
    """x_T alone, [N, H, W, C]: `call`'s final estimate, its T steps
    unrolled (T a Python int) and no estimate but the last kept: a graph of
    plain ops that every exported runtime (SavedModel, ONNX, LiteRT) runs
    with the image size unknown."""
    steps = self.num_steps if steps is None else int(steps)
    y = tf.cast(y, tf.float32)
    sigma = tf.cast(sigma, tf.float32)
    eta = self.initial_eta(y, operator)
    state = self.cell.initial_state(eta)
    for t in range(steps):
      eta, state = self.step(eta, state, y, operator, sigma, False, t,
                             condition)
    return tf.sigmoid(eta)

  def load_weights(self, filepath, *args, **kwargs):
    """`keras.Model.load_weights`, failing with the file and the problem named.

    Raises:
      ValueError: if `filepath` is missing, unreadable (truncated, corrupt,
        not a Keras weights file) or holds the weights of another
        architecture; the model's weights are then not to be trusted.
    """
    if not str(filepath).endswith((".weights.h5", ".keras")):
      raise ValueError(
          f"weights file {filepath} must end in .weights.h5 or .keras.")
    if not tf.io.gfile.exists(str(filepath)):
      raise ValueError(f"weights file {filepath} does not exist.")
    try:
      super().load_weights(filepath, *args, **kwargs)
    except (OSError, zipfile.BadZipFile) as error:
      raise ValueError(
          f"weights file {filepath} cannot be read: it is truncated, corrupt "
          f"or not a Keras .weights.h5 / .keras file ({error}).") from error
    except ValueError as error:
      raise ValueError(
          f"the weights in {filepath} do not fit this RIM, whose cell is "
          f"{type(self.cell).__name__}({self._cell_summary()}): the file was "
          f"saved from another architecture, channel count or feature size. "
          f"Keras reported: {error}") from error

  def _cell_summary(self):
    config = self.cell.get_config()
    return ", ".join(f"{key}={config[key]}" for key in (
        "channels", "features", "gru_features", "dilations", "use_estimate",
        "recurrent", "channel_context", "condition_channels")
        if key in config)

  def get_config(self):
    config = super().get_config()
    config.pop("autocast", None)
    config.update(cell=keras.saving.serialize_keras_object(self.cell),
                  num_steps=self.num_steps,
                  epsilon_init=self.likelihood.epsilon_init)
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
    return cls(**config)


def rim_loss(estimates, target, weights=None, example_weights=None,
             example_weighting="uniform"):
  """Paper eq. 13: sum_t w_t MSE(x_t, x), w_t = 1 by default.

  Args:
    estimates: [T, N, H, W, C] from `RIM`.
    target: [N, H, W, C] ground truth.
    weights: optional [T] step weights.
    example_weights: optional [N] weights of the examples' MSEs (the batch
      mean becomes sum_n v_n MSE_n / N); None weighs all alike.
    example_weighting: "uniform" (the paper's) or "inverse_mse": each
      example's MSE at step t is further weighed by 1 / MSE_{t,n}, held
      constant and normalised to mean 1 over the batch. The step's term is
      then the harmonic mean of the MSEs, and its gradient that of
      HM_t * mean_n log MSE_{t,n}: of the mean PSNR over the examples, the
      quantity the test tables average over images. `example_weights`
      then weigh the examples' log-MSEs.

  Returns:
    (total, per_step): a float32 scalar and the [T] per-step (weighted) MSEs.
  """
  check_example_weighting(example_weighting)
  target = tf.cast(target, tf.float32)
  per_example = tf.reduce_mean(
      tf.square(estimates - target[tf.newaxis]), axis=[2, 3, 4])
  if example_weighting == "inverse_mse":
    inverse = 1.0 / tf.maximum(tf.stop_gradient(per_example), _MSE_FLOOR)
    per_example *= inverse / tf.reduce_mean(inverse, axis=1, keepdims=True)
  # After the inverse, which would otherwise cancel them: with both, the
  # gradient is that of a v-weighted mean PSNR.
  if example_weights is not None:
    per_example *= tf.cast(example_weights, tf.float32)[tf.newaxis]
  per_step = tf.reduce_mean(per_example, axis=1)
  if weights is None:
    return tf.reduce_sum(per_step), per_step
  return tf.reduce_sum(tf.cast(weights, tf.float32) * per_step), per_step


EXAMPLE_WEIGHTINGS = ("uniform", "inverse_mse")
# An exact estimate would divide by zero; 1e-10 is a PSNR of 100 dB.
_MSE_FLOOR = 1e-10


def check_example_weighting(kind, name="example weighting"):
  """Raises ValueError, naming the setting `name`, unless `kind` is one of
  `EXAMPLE_WEIGHTINGS`."""
  if kind not in EXAMPLE_WEIGHTINGS:
    raise ValueError(f"{name} must be one of {EXAMPLE_WEIGHTINGS}, got "
                     f"{kind!r}.")

STEP_WEIGHTS = ("uniform", "linear", "final")


def step_weights(kind, steps):
  """The [steps] float32 weights w_t of `rim_loss`, summing to `steps`.

  "uniform" is the paper's eq. 13 (every w_t = 1); "linear" grows as t;
  "final" trains the last estimate only. The common sum keeps the loss, and
  hence the gradient clip, on the scale of the paper's.
  """
  if kind not in STEP_WEIGHTS:
    raise ValueError(f"step weights must be one of {STEP_WEIGHTS}, got "
                     f"{kind!r}.")
  if not (isinstance(steps, int) and steps >= 1):
    raise ValueError(f"steps must be an int >= 1, got {steps!r}.")
  t = np.arange(1, steps + 1, dtype=np.float64)
  raw = {"uniform": np.ones_like(t), "linear": t,
         "final": (t == steps).astype(np.float64)}[kind]
  return (raw * steps / raw.sum()).astype(np.float32)


def build_rim(architecture="rim", channels=1, ablation=None, num_steps=20,
              epsilon_init=1e-3, **cell_kwargs):
  """A RIM with a cell from `rim_tf.layers.make_cell`."""
  cell = rim_layers.make_cell(architecture, channels, ablation=ablation,
                              **cell_kwargs)
  return RIM(cell, num_steps=num_steps, epsilon_init=epsilon_init)


@contextlib.contextmanager
def dtype_policy(policy):
  """Within the block new layers take the Keras dtype policy `policy`
  ("float32", "mixed_bfloat16"); the process's policy is restored after."""
  previous = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy(policy)
  try:
    yield
  finally:
    keras.mixed_precision.set_global_policy(previous)


def build_model(model_config, channels, num_steps, policy="float32",
                channel_context=0, condition_channels=0):
  """The RIM of a `rim_tf.configs.ModelConfig` for C-channel images, T =
  `num_steps`, its cell in the dtype policy `policy` (this model only) and
  with the cell's `channel_context` and `condition_channels`
  (`rim_tf.layers._CellBase`)."""
  with dtype_policy(policy):
    return build_rim(
        model_config.architecture, channels, ablation=model_config.ablation,
        num_steps=num_steps, epsilon_init=model_config.epsilon_init,
        features=model_config.features,
        gru_features=model_config.gru_features,
        norm_steps=model_config.norm_steps, channel_context=channel_context,
        condition_channels=condition_channels)


EXTRA_INPUTS = ("channel_context", "condition_channels")


def with_cell_inputs(model, channel_context=0, condition_channels=0):
  """A new RIM like `model` (untrained weights) whose cell reads the given
  extra inputs instead of its own."""
  config = model.cell.get_config()
  config.update(channel_context=channel_context,
                condition_channels=condition_channels)
  return RIM(type(model.cell).from_config(config), num_steps=model.num_steps,
             epsilon_init=model.likelihood.epsilon_init)


def add_cell_inputs(plain, model):
  """Sets the weights of `model` from `plain`, the same RIM whose cell
  reads fewer input maps (no channel context, or no condition, or
  neither; `rim_tf.layers._CellBase.input_blocks`): every weight is
  copied, and the first convolution's kernel rows for the maps `plain`
  does not read are zero. `model` then computes exactly what `plain`
  computes, whatever the new inputs: a warm start that training moves from
  there.

  Raises:
    ValueError: if the models differ in more, or `plain` reads a map
      `model` does not.
  """
  configs = [m.cell.get_config() for m in (plain, model)]
  blocks = [dict(m.cell.input_blocks()) for m in (plain, model)]
  if (type(plain.cell) is not type(model.cell) or any(
      configs[0][k] != configs[1][k] for k in configs[0]
      if k not in EXTRA_INPUTS + ("name",)) or any(
          blocks[1].get(name) != width for name, width in blocks[0].items())
      or blocks[0] == blocks[1]):
    raise ValueError(
        f"add_cell_inputs needs two RIMs that differ in the cell's extra "
        f"inputs alone, the first reading fewer: got "
        f"{type(plain.cell).__name__}({plain._cell_summary()}) and "
        f"{type(model.cell).__name__}({model._cell_summary()}).")
  rows = []  # Per input row of `model`: its row in `plain`, or None.
  for name, width in model.cell.input_blocks():
    start = None
    if name in blocks[0]:
      start = 0
      for other, other_width in plain.cell.input_blocks():
        if other == name:
          break
        start += other_width
    rows += [None if start is None else start + i for i in range(width)]
  for source, target in zip(plain.weights, model.weights, strict=True):
    value, shape = source.numpy(), tuple(target.shape)
    if value.shape != shape:
      # The first convolution's kernel [h, w, in, out]: its input rows.
      value = np.stack([np.zeros_like(value[:, :, 0]) if row is None
                        else value[:, :, row] for row in rows], axis=2)
    target.assign(value)


def inflate_channels(gray, colour):
  """Sets a C-channel RIM's weights from the same RIM for one channel.

  On an image whose C channels are equal, `colour` then computes exactly
  what `gray` computes on one of them: each weight of the cell's input
  kernel (inputs [eta_1..eta_C, grad_1..grad_C], or the gradient's alone
  for the GDN ablation) is spread as weight / C over the C channels, the
  output kernel and bias repeat per channel, and every other weight is
  copied. A warm start for colour training from a gray model; on colour
  noise no head start, since the update is then the same in every channel
  and leaves the noise between channels (measured in docs/training.md).

  Args:
    gray: a 1-channel `RIM`.
    colour: a `RIM` of the same architecture and sizes for C channels.

  Raises:
    ValueError: if `gray` is not 1-channel or the models differ in more
      than the channel count.
  """
  if gray.channels != 1:
    raise ValueError(f"inflate_channels needs a 1-channel RIM to inflate, "
                     f"got {gray.channels} channels.")
  channels = colour.channels
  if len(gray.weights) != len(colour.weights):
    raise ValueError(f"the RIMs differ in more than channels: "
                     f"{len(gray.weights)} weights against "
                     f"{len(colour.weights)}.")
  values = []
  for source, target in zip(gray.weights, colour.weights):
    value, shape = source.numpy(), tuple(target.shape)
    if value.shape != shape:
      value = _inflated(value, shape, channels)
      if value is None:
        raise ValueError(
            f"the RIMs differ in more than channels: {source.path} has "
            f"shape {tuple(source.shape)} against {target.path}'s {shape}.")
    values.append(value)
  for target, value in zip(colour.weights, values):
    target.assign(value)


def _inflated(value, shape, channels):
  """`value` inflated to `shape` per `inflate_channels`, or None."""
  if value.ndim == 4 and shape == value.shape[:2] + (
      channels * value.shape[2], value.shape[3]):
    return np.repeat(value, channels, axis=2) / channels  # input kernel
  if value.ndim == 4 and shape == value.shape[:3] + (
      channels * value.shape[3],):
    return np.repeat(value, channels, axis=3)  # output kernel
  if value.ndim == 1 and shape == (channels * value.shape[0],):
    return np.repeat(value, channels)  # output bias
  return None


def widen_gru(narrow, wide, seed=0):
  """Sets `wide`'s weights from `narrow`, the same RIM with a narrower GRU.

  `wide` then computes what `narrow` computes (to float rounding): each state
  channel past the narrow width copies a random narrow one (its incoming
  weights repeat), and the weights reading a copied channel (the GRU's state
  convolutions, the layer after the GRU) are split between its copies in
  random shares summing to 1, so the copies' gradients differ and training
  can pull them apart (Net2WiderNet, Chen et al. 2016). Every other weight
  is copied. A warm start for a wider cell from trained weights.

  Args:
    narrow: a `RIM` with `gru_features` n.
    wide: a `RIM` of the same architecture and sizes but `gru_features`
      m >= n.
    seed: seed of the copied channels and the shares.

  Raises:
    ValueError: if the models differ in more than the GRU width, or `wide`
      is narrower.
  """
  cells = narrow.cell, wide.cell
  configs = [c.get_config() for c in cells]
  n, m = (c["gru_features"] for c in configs)
  if type(cells[0]) is not type(cells[1]) or any(
      configs[0][k] != configs[1][k] for k in configs[0]
      if k not in ("gru_features", "name")) or m < n:
    raise ValueError(
        f"widen_gru needs two RIMs that differ in the GRU width alone, the "
        f"second wider: got {type(cells[0]).__name__} "
        f"gru_features={n} and {type(cells[1]).__name__} gru_features={m}.")
  rng = np.random.default_rng(seed)
  index = np.concatenate([np.arange(n), rng.integers(0, n, m - n)])
  draws = rng.uniform(0.5, 1.5, m)
  # share[j]: copy j's part of what its narrow channel index[j] sent on.
  share = draws / np.bincount(index, weights=draws, minlength=n)[index]
  widened = {}
  for (memory, reader), (wide_memory, wide_reader) in zip(
      cells[0].memory_links(), cells[1].memory_links(), strict=True):
    for source, target in zip(memory.weights, wide_memory.weights,
                              strict=True):
      widened[id(target)] = _widened_memory_weight(memory, source, index,
                                                   share)
    kernel = reader.kernel.numpy()
    # A transposed convolution's kernel is (h, w, out, in).
    axis = 3 if isinstance(reader, keras.layers.Conv2DTranspose) else 2
    widened[id(wide_reader.kernel)] = np.take(kernel, index, axis=axis) * (
        share.reshape([-1 if a == axis else 1 for a in range(4)]))
  for source, target in zip(narrow.weights, wide.weights, strict=True):
    target.assign(widened.get(id(target), source.numpy()).astype(np.float32))


def _widened_memory_weight(memory, weight, index, share):
  """A weight of `memory` (a ConvGRU or the FFN's ReLU convolution) widened
  per `widen_gru`.

  Output channels come in blocks (3 for the GRU's input convolution: update,
  reset, candidate; 2 for its state-gate convolution) and each block widens
  by `index`; the GRU's own state convolutions also split their input
  channels by `share`.
  """
  blocks, reads_state = 1, False
  if isinstance(memory, rim_layers.ConvGRU):
    if weight is memory.input_conv.kernel or weight is memory.input_conv.bias:
      blocks = 3
    elif weight is memory.gate_conv.kernel:
      blocks, reads_state = 2, True
    else:
      reads_state = weight is memory.candidate_conv.kernel
  value = weight.numpy()
  value = np.concatenate([block[..., index] for block in np.split(
      value, blocks, axis=-1)], axis=-1)
  if reads_state:
    value = np.take(value, index, axis=2) * share.reshape(1, 1, -1, 1)
  return value


def export_inference(model, path, operator, steps=None, measurement_shape=None):
  """Writes a SavedModel that restores measurements of one fixed operator.

  The SavedModel's `serve` endpoint (also its "serving_default" signature)
  maps y [N] + measurement_shape float32 and sigma [N] float32 (noise std in
  the units of y) to the final estimate x_T [N, H, W, C] float32. Load it
  with `tf.saved_model.load(path).serve(y, sigma)`; rim_tf is not needed.

  Args:
    model: a `RIM`.
    path: folder to write.
    operator: the forward model baked into the graph; a LinearOperator with
      None entries in its shape (e.g. `Identity((None, None, 1))`) serves
      any image size.
    steps: T; default `model.num_steps`.
    measurement_shape: per-example shape of y; default
      `operator.range_shape` (needed for a callable without one).
  """
  steps = model.num_steps if steps is None else int(steps)
  if steps < 1:
    raise ValueError(f"steps must be >= 1, got {steps}.")
  if measurement_shape is None:
    if not hasattr(operator, "range_shape"):
      raise ValueError(
          "measurement_shape is needed: the operator has no range_shape.")
    measurement_shape = operator.range_shape
  archive = keras.export.ExportArchive()
  archive.track(model)
  archive.add_endpoint(
      name="serve",
      fn=lambda y, sigma: model(y, operator=operator, sigma=sigma,
                                steps=steps)[1],
      input_signature=[
          tf.TensorSpec((None,) + tuple(measurement_shape), tf.float32,
                        name="y"),
          tf.TensorSpec((None,), tf.float32, name="sigma")])
  archive.write_out(str(path), verbose=False)
