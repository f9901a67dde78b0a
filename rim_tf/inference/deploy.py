"""Exports of a trained RIM that run without rim_tf: SavedModel, ONNX, LiteRT.

    rim_tf.export("denoise_gray", "savedmodel", "denoise_gray_savedmodel")

An exported denoiser is one function, the RIM unrolled for T steps:

    image: float32 [N, H, W, C] on [0, 1] (H and W any size the RIM takes)
    sigma: float32 [N], the noise std on the [0, 1] scale (sigma_255 / 255)
    ->     float32 [N, H, W, C], the restored image

A deblurring RIM also takes `kernel` float32 [MAX_KERNEL, MAX_KERNEL] (the
kernel centred in that frame: `rim_tf.data.kernels.embed`), and blurs
circularly. A super-resolution RIM is exported for one scale: it takes the
low-resolution `image` [N, h, w, C] alone (its noise level is the one it
was trained with) and returns [N, scale h, scale w, C]. Each format is written by its own converter:
`tf.saved_model.save`, tf2onnx and the TFLite converter (LiteRT); the
runtimes that load them are optional extras (`pip install -e ".[export]"`).
"""

import os
import pathlib

import tensorflow as tf

from rim_tf import operators
from rim_tf import pretrained
from rim_tf import tasks
from rim_tf.data import colour
from rim_tf.inference import fused
from rim_tf.operators import blur

FORMATS = ("savedmodel", "onnx", "litert")
# The ONNX opset written: the newest that tf2onnx and onnxruntime share.
ONNX_OPSET = 17


def serving_function(model, task, steps, scale=None):
  """The tf.function an export holds, with its input signature: the RIM in
  its fused form where the cell allows (`rim_tf.inference.fused`)."""
  channels = model.channels
  final_estimate = fused.final_estimate_fn(model)
  image = tf.TensorSpec([None, None, None, channels], tf.float32, "image")
  sigma = tf.TensorSpec([None], tf.float32, "sigma")
  if task.restores == "superres":
    operator = operators.BicubicDownsample(scale, (None, None, channels))
    noise = task.likelihood_sigma_255 / 255.0

    @tf.function(input_signature=[image])
    def serve_superres(image):
      sigma = tf.fill(tf.shape(image)[:1], noise)
      return {"restored": final_estimate(image, operator, sigma, steps)}
    return serve_superres
  if task.restores == "deblur":
    kernel = tf.TensorSpec([blur.MAX_KERNEL, blur.MAX_KERNEL], tf.float32,
                           "kernel")

    @tf.function(input_signature=[image, kernel, sigma])
    def serve_deblur(image, kernel, sigma):
      operator = operators.Blur(kernel, (None, None, channels), "circular",
                                start=task.deblur_start, sigma=sigma)
      return {"restored": final_estimate(image, operator, sigma, steps)}
    return serve_deblur
  if task.restores != "denoise":
    raise ValueError(f"exports of {task.name!r} RIMs are not supported: "
                     f"denoising, deblurring and super-resolution RIMs "
                     f"export.")
  operator = operators.Identity((None, None, channels), task.denoise_start)
  # A cell's condition (`Task.condition_of`) is read off the input in the
  # graph, as `rim_tf.restore` reads it: the export's inputs stay the same.
  condition_of = (task.condition_of if task.condition_channels else
                  lambda image: None)
  if task.color_space == "opponent":
    # RGB in and out; inside, each opponent channel is a gray image with
    # its own noise std (`rim_tf.data.colour`).
    rgb = tf.TensorSpec([None, None, None, 3], tf.float32, "image")

    @tf.function(input_signature=[rgb, sigma])
    def serve_opponent(image, sigma):
      # Made inside: a tensor captured from outside is an input to tf2onnx.
      gains = tf.constant(colour.NOISE_GAIN)
      gray = colour.channels_to_batch(colour.to_opponent_tf(image))
      # One sigma for all N images, or one each, as the other exports.
      sigma = tf.broadcast_to(sigma, tf.shape(image)[:1])
      sigmas = tf.reshape(sigma[:, None] * gains[None, :], [-1])
      condition = condition_of(image)
      if condition is not None:  # One row per image, then per channel.
        condition = tf.repeat(condition, 3, axis=0)
      out = final_estimate(gray, operator, sigmas, steps, condition)
      # Clipped: three estimates on (0, 1) can map outside the RGB cube.
      return {"restored": tf.clip_by_value(colour.from_opponent_tf(
          colour.batch_to_channels(out)), 0.0, 1.0)}
    return serve_opponent

  @tf.function(input_signature=[image, sigma])
  def serve(image, sigma):
    return {"restored": final_estimate(image, operator, sigma, steps,
                                       condition_of(image))}
  return serve


