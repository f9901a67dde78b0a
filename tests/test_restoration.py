"""Tests of rim_tf.inference.api: the Restorer, tiling with a RIM, `restore`.

Tiny untrained RIMs on synthetic images; the round trip against the
evaluation binary's per-image PSNR uses the shipped weights and a BSD68
image when RIM_DATA_DIR is set.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

import rim_tf
from rim_tf.data import bsds
from rim_tf.evaluation import protocols
from rim_tf.evaluation import runner
from rim_tf.inference import api
from rim_tf.inference import cli
from rim_tf.inference import engine
from rim_tf.inference import image_files
from rim_tf.inference import tiling
from rim_tf import metrics
from rim_tf import model as rim_model
from rim_tf import operators
from rim_tf import pretrained
from synthetic import export_untrained_rim
from synthetic import smooth_image


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
  """{task: path} of untrained tiny exported RIMs (T = 3)."""
  folder = tmp_path_factory.mktemp("weights")
  return {task: export_untrained_rim(folder, task, steps=3)
          for task in ("denoise", "superres", "denoise_color", "deblur")}


# -- Restorer -----------------------------------------------------------------


def test_rim_restorer_denoise_keeps_odd_sizes(tiny_rim):
  rim = engine.Restorer(tiny_rim, steps=2)
  noisy = protocols.noisy_image(smooth_image(37, 29, 1), 25, False, (0,))
  out = rim.denoise(noisy, 25)
  assert out.shape == (37, 29, 1) and out.dtype == np.float32
  assert np.all((out > 0) & (out < 1))


def test_rim_restorer_maps_rgb_through_a_gray_model_per_channel(tiny_rim):
  rim = engine.Restorer(tiny_rim, steps=2)
  rgb = protocols.noisy_image(smooth_image(37, 29, 3, seed=5), 15, True, (1,))
  rgb[..., 2] = rgb[..., 2][::-1]  # make the channels clearly different
  out = rim.denoise(rgb, 15)
  assert out.shape == (37, 29, 3)
  for c in range(3):
    alone = rim.denoise(rgb[..., c:c + 1], 15)
    np.testing.assert_allclose(out[..., c], alone[..., 0], atol=1e-5)
  assert not np.allclose(out[..., 0], out[..., 2], atol=1e-2)


def test_rim_restorer_denoises_rgb_in_the_opponent_space_if_told(tiny_rim):
  from rim_tf.data import colour  # pylint: disable=g-import-not-at-top
  rgb = protocols.noisy_image(smooth_image(37, 29, 3, seed=5), 15, False, (1,))
  rgb[..., 2] = rgb[..., 2][::-1]
  out = engine.Restorer(tiny_rim, 2, color_space="opponent").denoise(rgb, 15)
  # Each opponent channel denoised as a gray image at its own sigma.
  gray = engine.Restorer(tiny_rim, 2)
  channels = colour.to_opponent(rgb)
  expected = np.clip(colour.from_opponent(np.stack([
      gray.denoise(channels[..., c:c + 1], 15 * colour.NOISE_GAIN[c])[..., 0]
      for c in range(3)], axis=-1)), 0.0, 1.0)
  assert out.shape == (37, 29, 3)
  np.testing.assert_allclose(out, expected, atol=1e-6)
  assert not np.allclose(out, gray.denoise(rgb, 15), atol=1e-3)
  # Saturated colours: opponent estimates on (0, 1) can leave the RGB cube;
  # the result stays on [0, 1].
  saturated = np.zeros((24, 20, 3), np.float32)
  saturated[:12, :, 0] = saturated[12:, :, 2] = 1.0
  opponent = engine.Restorer(tiny_rim, 2, color_space="opponent")
  out = opponent.denoise(saturated, 50)
  assert out.min() >= 0.0 and out.max() <= 1.0
  with pytest.raises(ValueError, match="color_space must be"):
    engine.Restorer(tiny_rim, 2, color_space="yuv")


def test_an_opponent_space_model_restores_rgb_through_restore(tmp_path):
  path = export_untrained_rim(tmp_path, "denoise_color", steps=2,
                              overrides={"task_args.space": "opponent"},
                              name="opponent")
  restorer, _ = engine.Restorer.from_weights(path)
  assert (restorer.color_space, restorer.channels) == ("opponent", 1)
  image = smooth_image(33, 40, 3, seed=2)
  out = rim_tf.restore(image, task="denoise", sigma=25, weights=str(path),
                       fast=False)
  assert out.shape == (33, 40, 3) and out.dtype == np.uint8
  np.testing.assert_array_equal(
      out, metrics.to_uint8(restorer.denoise(image / np.float32(255), 25)))


def test_a_context_model_restores_the_three_channels_together(tmp_path):
  from rim_tf.data import colour  # pylint: disable=g-import-not-at-top
  path = export_untrained_rim(
      tmp_path, "denoise_color", steps=2, name="context",
      overrides={"task_args.space": "opponent", "task_args.context": True})
  restorer, _ = engine.Restorer.from_weights(path)
  assert restorer.model.cell.channel_context == 3
  rgb = protocols.noisy_image(smooth_image(37, 29, 3, seed=5), 15, False, (1,))
  rgb[..., 2] = rgb[..., 2][::-1]
  out = restorer.denoise(rgb, 15)
  # The reference: the Keras model on the image's three opponent channels
  # as one batch, each at its own sigma.
  batch = colour.channels_to_batch(colour.to_opponent_tf(
      tf.constant(rgb[None])))
  _, final = restorer.model(
      batch, operator=operators.Identity((None, None, 1)),
      sigma=tf.constant(15 / 255 * colour.NOISE_GAIN), steps=2)
  want = np.clip(colour.from_opponent(
      colour.batch_to_channels(final).numpy()[0]), 0.0, 1.0)
  np.testing.assert_allclose(out, want, atol=1e-6)
  # Tiles restore the three channels of each tile together too.
  tiled = restorer.denoise(rgb, 15, tile=24, overlap=8)
  assert tiled.shape == rgb.shape and np.abs(tiled - out).mean() < 0.02
  # The fast path (fused, bfloat16) runs it too.
  fast, _ = engine.Restorer.from_weights(path, fast=True)
  assert fast.fused is not None
  assert np.abs(fast.denoise(rgb, 15) - out).max() < 1 / 255
  # Only RGB images, in the opponent space: one line, not a graph error.
  with pytest.raises(ValueError, match="denoises RGB images only.*got a "
                     "1-channel image"):
    restorer.denoise(rgb[..., :1], 15)
  with pytest.raises(ValueError, match="denoises RGB images only"):
    rim_tf.restore((rgb[..., 0] * 255).astype(np.uint8), sigma=15,
                   weights=str(path), fast=False)
  with pytest.raises(ValueError, match="color_space must be 'opponent'"):
    engine.Restorer(restorer.model, 2)


def test_a_flagged_model_reads_off_each_input_whether_it_is_8_bit(tmp_path):
  from rim_tf.data import colour  # pylint: disable=g-import-not-at-top
  path = export_untrained_rim(
      tmp_path, "denoise_color", steps=2, name="flag",
      overrides={"task_args.space": "opponent", "task_args.context": True,
                 "task_args.quantize": 0.5,
                 "task_args.quantization_flag": True})
  restorer, _ = engine.Restorer.from_weights(path)
  assert restorer.model.cell.condition_channels == 1
  clean = smooth_image(37, 29, 3, seed=5)
  unclipped = protocols.noisy_image(clean, 15, False, (1,))
  quantized = protocols.noisy_image(clean, 15, True, (1,))

  def reference(rgb, flag):
    batch = colour.channels_to_batch(colour.to_opponent_tf(
        tf.constant(rgb[None])))
    _, final = restorer.model(
        batch, operator=operators.Identity((None, None, 1)),
        sigma=tf.constant(15 / 255 * colour.NOISE_GAIN), steps=2,
        condition=tf.fill([3, 1], flag))
    return np.clip(colour.from_opponent(
        colour.batch_to_channels(final).numpy()[0]), 0.0, 1.0)

  fast, _ = engine.Restorer.from_weights(path, fast=True)
  for rgb, flag in ((unclipped, 0.0), (quantized, 1.0)):
    out = restorer.denoise(rgb, 15)
    np.testing.assert_allclose(out, reference(rgb, flag), atol=1e-6)
    assert np.abs(fast.denoise(rgb, 15) - out).max() < 1 / 255
  # Tiles hold the whole image's flag: an 8-bit image with one value off
  # the grid is not 8 bit, though most of its tiles are.
  almost = quantized.copy()
  almost[2, 3, 1] += np.float32(0.3 / 255)
  told = {flag: engine.Restorer(
      restorer.model, 2, color_space="opponent",
      condition_of=lambda images, flag=flag: tf.fill([len(images), 1], flag))
          for flag in (0.0, 1.0)}
  tiled = restorer.denoise(almost, 15, tile=24, overlap=8)
  np.testing.assert_array_equal(
      tiled, told[0.0].denoise(almost, 15, tile=24, overlap=8))
  assert np.abs(tiled - told[1.0].denoise(almost, 15, tile=24,
                                          overlap=8)).max() > 1e-4
  # The flag changes the result (its untrained row is not zero).
  assert np.abs(reference(quantized, 0.0) - reference(quantized, 1.0)).max(
  ) > 1e-4
  # An 8-bit file is 8 bit: rim_tf.restore reads uint8 as such.
  as_uint8 = metrics.to_uint8(quantized)
  said = []
  np.testing.assert_array_equal(
      rim_tf.restore(as_uint8, sigma=15, weights=str(path), fast=False,
                     log=said.append),
      metrics.to_uint8(reference(quantized, 1.0)))
  assert "the input is on the 8-bit grid: restoring it as 8-bit quantized." \
      in said
  rim_tf.restore(unclipped, sigma=15, weights=str(path), fast=False,
                 log=said.append)
  assert said[-1].startswith("the input is off the 8-bit grid")
  with pytest.raises(ValueError, match="condition_of must compute them"):
    engine.Restorer(restorer.model, 2, color_space="opponent")


@pytest.mark.parametrize("space", ["rgb", "opponent"])
def test_a_flagged_gray_model_gives_every_channel_the_images_flag(
    tmp_path, space):
  # A gray denoiser with the flag restores an RGB image channel by channel
  # (R, G, B or the opponent channels one by one): each reads the flag of
  # the whole RGB image.
  path = export_untrained_rim(
      tmp_path, "denoise_color", steps=2, name="flag",
      overrides={"task_args.space": "opponent", "task_args.quantize": 0.5,
                 "task_args.quantization_flag": True})
  restorer, _ = engine.Restorer.from_weights(path)
  restorer = engine.Restorer(restorer.model, 2, color_space=space,
                             condition_of=restorer.condition_of)
  told = {flag: engine.Restorer(
      restorer.model, 2, color_space=space,
      condition_of=lambda images, flag=flag: tf.fill([len(images), 1], flag))
          for flag in (0.0, 1.0)}
  clean = smooth_image(21, 18, 3, seed=2)
  for rgb, flag in ((protocols.noisy_image(clean, 25, False, (2,)), 0.0),
                    (protocols.noisy_image(clean, 25, True, (2,)), 1.0)):
    out = restorer.denoise(rgb, 25)
    np.testing.assert_array_equal(out, told[flag].denoise(rgb, 25))
    assert np.abs(out - told[1.0 - flag].denoise(rgb, 25)).max() > 1e-4


def test_rim_restorer_denoises_from_the_start_it_is_given(tiny_rim):
  noisy = protocols.noisy_image(smooth_image(24, 20, 1), 25, False, (0,))
  sigma = np.array([25 / 255.0], np.float32)
  for start in ("measurement", "flat"):
    rim = engine.Restorer(tiny_rim, steps=2, denoise_start=start)
    expected = tiny_rim(noisy[None], operator=operators.Identity(
        (None, None, 1), start), sigma=sigma, steps=2)[1]
    np.testing.assert_allclose(rim.denoise(noisy, 25), expected[0],
                               atol=1e-6)
  flat = engine.Restorer(tiny_rim, steps=2, denoise_start="flat")
  assert not np.allclose(flat.denoise(noisy, 25),
                         engine.Restorer(tiny_rim, 2).denoise(noisy, 25),
                         atol=1e-3)


def test_rim_restorer_rejects_an_unknown_start(tiny_rim):
  with pytest.raises(ValueError, match="start must be one of"):
    engine.Restorer(tiny_rim, steps=2, denoise_start="noisy")


@pytest.mark.parametrize("task, start, steps", [
    ("denoise", "measurement", 3),  # the T it was trained with
    ("random_projections", "flat", 20)])
def test_restorer_from_weights_denoises_from_its_tasks_start_and_steps(
    tmp_path, task, start, steps):
  path = export_untrained_rim(tmp_path, task, steps=3)
  rim, config = engine.Restorer.from_weights(path)
  assert config.task == task
  assert rim.denoise_operator.start == start
  assert rim.steps == steps
  # A T asked for overrides the task's.
  assert engine.Restorer.from_weights(path, steps=5)[0].steps == 5
  # 0 is a bad T, not "the default".
  with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
    engine.Restorer.from_weights(path, steps=0)


def test_rim_restorer_refuses_gray_images_for_a_colour_model():
  model = rim_model.build_rim("rim", 3, features=8, gru_features=8,
                              num_steps=1)
  rim = engine.Restorer(model, steps=1)
  with pytest.raises(ValueError, match="3-channel RIM cannot restore a "
                     "1-channel"):
    rim.denoise(np.zeros((16, 16, 1), np.float32), 25)


@pytest.mark.parametrize("channels", [1, 3])
def test_rim_restorer_superres_returns_uint8_of_scaled_size(tiny_rim,
                                                            channels):
  rim = engine.Restorer(tiny_rim, steps=2)
  low = smooth_image(11, 9, channels)
  out = rim.superres_uint8(low, 2)
  assert out.dtype == np.uint8 and out.shape == (22, 18, channels)
  # A RIM starting from the bicubic-like initial estimate stays close to LR.
  down = operators.imresize(out, 0.5)
  assert np.abs(down.astype(int) - low.astype(int)).mean() < 40


def test_a_gray_rim_super_resolves_the_luma_of_a_colour_image(tiny_rim):
  rim = engine.Restorer(tiny_rim, steps=2, superres_sigma_255=5.0)
  low = smooth_image(13, 10, 3, seed=4).astype(np.float32) / 255
  low[..., 2] = low[..., 2][::-1]  # clearly coloured
  out = rim.superres(low, 3)
  assert out.shape == (39, 30, 3) and out.dtype == np.float32
  # Mid-range colours: no clipping, so the output's YCbCr is exact.
  assert 0.0 < out.min() and out.max() < 1.0
  ycbcr_low = metrics.rgb2ycbcr01(low)
  ycbcr_out = metrics.rgb2ycbcr01(out)
  # The RIM saw Y stretched from [16, 235] / 255 to [0, 1] (the range of
  # its gray training images), with the noise level stretched alike.
  stretch = 255.0 / 219.0
  gray = (ycbcr_low[..., :1] - 16.0 / 255.0) * stretch
  on_gray = engine.Restorer(tiny_rim, steps=2,
                              superres_sigma_255=5.0 * stretch)
  luma = on_gray.superres(gray.astype(np.float32), 3)
  np.testing.assert_allclose(ycbcr_out[..., 0],
                             16.0 / 255.0 + luma[..., 0] / stretch,
                             atol=1e-5)
  chroma = operators.imresize(ycbcr_low[..., 1:], 3)
  np.testing.assert_allclose(ycbcr_out[..., 1:], chroma, atol=1e-5)
  # The RIM changed the luma: not plain bicubic.
  bicubic = operators.imresize(gray, 3)
  assert np.abs(luma - bicubic).max() > 1e-3


# -- tables and files ---------------------------------------------------------


# -- tiled passes -------------------------------------------------------------


def test_tiled_denoising_matches_the_whole_image_pass(weights):
  rim, _ = engine.Restorer.from_weights(str(weights["denoise"]))
  noisy = protocols.noisy_image(smooth_image(150, 171, 1, seed=2), 25, False,
                               (3,))
  whole = rim.denoise(noisy, 25)
  tiled = rim.denoise(noisy, 25, tile=80, overlap=32)
  assert tiled.shape == whole.shape
  # The bound users are promised is 1/255; here it is 0.04 / 255.
  assert np.abs(tiled - whole).max() < 0.25 / 255
  # Odd tile offsets would put tiles on another sampling grid of the
  # stride-2 cell: alignment is what makes the tiles agree.
  misaligned = tiling.apply_tiled(
      lambda t: rim.denoise(t, 25), noisy, 80, 32, align=1)
  assert np.abs(misaligned - whole).max() > 1e-3


def test_tiled_superres_matches_the_whole_image_pass(weights):
  rim, _ = engine.Restorer.from_weights(str(weights["superres"]))
  low = smooth_image(61, 75, 1, seed=3).astype(np.float32) / 255
  for scale in (2, 3):
    whole = rim.superres(low, scale)
    tiled = rim.superres(low, scale, tile=48, overlap=20)
    assert tiled.shape == whole.shape == (scale * 61, scale * 75, 1)
    assert np.abs(tiled - whole).max() < 1 / 255, scale


def test_superres_at_two_scales_of_one_high_resolution_shape(weights):
  # x2 of 16 x 24 and x4 of 8 x 12 are both 32 x 48: each scale keeps its own
  # operator (Table 3 runs every image at x2, then x3, then x4).
  rim, _ = engine.Restorer.from_weights(str(weights["superres"]))
  fresh, _ = engine.Restorer.from_weights(str(weights["superres"]))
  small = smooth_image(8, 12, 1, seed=4).astype(np.float32) / 255
  large = smooth_image(16, 24, 1, seed=5).astype(np.float32) / 255
  assert rim.superres(large, 2).shape == (32, 48, 1)
  at_x4 = rim.superres(small, 4)
  assert at_x4.shape == (32, 48, 1)
  np.testing.assert_array_equal(at_x4, fresh.superres(small, 4))


def test_superres_uses_the_training_noise_level(tmp_path):
  path = export_untrained_rim(tmp_path, "superres")
  meta = pretrained.metadata(path)
  meta["config"]["task_args"]["noise_sigma_255"] = 7.0
  path.with_name("superres.json").write_text(json.dumps(meta))
  rim, _ = engine.Restorer.from_weights(str(path))
  assert rim.superres_sigma_255 == 7.0


# -- the Python API -----------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32,
                                   np.float64])
def test_restore_returns_the_input_dtype_and_shape(weights, dtype):
  clean = smooth_image(40, 44, 1, seed=4)[..., 0]  # [H, W]: no channel axis
  if dtype == np.uint16:
    image = clean.astype(np.uint16) * 257
  elif dtype in (np.float32, np.float64):
    image = clean.astype(dtype) / 255
  else:
    image = clean
  out = rim_tf.restore(image, task="denoise", sigma=25,
                       weights=str(weights["denoise"]))
  assert out.dtype == dtype and out.shape == (40, 44)
  rim, _ = api.load_restorer(str(weights["denoise"]))
  expected = rim.denoise(clean[..., None].astype(np.float32) / 255, 25)
  scale = {np.uint8: 255, np.uint16: 65535, np.float32: 1,
           np.float64: 1}[dtype]
  np.testing.assert_allclose(out.astype(np.float64) / scale,
                             expected[..., 0], atol=0.51 / scale + 1e-6)


def test_restore_superres_gives_the_scaled_size(weights):
  lines = []
  out = rim_tf.restore(smooth_image(20, 30, 3), task="superres", scale=3,
                       weights=str(weights["superres"]), log=lines.append)
  assert out.shape == (60, 90, 3) and out.dtype == np.uint8
  assert lines == [f"super-resolving the luma with the gray RIM "
                   f"{weights['superres']}, the chroma bicubically."]


def test_restore_estimates_sigma_when_omitted(weights, monkeypatch):
  seen = []
  original = engine.Restorer.denoise

  def spy(self, noisy01, sigma_255, **kwargs):
    seen.append(sigma_255)
    return original(self, noisy01, sigma_255, **kwargs)

  monkeypatch.setattr(engine.Restorer, "denoise", spy)
  clean = np.full((96, 96, 1), 0.5, np.float32)
  noisy = clean + 20 / 255 * np.random.default_rng(0).standard_normal(
      clean.shape).astype(np.float32)
  rim_tf.restore(noisy, sigma=None, weights=str(weights["denoise"]))
  assert seen and seen[0] == pytest.approx(20, rel=0.1)


def test_estimate_noise_255_is_close_on_a_flat_image():
  rng = np.random.default_rng(1)
  image = 0.4 + 15 / 255 * rng.standard_normal((128, 128, 3))
  assert api.estimate_noise_255(image) == pytest.approx(15, rel=0.05)


@pytest.mark.parametrize("kwargs,message", [
    (dict(task="inpaint"), "task must be one of"),
    (dict(sigma=0), "sigma must be a finite number > 0"),
    (dict(sigma=-3), "sigma must be a finite number > 0"),
    (dict(sigma=float("inf")), "sigma must be a finite number > 0"),
    (dict(sigma=float("nan")), "sigma must be a finite number > 0"),
    (dict(sigma=np.array([25.0, 30.0])), "sigma must be one number"),
    (dict(sigma=True), "sigma must be one number"),
    (dict(sigma=25, steps=2.5), "steps must be a whole number"),
    (dict(sigma=25, steps=0), "steps must be >= 1"),
    (dict(task="superres", scale=2, sigma=10), "sigma applies to tasks "
     "'denoise' and 'deblur' only"),
    (dict(task="superres", scale=2.5), "scale must be an integer >= 2"),
    (dict(task="superres"), "scale must be an integer >= 2"),
    (dict(task="superres", scale=1), "scale must be an integer >= 2"),
    (dict(sigma=25, scale=2), "scale applies to task 'superres'"),
    (dict(sigma=25, kernel=np.ones((3, 3)) / 9), "kernel and boundary apply "
     "to task 'deblur' only"),
    (dict(task="deblur", sigma=5), "needs the blur kernel"),
    (dict(task="deblur", sigma=5, kernel=np.ones((3, 3, 3)) / 27),
     r"must be 2-D \[kh, kw\] \(one kernel blurs every channel alike\)"),
    (dict(task="deblur", sigma=5, kernel=np.ones((4, 3)) / 12),
     "odd sides of at most 31"),
    (dict(task="deblur", sigma=5, kernel=np.ones((33, 33)) / 33 ** 2),
     "odd sides of at most 31"),
    (dict(task="deblur", sigma=5, kernel=np.full((3, 3), np.nan)),
     "NaN or infinite"),
    (dict(task="deblur", sigma=5,
          kernel=np.array([[0, -0.5, 0], [0, 1.5, 0], [0, 0, 0]])),
     "negative entries"),
    (dict(task="deblur", sigma=5, kernel=np.zeros((3, 3))), "all zero"),
    (dict(task="deblur", sigma=5, kernel=np.ones((3, 3))),
     "sums to 9; a blur kernel sums to 1"),
    (dict(task="deblur", sigma=5, kernel=np.ones((17, 17)) / 17 ** 2),
     r"kernel \(17x17\) is larger than the image \(16x16\)"),
    (dict(task="deblur", sigma=5, kernel=np.ones((1, 17)) / 17),
     r"kernel \(1x17\) is larger than the image \(16x16\)"),
    (dict(task="deblur", sigma=5, kernel=np.ones((3, 3)) / 9,
          boundary="zero"), "boundary must be one of"),
    (dict(task="deblur", sigma=500, kernel=np.ones((3, 3)) / 9),
     "sigma 500 is more than"),
    (dict(task="deblur", sigma=-1, kernel=np.ones((3, 3)) / 9),
     "sigma must be a finite number >= 0"),
])
def test_restore_rejects_bad_arguments(weights, kwargs, message):
  task = kwargs.get("task", "denoise")
  with pytest.raises(ValueError, match=message):
    rim_tf.restore(smooth_image(16, 16, 1),
                   weights=str(weights.get(task, weights["denoise"])),
                   **kwargs)


@pytest.mark.parametrize("image,message", [
    (np.zeros((1, 1, 1), np.uint8), "at least 8x8"),
    (np.zeros((16, 16, 4), np.uint8), "gray .* or RGB"),
    (np.zeros((16, 16), np.int32), "uint8, uint16 or float"),
    (np.full((16, 16), 200.0), "divide an 8-bit-scale image by 255"),
    (np.full((16, 16), np.nan), "NaN"),
])
def test_restore_rejects_bad_images(weights, image, message):
  with pytest.raises(ValueError, match=message):
    rim_tf.restore(image, sigma=25, weights=str(weights["denoise"]))


def test_a_sigma_beyond_the_models_training_is_refused_with_the_reason():
  # The shipped gray denoiser trained on sigma 5-55: up to 82.5 it restores.
  image = smooth_image(24, 24, 1)
  rim_tf.restore(image, sigma=82, weights="denoise_gray")
  with pytest.raises(ValueError, match=r"sigma 1000 is more than "
                     r"denoise_gray can use: it was trained on noise of "
                     r"sigma 5-55 \(0-255 scale\) and restores up to 82.5"):
    rim_tf.restore(image, sigma=1000, weights="denoise_gray")


def test_a_scale_the_model_was_not_trained_for_is_refused():
  image = smooth_image(24, 24, 1)
  assert rim_tf.restore(image, task="superres", scale=4,
                        weights="superres", steps=1).shape == (96, 96, 1)
  with pytest.raises(ValueError, match=r"scale 5 is not one superres was "
                     r"trained for \(2, 3, 4\)"):
    rim_tf.restore(image, task="superres", scale=5, weights="superres")
  with pytest.raises(ValueError, match=r"scale must be an integer >= 2, got "
                     r"2.5"):
    rim_tf.restore(image, task="superres", scale=2.5)


def test_images_of_mixed_sizes_share_one_denoising_graph(weights):
  rim, _ = api.load_restorer(str(weights["denoise"]))
  before = rim._denoise.experimental_get_tracing_count()  # pylint: disable=protected-access
  for size in ((20, 30), (33, 17), (41, 40), (24, 24)):
    rim.denoise(smooth_image(*size, 1).astype(np.float32) / 255, 25)
  assert rim._denoise.experimental_get_tracing_count() - before <= 1  # pylint: disable=protected-access


def test_restore_rejects_weights_of_another_task(weights):
  with pytest.raises(ValueError, match="trained for 'superres', not for "
                     "'denoise'"):
    rim_tf.restore(smooth_image(16, 16, 1), sigma=25,
                   weights=str(weights["superres"]))


def test_default_weights_prefer_a_colour_model_and_name_what_is_missing(
    monkeypatch):
  monkeypatch.setattr(pretrained, "shipped", lambda: ["denoise_gray"])
  assert api.default_weights("denoise", 3) == "denoise_gray"
  monkeypatch.setattr(pretrained, "shipped",
                      lambda: ["denoise_color", "denoise_gray"])
  assert api.default_weights("denoise", 3) == "denoise_color"
  assert api.default_weights("denoise", 1) == "denoise_gray"
  monkeypatch.setattr(pretrained, "shipped", lambda: ["denoise_gray"])
  with pytest.raises(ValueError, match="no shipped RIM for 'superres'"):
    api.default_weights("superres", 1)


# -- real data ----------------------------------------------------------------


def test_restore_reproduces_the_evaluation_psnr_of_a_bsd68_image(
    bsds_dir, tmp_path):
  # The evaluation binary's per-image PSNR (8-bit quantized sigma 25, the
  # shipped gray RIM) and the API on the same noisy uint8 image agree.
  image_id = bsds.BSD68[0]
  output = tmp_path / "eval.json"
  runner.run_evaluation("denoise", ["rim"], "bsd68", str(output),
                          data_dir=bsds_dir, weights="denoise_gray",
                          sigmas=(25,), quantized=(True,), num_images=1)
  reported = json.loads(output.read_text())["rim"][
      "sigma25_q8"]["per_image"][image_id]
  clean = bsds.load_images("test", gray=True, data_dir=bsds_dir,
                           subset=[image_id])[image_id]
  noisy = metrics.to_uint8(protocols.noisy_image(
      clean, 25, True, protocols.noise_seed(0, 25, image_id)))
  # The evaluation scores the float32 model: so does this.
  restored = rim_tf.restore(noisy, task="denoise", sigma=25,
                            weights="denoise_gray", fast=False)
  # oneDNN's threaded sums may differ in the last float bit between two
  # processes' runs and flip the rounding of a pixel or two (1e-5 dB each).
  assert metrics.psnr_255(restored, clean) == pytest.approx(reported,
                                                            abs=1e-3)
  # And through files and the command line.
  image_files.write_image(tmp_path / "noisy.png", noisy)
  assert cli.main(["denoise", str(tmp_path / "noisy.png"), "-o",
                   str(tmp_path / "restored.png"), "--sigma", "25",
                   "--float32"]) == 0
  from_file = image_files.read_image(tmp_path / "restored.png")
  assert metrics.psnr_255(from_file, clean) == pytest.approx(reported,
                                                             abs=1e-3)
  # A trained denoiser must clearly beat the noisy input on a real image.
  assert reported > metrics.psnr_255(noisy, clean) + 3


def test_restore_reproduces_the_superres_evaluation_psnr_of_a_bsd100_image(
    bsds_dir, tmp_path):
  # Table 3's per-image PSNR (x3, the shipped super-resolution RIM on an RGB
  # image's luma) and the API and the command line on the same
  # low-resolution image agree.
  output = tmp_path / "eval.json"
  runner.run_evaluation("superres", ["rim", "bicubic"], "bsd100",
                          str(output), data_dir=bsds_dir, weights="superres",
                          scales=(3,), num_images=1)
  results = json.loads(output.read_text())
  (image_id, reported), = results["rim"]["x3"]["per_image"].items()
  image = bsds.load_images("test", gray=False, data_dir=bsds_dir,
                           subset=[image_id])[image_id]
  high, low = protocols.superres_pair(image, 3)
  # The evaluation scores the float32 model: so does this.
  restored = rim_tf.restore(low, task="superres", scale=3, fast=False)
  assert restored.shape == high.shape and restored.dtype == np.uint8
  assert metrics.superres_metrics(restored, high, 3)[0] == pytest.approx(
      reported, abs=1e-3)
  image_files.write_image(tmp_path / "low.png", low)
  assert cli.main(["superres", str(tmp_path / "low.png"), "-o",
                   str(tmp_path / "high.png"), "--scale", "3",
                   "--float32"]) == 0
  from_file = image_files.read_image(tmp_path / "high.png")
  assert metrics.superres_metrics(from_file, high, 3)[0] == pytest.approx(
      reported, abs=1e-3)
  # A trained super-resolution RIM clearly beats bicubic on a real image.
  assert reported > results["bicubic"]["x3"]["per_image"][image_id] + 0.3


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_as_float01_is_exactly_k_over_peak_for_every_value(dtype):
  peak = np.iinfo(dtype).max
  values = np.arange(peak + 1, dtype=dtype)
  image = np.resize(values, (max(8, len(values) // 256), 256))
  image01, kind = api.as_float01(image)
  assert kind == dtype and image01.dtype == np.float32
  expected = (image.astype(np.float64) / peak).astype(np.float32)
  np.testing.assert_array_equal(image01[..., 0], expected)
  back = api.from_float01(image01, dtype)
  np.testing.assert_array_equal(back[..., 0], image)


def test_deblur_restores_with_the_kernel_through_the_engine(weights):
  from rim_tf.evaluation import protocols  # pylint: disable=g-import-not-at-top
  from rim_tf.inference import engine  # pylint: disable=g-import-not-at-top
  clean = smooth_image(40, 36, 1)
  kernel = np.ones((5, 5)) / 25
  blurred = protocols.blurred_image(clean, kernel, 2.55)
  path = str(weights["deblur"])
  for boundary in ("circular", "replicate"):
    out = rim_tf.restore(blurred, task="deblur", kernel=kernel, sigma=2.55,
                         weights=path, boundary=boundary, fast=False)
    restorer, _ = engine.Restorer.from_weights(path)
    want = restorer.deblur(blurred, kernel, 2.55, boundary)
    np.testing.assert_array_equal(out, want)
    assert out.dtype == blurred.dtype and out.shape == blurred.shape
  # uint8 in, uint8 out; an RGB image goes through the gray RIM per channel.
  rgb = np.round(np.repeat(blurred, 3, axis=-1) * 255).astype(np.uint8)
  out = rim_tf.restore(rgb, task="deblur", kernel=kernel, sigma=2.55,
                       weights=path)
  assert out.dtype == np.uint8 and out.shape == rgb.shape
  np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_a_noise_free_blurred_image_deblurs_at_sigma_zero(weights):
  # Deblurring RIMs train on sigma from 0; only denoising refuses it.
  from rim_tf.inference import engine  # pylint: disable=g-import-not-at-top
  kernel = np.ones((5, 5)) / 25
  blurred = smooth_image(40, 36, 1).astype(np.float32) / 255.0
  path = str(weights["deblur"])
  out = rim_tf.restore(blurred, task="deblur", kernel=kernel, sigma=0,
                       weights=path, fast=False)
  restorer, _ = engine.Restorer.from_weights(path)
  np.testing.assert_array_equal(out, restorer.deblur(blurred, kernel, 0.0,
                                                     "circular"))
  assert np.isfinite(out).all()


def test_the_api_speaks_of_the_operators_constants():
  from rim_tf.operators import blur  # pylint: disable=g-import-not-at-top
  assert api.BOUNDARIES == blur.BOUNDARIES
  assert api.MAX_KERNEL == blur.MAX_KERNEL


def test_the_fast_path_is_bfloat16_where_the_cpu_has_it(weights, monkeypatch):
  from rim_tf.inference import engine  # pylint: disable=g-import-not-at-top
  from rim_tf import precision  # pylint: disable=g-import-not-at-top
  assert engine.fast_policy() == precision.policy(True)
  fast, _ = api.load_restorer(str(weights["denoise"]))
  plain, _ = api.load_restorer(str(weights["denoise"]), None, False)
  assert fast.model.dtype_policy.name == engine.fast_policy()
  assert plain.model.dtype_policy.name == "float32"
  # The fast path runs the fused form, the plain one the Keras model.
  assert fast.fused is not None and plain.fused is None


def test_images_of_mixed_sizes_share_one_super_resolution_graph(weights):
  rim, _ = api.load_restorer(str(weights["superres"]))
  for size in ((20, 16), (17, 23), (31, 12)):
    out = rim.superres(smooth_image(*size, 1).astype(np.float32) / 255.0, 2)
    assert out.shape == (2 * size[0], 2 * size[1], 1)
  assert rim._superres[2].experimental_get_tracing_count() == 1  # pylint: disable=protected-access


def test_a_wiener_start_deblurring_rim_restores_any_size(tmp_path):
  # The Wiener start inside the engine's size-free graph keeps its channels.
  from rim_tf import configs  # pylint: disable=g-import-not-at-top
  from rim_tf import tasks  # pylint: disable=g-import-not-at-top
  import json  # pylint: disable=g-import-not-at-top
  config = configs.override(configs.preset("smoke", "deblur"), {
      "model.features": 8, "model.gru_features": 8, "trainer.rim_steps": 2,
      "task_args.start": "wiener"})
  model = tasks.from_config(config).build_model(config)
  path = tmp_path / "wiener.weights.h5"
  model.save_weights(str(path))
  (tmp_path / "wiener.json").write_text(json.dumps(
      {"config": json.loads(config.to_json()), "step": 0}))
  image = smooth_image(40, 36, 1).astype(np.float32) / 255.0
  out = rim_tf.restore(image, task="deblur", kernel=np.ones((3, 3)) / 9,
                       sigma=2.55, weights=str(path))
  assert out.shape == image.shape and np.isfinite(out).all()
