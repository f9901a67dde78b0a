"""Keras layers of the RIM update network g_phi (paper section 4.1).

A cell maps the current estimate eta_t [N, H, W, C], the likelihood gradient
d log p / d eta [N, H, W, C] and its hidden state to an update delta eta
[N, H, W, C] and the next hidden state (a tuple of tensors, empty for the
feed-forward ablation). All convolutions are 3x3.
"""

import keras
import numpy as np
from keras import layers
import tensorflow as tf


@keras.saving.register_keras_serializable(package="rim_tf")
class ConvGRU(layers.Layer):
  """Convolutional GRU cell (Chung et al. 2014 with 3x3 convolutions).

  z = sigmoid(W_z * x + U_z * h), r = sigmoid(W_r * x + U_r * h),
  n = tanh(W_n * x + U_n * (r h)), h' = (1 - z) n + z h.
  Input x is [N, H, W, C_in], state h is [N, H, W, features].

  Args:
    features: number of state channels.
    kernel_size: convolution size.
    dilation_rate: dilation of every convolution.
  """

  def __init__(self, features, kernel_size=3, dilation_rate=1, **kwargs):
    super().__init__(**kwargs)
    self.features = int(features)
    self.kernel_size = int(kernel_size)
    self.dilation_rate = int(dilation_rate)
    conv = dict(kernel_size=self.kernel_size, padding="same",
                dilation_rate=self.dilation_rate, dtype=self.dtype_policy)
    # One convolution for all three input terms and one for both state gates,
    # so the weights are three kernels; timed on this CPU (fp32 and bf16),
    # six separate convolutions are no faster.
    self.input_conv = layers.Conv2D(3 * self.features, name="input_conv",
                                    **conv)
    self.gate_conv = layers.Conv2D(2 * self.features, use_bias=False,
                                   name="gate_conv", **conv)
    self.candidate_conv = layers.Conv2D(self.features, use_bias=False,
                                        name="candidate_conv", **conv)

  def build(self, input_shape):
    state_shape = tuple(input_shape[:-1]) + (self.features,)
    self.input_conv.build(input_shape)
    self.gate_conv.build(state_shape)
    self.candidate_conv.build(state_shape)

  def call(self, inputs, state):
    x_z, x_r, x_n = tf.split(self.input_conv(inputs), 3, axis=-1)
    h_z, h_r = tf.split(self.gate_conv(state), 2, axis=-1)
    update = tf.sigmoid(x_z + h_z)
    reset = tf.sigmoid(x_r + h_r)
    candidate = tf.tanh(x_n + self.candidate_conv(reset * state))
    return (1.0 - update) * candidate + update * state

  def get_config(self):
    config = super().get_config()
    config.update(features=self.features, kernel_size=self.kernel_size,
                  dilation_rate=self.dilation_rate)
    return config


def _conv(features, name, dtype, strides=1, dilation_rate=1):
  return layers.Conv2D(features, 3, strides=strides, padding="same",
                       dilation_rate=dilation_rate, name=name, dtype=dtype)


def pad_to_even(x):
  """x [N, H, W, C] with a mirrored last row / column added where H / W is odd.

  A "same" stride-2 convolution pads an even size after the end only, but an
  odd size on both sides, which moves its sampling grid by one pixel; the
  transposed convolution always undoes the even case. Without this, every
  RIM step would shift an odd-sized image by a pixel.
  """
  shape = tf.shape(x)
  # The last row (column) repeated, then cut to an even size: the same as
  # padding by shape % 2 symmetrically, in ops that keep the rank and the
  # channels known to every converter (a pad by computed amounts loses
  # them in LiteRT's).
  x = tf.concat([x, x[:, -1:]], axis=1)[:, :shape[1] + shape[1] % 2]
  return tf.concat([x, x[:, :, -1:]], axis=2)[:, :, :shape[2] + shape[2] % 2]