def export(weights, format, output, steps=None, scale=None):  # pylint: disable=redefined-builtin
  """Writes the RIM of `weights` (a shipped name or a .weights.h5 path) as
  `format` (one of FORMATS) to `output` (a folder for "savedmodel", a
  .onnx or .tflite file otherwise); returns the path written.

  `steps`: T of the export (default: the weights' own, as
  `rim_tf.restore` uses them). `scale`: a super-resolution RIM's factor,
  one it was trained for (`Task.usable_scales`); only for those.
  """
  if format not in FORMATS:
    raise ValueError(f"format must be one of {FORMATS}, got {format!r}.")
  model, config = pretrained.load(weights)
  task = tasks.from_config(config)
  if steps is None:
    steps = task.denoise_steps or config.trainer.rim_steps
  if int(steps) != steps or steps < 1:
    raise ValueError(f"steps must be a whole number >= 1, got {steps!r}.")
  usable = task.usable_scales
  if usable is None and scale is not None:
    raise ValueError(f"scale applies to super-resolution RIMs only; "
                     f"{weights} is a {task.name!r} RIM.")
  if usable is not None and scale not in usable:
    raise ValueError(f"{weights} exports for one of the scales it was "
                     f"trained for, {', '.join(map(str, usable))}: give "
                     f"scale, got {scale!r}.")
  serve = serving_function(model, task, int(steps), scale)
  output = pathlib.Path(os.path.expanduser(str(output)))
  output.parent.mkdir(parents=True, exist_ok=True)
  if format == "savedmodel":
    _save(model, serve, output)
  elif format == "onnx":
    import onnx  # pylint: disable=g-import-not-at-top
    import tf2onnx  # pylint: disable=g-import-not-at-top
    proto, _ = tf2onnx.convert.from_function(
        serve, input_signature=serve.input_signature, opset=ONNX_OPSET)
    # tf2onnx keeps an op it cannot convert as it is, and only logs it: an
    # export that no ONNX runtime could run is refused here instead.
    unknown = sorted({node.op_type for node in proto.graph.node
                      if not onnx.defs.has(node.op_type, node.domain or "")})
    if unknown:
      raise ValueError(f"{weights} cannot be exported as onnx: tf2onnx does "
                       f"not convert its ops {unknown} (a savedmodel export "
                       f"can).")
    onnx.save(proto, str(output))
  else:
    # The weights frozen into constants first: left as variables (also
    # when converted from a SavedModel) they are never initialised by the
    # LiteRT interpreter.
    from tensorflow.python.framework import convert_to_constants  # pylint: disable=g-import-not-at-top,g-direct-tensorflow-import
    frozen = convert_to_constants.convert_variables_to_constants_v2(
        serve.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    try:
      flatbuffer = converter.convert()
    except Exception as error:  # pylint: disable=broad-except
      # The converter's own error is pages of MLIR; its first line says it.
      first = str(error).strip().splitlines()[0][:200] if str(error) else ""
      raise ValueError(f"{weights} cannot be exported as litert: the "
                       f"converter failed ({type(error).__name__}: {first}); "
                       f"a savedmodel export can.") from None
    output.write_bytes(flatbuffer)
  return output


def _save(model, serve, folder):
  module = tf.Module()
  # The fused form holds the cell's weights as constants of its graph: only
  # the likelihood's variable is left to save beside them.
  module.model = model.likelihood if fused.supports(model) else model
  module.serve = serve
  tf.saved_model.save(module, str(folder),
                      signatures={"serving_default": serve})
