"""Tests of rim_tf.tasks: each task's operator explains its own measurements.

A task's operator is rebuilt by the trainer from nothing but the batch, so
with noise-free settings `task.operator(batch).forward(batch["x"])` must
reproduce `batch["y"]`. Batches come from the real pipeline
(`PatchDataset.train_dataset` with the task's stream corruption) and the
operator is built inside a tf.function from the dataset's element spec, as
in the training step.
"""

import numpy as np
import pytest
import tensorflow as tf

from rim_tf import data as rim_data
from rim_tf.data import colour
from rim_tf.data import corruptions
from rim_tf import tasks

PATCH = 8
BATCH = 4


def tiny_patches(channels):
  rng = np.random.default_rng(1)
  images = [rng.integers(0, 256, (24, 24, channels), dtype=np.uint8)
            for _ in range(2)]
  return rim_data.PatchDataset(images, patch_size=PATCH, stride=4,
                               num_validation=2)


def stream_batches(task, key, count=1, start=0):
  """`count` batches of stream `key`, exactly as the trainer reads them."""
  keys = task.stream_keys()
  dataset = tiny_patches(task.channels).train_dataset(
      BATCH, task.stream_corruption(key), start_batch=start,
      num_batches=count,
      step_subset=(keys.index(key), len(keys)) if len(keys) > 1 else None)
  return dataset


def assert_operator_reproduces_y(task, dataset, atol=1e-5):
  """A(x) == y for every batch, with A built in a graph from the spec."""

  @tf.function(input_signature=[dataset.element_spec])
  def residual(batch):
    operator = task.operator(batch)
    return tf.reduce_max(tf.abs(operator.forward(batch["x"]) - batch["y"]))

  count = 0
  for batch in dataset:
    assert float(tf.reduce_max(tf.abs(batch["y"]))) > 0.0  # Not all zero.
    assert float(residual(batch)) < atol
    count += 1
  assert count > 0


@pytest.mark.parametrize("name, args", [
    ("denoise", {"sigma_range_255": (0.0, 0.0)}),
    ("denoise_color", {"sigma_range_255": (0.0, 0.0), "quantize": False}),
    # x is on the 1/255 grid, so 8-bit quantising a noise-free y is exact.
    ("denoise_color", {"sigma_range_255": (0.0, 0.0), "quantize": True}),
])
def test_denoising_operator_reproduces_measurement(name, args):
  task = tasks.make(name, patch=PATCH, **args)
  assert task.stream_keys() == (None,)
  assert task.channels == (3 if name == "denoise_color" else 1)
  assert_operator_reproduces_y(task, stream_batches(task, None, count=2))


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("boundary", ["circular", "replicate"])
def test_deblur_operator_reproduces_measurement(color, boundary):
  task = tasks.make("deblur", patch=PATCH, kernel_size=7,
                    sigma_range_255=(0.0, 0.0), quantize=False,
                    boundary=boundary, color=color)
  dataset = stream_batches(task, None, count=2)
  assert_operator_reproduces_y(task, dataset)
  # One kernel per example, each a blur (sums to 1), not all alike.
  kernels = next(iter(dataset))["kernel"].numpy()
  assert kernels.shape == (BATCH, 7, 7)
  np.testing.assert_allclose(kernels.sum(axis=(1, 2)), 1.0, rtol=1e-5)
  assert not np.allclose(kernels[0], kernels[1])


def test_deblur_patches_must_hold_the_kernels():
  with pytest.raises(ValueError, match="smaller than the kernels"):
    tasks.make("deblur", patch=16, kernel_size=25)