class NormMoments:
  """Running sums of a batch norm's inputs over (N, H, W), per channel: what
  `rim_tf.training.norm_calibration` collects to set population statistics."""

  def __init__(self):
    self.total, self.total_squares, self.count = 0.0, 0.0, 0

  def add(self, x):
    x = tf.cast(x, tf.float64)
    self.total += tf.reduce_sum(x, [0, 1, 2]).numpy()
    self.total_squares += tf.reduce_sum(tf.square(x), [0, 1, 2]).numpy()
    self.count += int(x.shape[0] * x.shape[1] * x.shape[2])

  def mean_and_variance(self):
    """Population mean and (biased) variance, float64 [C]."""
    if not self.count:
      raise ValueError("no inputs were collected.")
    mean = self.total / self.count
    return mean, self.total_squares / self.count - mean * mean


@keras.saving.register_keras_serializable(package="rim_tf")
class StepBatchNormalization(layers.Layer):
  """Batch normalisation with moving statistics per RIM step.

  Inside the RIM one layer normalises every step, but in training each step
  is normalised with its own batch's moments, and these differ by orders of
  magnitude from step to step; one moving average over all steps then
  serves no step well at inference (docs/training.md, "Batch-norm
  statistics per RIM step"). As in
  recurrent batch normalisation (Cooijmans et al. 2016) the moving mean and
  variance are therefore [num_steps, C], row t for RIM step t, and steps
  t >= num_steps use the last row; gamma and beta [C] are shared. Training
  normalises with the batch's moments over (N, H, W) and moves row t
  towards them, as `keras.layers.BatchNormalization` does its one row.
  Computes in float32 and returns the layer's compute dtype.

  Args:
    num_steps: rows of moving statistics (the RIM's training T).
    momentum, epsilon: as in `keras.layers.BatchNormalization`.

  Attributes:
    collect: None, or a `NormMoments` that inference calls add their
      inputs to (eagerly; for `rim_tf.training.norm_calibration`).
  """

  def __init__(self, num_steps, momentum=0.99, epsilon=1e-3, **kwargs):
    super().__init__(**kwargs)
    if int(num_steps) < 1:
      raise ValueError(f"num_steps must be >= 1, got {num_steps}.")
    self.num_steps = int(num_steps)
    self.momentum = float(momentum)
    self.epsilon = float(epsilon)
    self.collect = None

  def build(self, input_shape):
    channels = int(input_shape[-1])
    self.gamma = self.add_weight(shape=(channels,), initializer="ones",
                                 name="gamma")
    self.beta = self.add_weight(shape=(channels,), initializer="zeros",
                                name="beta")
    rows = (self.num_steps, channels)
    self.moving_mean = self.add_weight(shape=rows, initializer="zeros",
                                       name="moving_mean", trainable=False)
    self.moving_variance = self.add_weight(
        shape=rows, initializer="ones", name="moving_variance",
        trainable=False)

  def call(self, inputs, step=0, training=False):
    # Variables are read in the compute dtype under mixed precision: float32
    # explicitly, as Keras's batch norm computes.
    x = tf.cast(inputs, tf.float32)
    moving_mean = tf.cast(self.moving_mean, tf.float32)
    moving_variance = tf.cast(self.moving_variance, tf.float32)
    row = tf.minimum(tf.cast(step, tf.int32), self.num_steps - 1)
    if training:
      mean, variance = tf.nn.moments(x, [0, 1, 2])
      # Only row `step` moves: (1 - momentum) of the way to the batch's.
      rate = (1.0 - self.momentum) * tf.one_hot(row, self.num_steps)[:, None]
      self.moving_mean.assign(moving_mean - rate * (moving_mean - mean))
      self.moving_variance.assign(
          moving_variance - rate * (moving_variance - variance))
    else:
      if self.collect is not None:
        self.collect.add(x)
      mean = tf.gather(moving_mean, row)
      variance = tf.gather(moving_variance, row)
    scale = tf.cast(self.gamma, tf.float32) * tf.math.rsqrt(
        variance + self.epsilon)
    shift = tf.cast(self.beta, tf.float32) - mean * scale
    return tf.cast(x * scale + shift, self.compute_dtype)

  def get_config(self):
    config = super().get_config()
    config.update(num_steps=self.num_steps, momentum=self.momentum,
                  epsilon=self.epsilon)
    return config


