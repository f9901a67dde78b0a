"""A trained RIM in its fast inference form: the same function, fewer operations.

`FusedRIM` reads the weights of a `rim_tf.model.RIM` whose cell is the
paper's recurrent `RIMCell` and computes the model's final estimate x_T in
inference mode with four rewrites, each exact in real arithmetic:

- each batch norm (its moving statistics of step t) is folded into the
  convolution before it: kernel * scale, bias * scale + shift;
- the GRU's three convolutions become two of the same multiply-adds: the
  gates z, r read concat(x, h) through one kernel, the candidate reads
  concat(x, r h) through another, so no partial sums are added apart;
- at the first step the state is zero, so only the input's convolutions
  for z and the candidate run (r multiplies zero, U * 0 = 0);
- the output convolution to C channels, which oneDNN runs far below its
  peak, is a 1x1 convolution to 9 C channels and a fixed sum of the nine
  shifted taps.

The sigmoids run in float32: bfloat16's is three times slower on the CPU.
On a 481 x 321 image at T = 10 in bfloat16 this takes the shipped gray
denoiser from 1.80 s to 1.49 s (`experiments/benchmarks/inference_speed.py`).
The weights are read once, at construction (eagerly): a snapshot of the
model.
"""

import numpy as np
import tensorflow as tf

from rim_tf import layers as rim_layers


def supports(model):
  """True when `FusedRIM` can run `model`: a recurrent `RIMCell`."""
  cell = getattr(model, "cell", None)
  return type(cell) is rim_layers.RIMCell and cell.recurrent  # pylint: disable=unidiomatic-typecheck


def final_estimate_fn(model, loop=False):
  """final_estimate(y, operator, sigma, steps, condition=None) of `model`:
  its fused form's (`loop`: see `FusedRIM.final_estimate`) where
  `supports(model)`, else the Keras model's (`RIM.final_estimate`)."""
  if supports(model):
    fused = FusedRIM(model)
    return lambda y, operator, sigma, steps, condition=None: (
        fused.final_estimate(y, operator, sigma, steps, loop=loop,
                             condition=condition))
  return model.final_estimate


def _numpy(variable):
  return variable.numpy().astype(np.float64)