@pytest.mark.parametrize("color", [False, True])
def test_superres_operator_reproduces_each_scale_stream(color):
  task = tasks.make("superres", scales=(2, 4), patch=PATCH,
                         noise_sigma_255=0.0, color=color)
  assert task.stream_keys() == (2, 4)
  for key in task.stream_keys():
    dataset = stream_batches(task, key, count=2)
    # Static shapes per stream: the step is traced once per scale.
    y_spec = dataset.element_spec["y"]
    assert y_spec.shape[1:] == (PATCH // key, PATCH // key, task.channels)
    assert all(int(b["scale"]) == key for b in dataset)
    assert_operator_reproduces_y(task, dataset)


def test_superres_streams_partition_the_single_stream():
  """Step g reads stream scales[g % S]: the same patches as one stream."""
  task = tasks.make("superres", scales=(2, 4), patch=PATCH,
                         noise_sigma_255=0.0)
  single = [b["x"] for b in tiny_patches(1).train_dataset(BATCH,
                                                          num_batches=4)]
  for j, key in enumerate(task.stream_keys()):
    for k, batch in enumerate(stream_batches(task, key, count=2)):
      np.testing.assert_array_equal(batch["x"], single[j + 2 * k])


def test_superres_operator_needs_static_shapes():
  task = tasks.make("superres", scales=(2,), patch=PATCH)
  spec = {"x": tf.TensorSpec([None, PATCH, PATCH, 1]),
          "y": tf.TensorSpec([None, None, None, 1])}
  with pytest.raises(ValueError, match="static shapes"):
    tf.function(task.operator).get_concrete_function(spec)


@pytest.mark.parametrize("kind", corruptions.PROJECTION_KINDS)
def test_random_projection_operator_reproduces_measurement(kind):
  task = tasks.make("random_projections", kinds=(kind,),
                         ratios=(0.25, 0.5), noise_sigma=0.0, patch=PATCH)
  dataset = stream_batches(task, None, count=3)
  kinds = {int(b["kind"]) for b in dataset}
  assert kinds == {0}
  assert_operator_reproduces_y(task, dataset, atol=1e-4)


def test_random_projections_draw_every_kind_in_one_stream():
  task = tasks.make("random_projections", noise_sigma=0.0, patch=PATCH)
  dataset = stream_batches(task, None, count=12)
  assert {int(b["kind"]) for b in dataset} == {0, 1, 2}
  assert_operator_reproduces_y(task, dataset, atol=1e-4)


@pytest.mark.parametrize("name", tasks.names())
def test_task_config_round_trip_and_conventions(name):
  task = tasks.make(name)
  config = task.get_config()
  assert config["name"] == name
  rebuilt = tasks.make(config.pop("name"), **{
      k: list(v) if isinstance(v, tuple) else v for k, v in config.items()})
  assert rebuilt == task
  # The paper's patch sizes: 32, and 36 (divisible by 2, 3, 4) for SR;
  # deblurring's 64 holds its kernels of up to 25.
  assert task.patch_size == {"superres": 36, "deblur": 64}.get(name, 32)
  task.corruption().check_patch_shape(
      (task.patch_size, task.patch_size, task.channels))


def test_make_task_rejects_unknown_names_and_arguments():
  with pytest.raises(ValueError, match="task must be one of"):
    tasks.make("inpaint")
  with pytest.raises(ValueError, match=r"no arguments \['scales'\]"):
    tasks.make("denoise", scales=(2,))
  assert tasks.make("superres", scales=[2, 3]).scales == (2, 3)


class TestExampleWeights:

  def test_sigma_power_weights_are_sigma_to_minus_p_with_mean_one(self):
    task = tasks.make("denoise", sigma_range_255=(5.0, 55.0),
                           loss_sigma_power=1.0)
    sigma = np.array([5.0, 10.0, 20.0, 40.0], np.float32) / 255.0
    weights = task.example_weights({"sigma": tf.constant(sigma)}).numpy()
    expected = (1.0 / sigma) / np.mean(1.0 / sigma)
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    np.testing.assert_allclose(weights.mean(), 1.0, rtol=1e-6)

  def test_plain_mse_by_default_and_for_other_tasks(self):
    batch = {"sigma": tf.constant([0.1, 0.2])}
    assert tasks.make("denoise").example_weights(batch) is None
    assert tasks.make("superres").example_weights(batch) is None

  @pytest.mark.parametrize("args, match", [
      ({"loss_sigma_power": -1.0}, "loss_sigma_power must be >= 0"),
      ({"loss_sigma_power": 1.0, "sigma_range_255": (0.0, 50.0)},
       "needs sigma > 0"),
  ])
  def test_bad_power_is_refused(self, args, match):
    with pytest.raises(ValueError, match=match):
      tasks.make("denoise", **args)


def test_random_projections_normalised_from_the_adjoint_start():
  task = tasks.make("random_projections", normalize=True, start="adjoint",
                    patch=PATCH)
  assert task.denoise_start == "measurement"
  assert tasks.make("random_projections").denoise_start == "flat"
  corruption = task.corruption(("gaussian",), (0.5,))
  assert corruption.get_config()["normalize"] is True
  batch = corruption({"x": tf.random.stateless_uniform(
      (2, PATCH, PATCH, 1), seed=[0, 1])}, tf.constant([3, 4], tf.int64))
  m = batch["matrix"].shape[1]
  assert abs(float(tf.math.reduce_std(batch["matrix"])) * np.sqrt(m) - 1) \
      < 0.05
  operator = task.operator(batch)
  np.testing.assert_array_equal(
      operator.initial_estimate(batch["y"]),
      tf.clip_by_value(operator.adjoint(batch["y"]), 0.0, 1.0))
  with pytest.raises(ValueError, match="start must be one of"):
    tasks.make("random_projections", start="zero")


def test_an_opponent_space_colour_task_trains_a_gray_cell_on_rgb_images():
  from rim_tf.tasks import denoise  # pylint: disable=g-import-not-at-top
  task = denoise.DenoiseColor(space="opponent", quantize=0.5)
  assert (task.channels, task.image_channels, task.color_space) == (
      1, 3, "opponent")
  assert isinstance(task.corruption(), corruptions.OpponentNoise)
  assert all(isinstance(c, corruptions.OpponentNoise)
             for c in task.held_out_conditions().values())
  assert (denoise.DenoiseColor().channels,
          denoise.DenoiseColor().color_space) == (3, "rgb")
  with pytest.raises(ValueError, match="for colour images"):
    denoise.Denoise(space="opponent")
  with pytest.raises(ValueError, match="'rgb' or 'opponent'"):
    denoise.DenoiseColor(space="yuv")
  # With a context, the gray cell reads the image's three channels.
  assert denoise.DenoiseColor(space="opponent",
                              context=True).channel_context == 3
  assert task.channel_context == 0
  with pytest.raises(ValueError, match="context .* needs space 'opponent'"):
    denoise.DenoiseColor(context=True)


def test_a_quantization_flag_is_read_per_image_and_held_by_its_channels():
  from rim_tf.tasks import denoise  # pylint: disable=g-import-not-at-top
  task = denoise.DenoiseColor(space="opponent", context=True, quantize=0.5,
                              quantization_flag=True)
  assert (task.condition_channels, denoise.DenoiseColor().condition_channels,
          denoise.DenoiseColor().condition({})) == (1, 0, None)
  for quantize in (True, False, 0.0, 1.0):
    with pytest.raises(ValueError, match="train on both"):
      denoise.DenoiseColor(quantize=quantize, quantization_flag=True)
  rng = np.random.default_rng(1)
  x = tf.constant(rng.uniform(0.2, 0.8, (6, 8, 8, 3)).astype(np.float32))
  batch = task.corruption()({"x": x}, tf.constant([4, 0], tf.int64))
  flags = task.condition(batch).numpy()
  assert flags.shape == (18, 1)
  # Each image's three channels hold its flag, and the flag says whether
  # the RGB measurement was 8 bit (read off the image as a user gives it).
  rgb = colour.from_opponent_tf(colour.batch_to_channels(batch["y"]))
  per_image = task.condition_of(rgb).numpy()[:, 0]
  np.testing.assert_array_equal(flags[:, 0], np.repeat(per_image, 3))
  assert 0 < per_image.sum() < 6


def test_an_opponent_space_task_scores_rgb_images():
  from rim_tf.data import colour  # pylint: disable=g-import-not-at-top
  from rim_tf import metrics  # pylint: disable=g-import-not-at-top
  from rim_tf.training import validation  # pylint: disable=g-import-not-at-top
  from rim_tf.tasks import denoise  # pylint: disable=g-import-not-at-top
  task = denoise.DenoiseColor(space="opponent", quantize=False)
  rgb = np.random.default_rng(0).random((4, 8, 8, 3)).astype(np.float32)
  gray = colour.channels_to_batch(colour.to_opponent_tf(tf.constant(rgb)))
  np.testing.assert_allclose(task.scored(gray).numpy(), rgb, atol=1e-6)
  steps = tf.stack([gray, gray])
  assert task.scored_steps(steps).shape == (2, 4, 8, 8, 3)
  # Held out: a RIM that returns its measurement scores the noisy RGB
  # patches' PSNR, not the opponent channels'.
  clean = rgb
  got = validation.held_out_psnr(task, lambda b: (b["y"][None], None), clean)
  batch = task.corruption()({"x": tf.constant(clean)},
                            tf.constant([validation.SEED, 0], tf.int64))
  noisy = task.scored(batch["y"]).numpy()
  want = np.mean(metrics.psnr_tf(noisy, clean).numpy())
  assert abs(got["psnr"] - want) < 1e-4
  channelwise = np.mean(metrics.psnr_tf(batch["y"], batch["x"]).numpy())
  assert abs(got["psnr"] - channelwise) > 0.1
  with pytest.raises(ValueError, match="loss_sigma_power"):
    denoise.DenoiseColor(space="opponent", loss_sigma_power=1.0)


def test_random_projections_train_on_a_noise_range_and_test_at_one_sigma():
  task = tasks.make("random_projections", kinds=("gaussian",), ratios=(0.5,),
                    train_noise_sigma=[0.5, 8.0], patch=PATCH)
  assert task.train_noise_sigma == (0.5, 8.0)
  x = {"x": tf.random.stateless_uniform((16, PATCH, PATCH, 1), [1, 2])}
  trained = task.corruption()(x, tf.constant([3, 4], tf.int64))["sigma"]
  assert np.all((trained >= 0.5) & (trained <= 8.0)) and np.ptp(trained) > 1
  # Figure 2 and the held-out curves: the paper's one sigma.
  tested = task.corruption(("gaussian",), (0.5,), task.noise_sigma)(
      x, tf.constant([3, 4], tf.int64))["sigma"]
  np.testing.assert_array_equal(tested, np.ones(16, np.float32))
  # Without a range, training uses noise_sigma.
  plain = tasks.make("random_projections", noise_sigma=2.0, patch=PATCH)
  assert plain.corruption().noise_sigma == 2.0


def test_random_projections_train_on_a_log_spaced_noise_range():
  task = tasks.make("random_projections", train_noise_sigma=[0.5, 8.0],
                    train_noise_spacing="log", patch=PATCH)
  assert task.corruption().noise_spacing == "log"
  # Figure 2's curves keep the one sigma, whatever the training spacing.
  assert task.corruption(noise_sigma=task.noise_sigma).noise_sigma == 1.0
  with pytest.raises(ValueError, match="needs a train_noise_sigma range"):
    tasks.make("random_projections", train_noise_spacing="log")
  with pytest.raises(ValueError, match="needs a train_noise_sigma range"):
    tasks.make("random_projections", train_noise_sigma=[0.0, 8.0],
               train_noise_spacing="log")
  with pytest.raises(ValueError, match="train_noise_spacing must be one of"):
    tasks.make("random_projections", train_noise_spacing="octave")


@pytest.mark.parametrize("bad,message", [
    ((8.0, 0.5), "train_noise_sigma: noise_sigma must be"),
    (2.0, "train_noise_sigma must be"),
])
def test_random_projections_refuse_a_bad_noise_range(bad, message):
  with pytest.raises(ValueError, match=message):
    tasks.make("random_projections", train_noise_sigma=bad)