def inference_affine(norm, step):
  """(scale, shift) float64 [C] numpy of a batch norm (Keras's or
  `StepBatchNormalization`) at inference in RIM step `step`: its output is
  x * scale + shift, the affine map `rim_tf.inference.fused` folds into the
  convolution before it."""
  if isinstance(norm, StepBatchNormalization):
    row = min(step, norm.num_steps - 1)
    mean = norm.moving_mean.numpy()[row]
    variance = norm.moving_variance.numpy()[row]
  else:
    mean, variance = norm.moving_mean.numpy(), norm.moving_variance.numpy()
  channels = mean.shape[-1]
  gamma = (norm.gamma.numpy() if getattr(norm, "gamma", None) is not None
           else np.ones(channels))
  beta = (norm.beta.numpy() if getattr(norm, "beta", None) is not None
          else np.zeros(channels))
  scale = gamma.astype(np.float64) / np.sqrt(
      variance.astype(np.float64) + norm.epsilon)
  return scale, beta.astype(np.float64) - mean.astype(np.float64) * scale


def _norm(name, dtype, norm_steps):
  """Keras's batch norm (one set of moving statistics) for norm_steps 1,
  else `StepBatchNormalization` with a row per RIM step."""
  if norm_steps == 1:
    return layers.BatchNormalization(name=name, dtype=dtype)
  return StepBatchNormalization(norm_steps, name=name, dtype=dtype)