class FusedRIM:
  """x_T of a trained RIM (recurrent `RIMCell`) in fused operations.

  Args:
    model: the `RIM`; its cell's compute dtype (float32, or bfloat16 under
      "mixed_bfloat16") is the dtype of the convolutions. The likelihood
      gradient and eta stay float32, as in the model.

  Raises:
    ValueError: for another cell (see `supports`).
  """

  def __init__(self, model):
    if not supports(model):
      cell = getattr(model, "cell", None)
      raise ValueError(
          f"FusedRIM runs a recurrent RIMCell, not {type(cell).__name__}"
          f"{'' if getattr(cell, 'recurrent', True) else ' (FFN)'}.")
    self.model = model
    cell = model.cell
    self._cell = cell
    self._dtype = tf.as_dtype(cell.compute_dtype)
    gru = cell.memory
    f = gru.features
    w_in, b_in = _numpy(gru.input_conv.kernel), _numpy(gru.input_conv.bias)
    w_gate, w_cand = _numpy(gru.gate_conv.kernel), _numpy(
        gru.candidate_conv.kernel)
    w_out = _numpy(cell.out.kernel)  # [3, 3, F, C]
    channels = w_out.shape[-1]
    # Channel (3 i + j) C + c of the 1x1 convolution is tap (i, j) of the
    # output channel c; the fixed kernel adds each tap at its offset.
    taps = np.zeros((3, 3, 9 * channels, channels))
    for i in range(3):
      for j in range(3):
        for c in range(channels):
          taps[i, j, (3 * i + j) * channels + c, c] = 1.0
    # Kept as numpy, made constants of the graph that runs them (once per
    # graph): exporters (tf2onnx) take a tensor captured from outside for
    # an input. The state's rows of a merged kernel follow the input's:
    # concat(x, h).
    self._arrays = {
        "gates": np.concatenate([w_in[..., :2 * f], w_gate], 2),
        "gates_bias": b_in[:2 * f],
        "cand": np.concatenate([w_in[..., 2 * f:], w_cand], 2),
        "cand_bias": b_in[2 * f:],
        "first_update": w_in[..., :f],
        "first_update_bias": b_in[:f],
        "first_cand": w_in[..., 2 * f:],
        "out_taps": np.transpose(w_out, [2, 0, 1, 3]).reshape(
            1, 1, w_out.shape[2], 9 * channels),
        "tap_sum": taps,
        "out_bias": _numpy(cell.out.bias),
    }
    rows = getattr(cell.down_norm, "num_steps", 1)
    self._folded = [self._fold(row) for row in range(rows)]

  def _fold(self, step):
    """The down and up convolutions with step `step`'s batch norms folded
    in: [down kernel, down bias, up kernel, up bias]."""
    cell = self._cell
    scale, shift = rim_layers.inference_affine(cell.down_norm, step)
    down = _numpy(cell.down.kernel) * scale  # out channels last
    down_bias = _numpy(cell.down.bias) * scale + shift
    scale, shift = rim_layers.inference_affine(cell.up_norm, step)
    # A transposed convolution's kernel is [3, 3, out, in].
    up = _numpy(cell.up.kernel) * scale[:, None]
    up_bias = _numpy(cell.up.bias) * scale + shift
    return [down, down_bias, up, up_bias]

  # Plain Python control flow on Python values only: autograph's rewrite
  # of these methods would be most of the tracing time.
  @tf.autograph.experimental.do_not_convert
  def weights(self):
    """The weights as tensors (constants where a graph is traced): a dict
    of the shared ones and "folded", [down, down bias, up, up bias] per
    row of batch-norm statistics. The tap sum and the output bias are
    float32, the rest in the compute dtype."""
    float32 = ("tap_sum", "out_bias")
    tensors = {name: tf.constant(array, tf.float32 if name in float32
                                 else self._dtype)
               for name, array in self._arrays.items()}
    tensors["folded"] = [[tf.constant(a, self._dtype) for a in row]
                         for row in self._folded]
    return tensors

  def _step_convs(self, weights, step):
    """(down kernel, down bias, up kernel, up bias) of RIM step `step`, a
    Python int or (in a graph loop) an int32 tensor."""
    rows = weights["folded"]
    if isinstance(step, int):
      return rows[min(step, len(rows) - 1)]
    row = tf.minimum(step, len(rows) - 1)
    return [tf.gather(tf.stack([r[i] for r in rows]), row) for i in range(4)]

  @tf.autograph.experimental.do_not_convert
  def cell(self, eta, grad, state, step, weights=None, condition=None):
    """The cell's (delta eta float32 [N, H, W, C], state) at step `step`
    (a Python int), as `RIMCell.call` in inference mode. `weights`: from
    `weights()`, made once for all steps of a graph. At step 0 the state is
    the cell's zero initial state whatever `state` is (None will do).
    `condition`: [N, m], if the cell reads one."""
    w = self.weights() if weights is None else weights
    height, width = tf.shape(eta)[1], tf.shape(eta)[2]
    down, down_bias, up, up_bias = self._step_convs(w, step)
    conv = lambda x, name: tf.nn.conv2d(x, w[name], 1, "SAME")
    inputs = rim_layers.pad_to_even(self._cell.step_inputs(eta, grad,
                                                           condition))
    x = tf.tanh(tf.nn.bias_add(tf.nn.conv2d(inputs, down, 2, "SAME"),
                               down_bias))
    if isinstance(step, int) and step == 0:  # The state is zero.
      update = self._sigmoid(tf.nn.bias_add(conv(x, "first_update"),
                                            w["first_update_bias"]))
      candidate = tf.tanh(tf.nn.bias_add(conv(x, "first_cand"),
                                         w["cand_bias"]))
      h = candidate - update * candidate
    else:
      h = state
      gates = self._sigmoid(tf.nn.bias_add(
          conv(tf.concat([x, h], -1), "gates"), w["gates_bias"]))
      update, reset = tf.split(gates, 2, axis=-1)
      candidate = tf.tanh(tf.nn.bias_add(
          conv(tf.concat([x, reset * h], -1), "cand"), w["cand_bias"]))
      h = candidate + update * (h - candidate)
    shape = tf.shape(h)
    upsampled = tf.nn.conv2d_transpose(
        h, up, tf.stack([shape[0], 2 * shape[1], 2 * shape[2],
                         tf.shape(up)[2]]), 2, "SAME")
    hidden = tf.tanh(tf.nn.bias_add(upsampled, up_bias))
    # The 1x1 convolution is pointwise: crop its 9 C channels, not the
    # wide input.
    taps = tf.cast(conv(hidden, "out_taps")[:, :height, :width, :],
                   tf.float32)
    return tf.nn.bias_add(conv(taps, "tap_sum"), w["out_bias"]), h

  def _sigmoid(self, x):
    return tf.cast(tf.sigmoid(tf.cast(x, tf.float32)), self._dtype)

  @tf.autograph.experimental.do_not_convert
  def final_estimate(self, y, operator, sigma, steps, loop=False,
                     condition=None):
    """x_T [N, H, W, C] float32, as `RIM.final_estimate(y, operator, sigma,
    steps, condition)` (T = `steps`, a Python int). `loop`: steps 1 to T - 1 in one
    `tf.while_loop` (a graph a tenth the size: quicker to build and to
    start, as fast to run), else unrolled (what exports want: plain ops)."""
    model = self.model
    y = tf.cast(y, tf.float32)
    sigma = tf.cast(sigma, tf.float32)
    eta = model.initial_eta(y, operator)
    weights = self.weights()

    def step(t, eta, state):
      grad = model.likelihood(eta, y=y, operator=operator, sigma=sigma)
      delta, state = self.cell(eta, grad, state, t, weights, condition)
      return eta + delta, state

    eta, state = step(0, eta, None)
    if loop and int(steps) > 1:
      _, eta, state = tf.while_loop(
          lambda t, *_: t < steps,
          lambda t, eta, state: (t + 1,) + step(t, eta, state),
          (tf.constant(1), eta, state), maximum_iterations=int(steps) - 1)
    else:
      for t in range(1, int(steps)):
        eta, state = step(t, eta, state)
    return tf.sigmoid(eta)