class _CellBase(layers.Layer):
  """What every RIM cell shares: inputs, ablation switches, output layer.

  Args:
    channels: C, the image's channel count (1 gray, 3 RGB).
    use_estimate: False gives the gradient-descent network (GDN) ablation:
      the cell sees only the gradient, never eta_t.
    recurrent: False gives the feed-forward (FFN) ablation: each GRU is
      replaced by a ReLU convolution with as many features, and no state is
      carried between steps.
    norm_steps: rows of the batch norms' moving statistics: 1, one set for
      every RIM step (Keras's batch norm); T, one per RIM step
      (`StepBatchNormalization`).
    channel_context: 0, or k >= 2 for a gray cell whose batch holds the k
      channels of each image as k consecutive examples (example k i + c is
      channel c of image i, `rim_tf.data.colour.channels_to_batch`): its
      first convolution then also reads the k estimates of its image and a
      one-hot of its channel c (`context_maps`), so each channel is
      restored knowing the others.
    condition_channels: m >= 0 values per example that the first
      convolution also reads, each as a constant map: what the task knows
      about a measurement beyond y and sigma (e.g. whether it was 8-bit
      quantized, `rim_tf.tasks.Denoise`). Given to `call` as
      `condition` [N, m].

  Attributes:
    shift_period: the smallest shift of the input (in pixels) that shifts
      the output alike; 1 unless the cell is strided.
  """

  shift_period = 1

  def __init__(self, channels, use_estimate=True, recurrent=True,
               norm_steps=1, channel_context=0, condition_channels=0,
               **kwargs):
    super().__init__(**kwargs)
    if int(channels) < 1:
      raise ValueError(f"channels must be >= 1, got {channels}.")
    if int(norm_steps) < 1:
      raise ValueError(f"norm_steps must be >= 1, got {norm_steps}.")
    self.channels = int(channels)
    self.use_estimate = bool(use_estimate)
    self.recurrent = bool(recurrent)
    self.norm_steps = int(norm_steps)
    self.channel_context = int(channel_context)
    self.condition_channels = int(condition_channels)
    if self.condition_channels < 0:
      raise ValueError(f"condition_channels must be >= 0, got "
                       f"{condition_channels}.")
    if self.channel_context and (self.channel_context < 2 or
                                 self.channels != 1 or not self.use_estimate):
      raise ValueError(
          f"channel_context must be 0, or k >= 2 for a gray cell that reads "
          f"its estimate (channels=1, not the GDN ablation); got "
          f"channel_context={channel_context} with channels={channels}, "
          f"use_estimate={use_estimate}.")

  def _normalize(self, norm, x, step, training):
    if isinstance(norm, StepBatchNormalization):
      return norm(x, step=step, training=training)
    return norm(x, training=training)

  def _memory(self, features, name):
    if self.recurrent:
      return ConvGRU(features, name=name, dtype=self.dtype_policy)
    return layers.Conv2D(features, 3, padding="same", activation="relu",
                         name=name, dtype=self.dtype_policy)

  def context_maps(self, eta):
    """The channel context of eta [k N, H, W, 1] (k = `channel_context`):
    [k N, H, W, 2 k], for example k i + c the k estimates of image i, then
    the one-hot of c. Reshapes, transposes and broadcasts only, so every
    export runs it."""
    k = self.channel_context
    if eta.shape[0] is not None and eta.shape[0] % k:
      raise ValueError(
          f"a cell with channel_context={k} restores the {k} channels of "
          f"each image as {k} consecutive examples; got a batch of "
          f"{eta.shape[0]}.")
    shape = tf.shape(eta)
    height, width = shape[1], shape[2]
    images = tf.transpose(tf.reshape(eta, [-1, k, height, width]),
                          [0, 2, 3, 1])  # [N, H, W, k]
    grid = tf.stack([shape[0] // k, k, height, width, k])
    estimates = tf.broadcast_to(images[:, None], grid)
    which = tf.broadcast_to(
        tf.eye(k, dtype=eta.dtype)[None, :, None, None, :], grid)
    both = tf.concat([estimates, which], axis=-1)
    return tf.reshape(both, tf.stack([shape[0], height, width, 2 * k]))

  def condition_maps(self, condition, eta):
    """condition [N, m] as constant maps [N, H, W, m] the size of eta, in
    the compute dtype."""
    m = self.condition_channels
    condition = tf.cast(condition, self.compute_dtype)
    if condition.shape.rank != 2 or condition.shape[-1] not in (None, m):
      raise ValueError(
          f"this cell reads a condition of {m} value(s) per example: "
          f"condition must be [N, {m}], got shape {condition.shape}.")
    if (condition.shape[0] is not None and eta.shape[0] is not None and
        condition.shape[0] != eta.shape[0]):
      raise ValueError(
          f"the condition has {condition.shape[0]} rows for a batch of "
          f"{eta.shape[0]} examples: one row per example.")
    shape = tf.shape(eta)
    return tf.broadcast_to(condition[:, None, None, :],
                           tf.stack([shape[0], shape[1], shape[2], m]))

  def step_inputs(self, eta, grad, condition=None):
    """What a step's first convolution reads, in the compute dtype:
    concat(eta_t, grad) [N, H, W, 2C], or grad alone for the GDN; then,
    with a channel context, `context_maps(eta_t)` [N, H, W, 2k]; then,
    with condition channels, `condition_maps` [N, H, W, m]
    (`input_blocks` names them in order)."""
    if self.condition_channels and condition is None:
      raise ValueError(
          f"this cell reads a condition of {self.condition_channels} "
          f"value(s) per example: pass condition [N, "
          f"{self.condition_channels}].")
    if condition is not None and not self.condition_channels:
      raise ValueError("this cell reads no condition; got one.")
    grad = tf.cast(grad, self.compute_dtype)
    maps = [grad]
    if self.use_estimate:
      eta = tf.cast(eta, self.compute_dtype)
      maps = [eta, grad]
      if self.channel_context:
        maps.append(self.context_maps(eta))
    if self.condition_channels:
      maps.append(self.condition_maps(condition, grad))
    return maps[0] if len(maps) == 1 else tf.concat(maps, axis=-1)

  def input_blocks(self):
    """[(name, width)] of the maps `step_inputs` stacks, in order: the rows
    of the first convolution's kernel."""
    blocks = ([("estimate", self.channels)] if self.use_estimate else [])
    blocks.append(("gradient", self.channels))
    if self.channel_context:
      blocks.append(("context", 2 * self.channel_context))
    if self.condition_channels:
      blocks.append(("condition", self.condition_channels))
    return blocks

  @property
  def input_channels(self):
    return sum(width for _, width in self.input_blocks())

  def get_config(self):
    config = super().get_config()
    config.update(channels=self.channels, use_estimate=self.use_estimate,
                  recurrent=self.recurrent, norm_steps=self.norm_steps,
                  channel_context=self.channel_context,
                  condition_channels=self.condition_channels)
    return config


@keras.saving.register_keras_serializable(package="rim_tf")
class RIMCell(_CellBase):
  """The paper's cell: strided conv -> BN-tanh -> ConvGRU -> transposed conv.

  concat(eta_t, grad) -> Conv 3x3 stride 2 (`features`) -> BatchNorm -> tanh
  -> ConvGRU (`gru_features`, at half resolution) -> Conv2DTranspose 3x3
  stride 2 (`features`) -> BatchNorm -> tanh -> Conv 3x3 (C) = delta eta.
  Odd sizes work: an odd H (or W) is first made even by mirroring the last
  row (column), so every size sees the same sampling grid as the training
  patches, and the extra row is cropped after the transposed convolution:
  the output is [N, H, W, C] for any H, W.
  About 2.36 M parameters at the paper's 64 / 256 features.

  Args:
    channels: C of the images.
    features: width of the strided and transposed convolutions.
    gru_features: width of the ConvGRU state.
    use_estimate, recurrent, norm_steps, channel_context,
      condition_channels: see `_CellBase`.
  """

  # Shifting the input by 2 pixels shifts the output by 2 (stride 2).
  shift_period = 2

  def __init__(self, channels, features=64, gru_features=256, **kwargs):
    super().__init__(channels, **kwargs)
    self.features = int(features)
    self.gru_features = int(gru_features)
    dtype = self.dtype_policy
    self.down = _conv(self.features, "down", dtype, strides=2)
    self.down_norm = _norm("down_norm", dtype, self.norm_steps)
    self.memory = self._memory(self.gru_features, "gru")
    self.up = layers.Conv2DTranspose(self.features, 3, strides=2,
                                     padding="same", name="up", dtype=dtype)
    self.up_norm = _norm("up_norm", dtype, self.norm_steps)
    self.out = _conv(self.channels, "out", dtype)

  def build(self, input_shape=None):
    del input_shape  # The weights depend on the channel counts only.
    shape = (None, None, None, self.input_channels)
    self.down.build(shape)
    hidden = (None, None, None, self.features)
    self.down_norm.build(hidden)
    self.memory.build(hidden)
    self.up.build((None, None, None, self.gru_features))
    self.up_norm.build(hidden)
    self.out.build(hidden)

  def initial_state(self, eta):
    """Zero GRU state at half resolution; () for the FFN ablation."""
    if not self.recurrent:
      return ()
    shape = tf.shape(eta)
    half = (shape[1:3] + 1) // 2
    return (tf.zeros(tf.concat([shape[:1], half, [self.gru_features]], 0),
                     dtype=self.compute_dtype),)

  def memory_links(self):
    """[(memory layer, the layer reading its output)]: the GRU (or the FFN's
    ReLU convolution) and the transposed convolution after it."""
    return [(self.memory, self.up)]

  def norm_layers(self):
    """The batch norms in the order a step calls them."""
    return [self.down_norm, self.up_norm]

  def call(self, eta, grad, state, step=0, training=False, condition=None):
    height, width = tf.shape(eta)[1], tf.shape(eta)[2]
    inputs = pad_to_even(self.step_inputs(eta, grad, condition))
    hidden = tf.tanh(self._normalize(self.down_norm, self.down(inputs), step,
                                     training))
    if self.recurrent:
      hidden = self.memory(hidden, state[0])
      state = (hidden,)
    else:
      hidden = self.memory(hidden)
    hidden = tf.tanh(self._normalize(self.up_norm, self.up(hidden), step,
                                     training))
    hidden = hidden[:, :height, :width, :]
    return self.out(hidden), state

  def get_config(self):
    config = super().get_config()
    config.update(features=self.features, gru_features=self.gru_features)
    return config


@keras.saving.register_keras_serializable(package="rim_tf")
class AtrousRIMCell(_CellBase):
  """The full-resolution cell of paper footnote 5, with dilated convolutions.

  concat(eta_t, grad) -> Conv 3x3 dilation d1 -> BN-tanh -> Conv 3x3 d2 ->
  BN-tanh -> ConvGRU -> Conv 3x3 d3 -> BN-tanh -> ConvGRU -> Conv 3x3 (C).
  Nothing is strided, so any H x W comes back unchanged; the dilations
  (1, 2, 4 by default) widen the receptive field instead. About 518 k
  parameters at its defaults (the paper: "about 500.000").

  Args:
    channels: C of the images.
    features: width of the dilated convolutions.
    gru_features: width of each ConvGRU state.
    dilations: the three dilation rates.
    use_estimate, recurrent, norm_steps, channel_context,
      condition_channels: see `_CellBase`.
  """

  def __init__(self, channels, features=64, gru_features=64,
               dilations=(1, 2, 4), **kwargs):
    super().__init__(channels, **kwargs)
    self.features = int(features)
    self.gru_features = int(gru_features)
    self.dilations = tuple(int(d) for d in dilations)
    if len(self.dilations) != 3:
      raise ValueError(f"dilations must have 3 entries, got {dilations}.")
    dtype = self.dtype_policy
    self.convs = [_conv(self.features, f"conv{i}", dtype, dilation_rate=d)
                  for i, d in enumerate(self.dilations)]
    self.norms = [_norm(f"norm{i}", dtype, self.norm_steps)
                  for i in range(3)]
    self.memories = [self._memory(self.gru_features, f"gru{i}")
                     for i in range(2)]
    self.out = _conv(self.channels, "out", dtype)

  def build(self, input_shape=None):
    del input_shape  # The weights depend on the channel counts only.
    hidden = (None, None, None, self.features)
    memory = (None, None, None, self.gru_features)
    self.convs[0].build((None, None, None, self.input_channels))
    self.convs[1].build(hidden)
    self.convs[2].build(memory)
    for norm in self.norms:
      norm.build(hidden)
    for layer in self.memories:
      layer.build(hidden)
    self.out.build(memory)

  def initial_state(self, eta):
    """Two zero GRU states at full resolution; () for the FFN ablation."""
    if not self.recurrent:
      return ()
    shape = tf.concat([tf.shape(eta)[:3], [self.gru_features]], 0)
    return tuple(tf.zeros(shape, dtype=self.compute_dtype) for _ in range(2))

  def memory_links(self):
    """[(memory layer, the layer reading its output)] for both GRUs (or the
    FFN's ReLU convolutions)."""
    return [(self.memories[0], self.convs[2]), (self.memories[1], self.out)]

  def norm_layers(self):
    """The batch norms in the order a step calls them."""
    return list(self.norms)

  def call(self, eta, grad, state, step=0, training=False, condition=None):
    hidden = self.step_inputs(eta, grad, condition)
    new_state = []
    for i in range(3):
      hidden = tf.tanh(self._normalize(self.norms[i], self.convs[i](hidden),
                                       step, training))
      if i == 0:
        continue
      memory = self.memories[i - 1]
      if self.recurrent:
        hidden = memory(hidden, state[i - 1])
        new_state.append(hidden)
      else:
        hidden = memory(hidden)
    return self.out(hidden), tuple(new_state)

  def get_config(self):
    config = super().get_config()
    config.update(features=self.features, gru_features=self.gru_features,
                  dilations=self.dilations)
    return config


CELLS = {"rim": RIMCell, "atrous": AtrousRIMCell}


def make_cell(architecture, channels, ablation=None, **kwargs):
  """Builds a cell by name.

  Args:
    architecture: "rim" (strided, paper section 4.1) or "atrous" (footnote 5).
    channels: C of the images.
    ablation: None for the full RIM, "gdn" (no estimate input) or "ffn"
      (no recurrent state), the ablations of paper section 4.4.
    **kwargs: feature sizes etc. for the cell's constructor.
  """
  if architecture not in CELLS:
    raise ValueError(
        f"architecture must be one of {sorted(CELLS)}, got {architecture!r}.")
  switches = {None: {}, "gdn": {"use_estimate": False},
              "ffn": {"recurrent": False}}
  if ablation not in switches:
    raise ValueError(
        f"ablation must be None, 'gdn' or 'ffn', got {ablation!r}.")
  return CELLS[architecture](channels, **switches[ablation], **kwargs)
