"""PatchDataset: counts, contents, held-out validation, order, resume, shards."""

import numpy as np
import pytest
import tensorflow as tf

from rim_tf import configs
from rim_tf import tasks
from rim_tf.data import builtin
from rim_tf.data import corruptions
from rim_tf.data import patches
from rim_tf import metrics

SHAPES = [(40, 52), (52, 40), (45, 45)]


def _images(channels=1, shapes=SHAPES, seed=0):
  rng = np.random.default_rng(seed)
  return [rng.integers(0, 256, shape + (channels,), np.uint8)
          for shape in shapes]


def _take(dataset, count):
  return [{k: v.numpy() for k, v in batch.items()}
          for batch in dataset.take(count)]


@pytest.fixture(scope="module")
def small():
  return patches.PatchDataset(_images(), patch_size=8, stride=3,
                              num_validation=8, seed=7)


def test_count_is_the_closed_form(small):
  per_image = [((h - 8) // 3 + 1) * ((w - 8) // 3 + 1) for h, w in SHAPES]
  assert small.num_all == sum(per_image) == patches.count_patches(
      [s + (1,) for s in SHAPES], 8, 3)
  assert patches.num_patches_1d(7, 8, 3) == 0


def test_training_table_excludes_exactly_the_overlapping_patches(small):
  val = small.validation_coordinates
  assert len(val) == small.num_validation == 8
  everything = {(i, y, x) for i, (h, w) in enumerate(SHAPES)
                for y in range(0, h - 7, 3) for x in range(0, w - 7, 3)}
  train = {tuple(row) for row in small.train_coordinates}
  assert len(train) == small.num_train == len(small.train_coordinates)

  def overlaps(a, b):
    return a[0] == b[0] and abs(a[1] - b[1]) < 8 and abs(a[2] - b[2]) < 8

  blocked = {p for p in everything if any(overlaps(p, tuple(v)) for v in val)}
  assert train == everything - blocked  # Nothing else is lost.
  # Validation patches do not overlap each other either.
  for a in range(len(val)):
    for b in range(a + 1, len(val)):
      assert not overlaps(tuple(val[a]), tuple(val[b]))


def test_validation_is_fixed_and_independent_of_the_training_seed(small):
  other = patches.PatchDataset(_images(), patch_size=8, stride=3,
                               num_validation=8, seed=123)
  np.testing.assert_array_equal(other.validation_coordinates,
                                small.validation_coordinates)
  val = small.validation()
  assert val.shape == (8, 8, 8, 1) and val.dtype == np.float32
  i, y, x = small.validation_coordinates[3]
  np.testing.assert_array_equal(
      val[3], _images()[i][y:y + 8, x:x + 8] / np.float32(255))


def test_patch_contents_are_the_numpy_slices():
  images = _images(channels=3)
  dataset = patches.PatchDataset(images, patch_size=8, stride=3,
                                 num_validation=5)
  for batch in _take(dataset.train_dataset(16, include_coordinates=True), 3):
    assert batch["x"].shape == (16, 8, 8, 3) and batch["x"].dtype == np.float32
    for patch, (i, y, x) in zip(batch["x"], batch["coordinates"]):
      expected = images[i][y:y + 8, x:x + 8].astype(np.float32) / 255
      np.testing.assert_array_equal(patch, expected)


def test_every_epoch_is_a_permutation_of_the_training_table(small):
  n, batch_size = small.num_train, 10
  batches = _take(small.train_dataset(batch_size, include_coordinates=True),
                  -(-2 * n // batch_size))
  coords = np.concatenate([b["coordinates"] for b in batches])
  index = np.concatenate([b["index"] for b in batches])
  np.testing.assert_array_equal(index, np.arange(len(index)))
  table = sorted(map(tuple, small.train_coordinates))
  first, second = coords[:n], coords[n:2 * n]
  assert sorted(map(tuple, first)) == table
  assert sorted(map(tuple, second)) == table
  assert not np.array_equal(first, second)  # A new order every epoch.
  # The order is tf.random.experimental.index_shuffle with [seed, epoch].
  rows = [tf.random.experimental.index_shuffle(p, [7, 1], n - 1).numpy()
          for p in range(5)]
  np.testing.assert_array_equal(second[:5], small.train_coordinates[rows])


def test_same_seed_same_batches_other_seed_other_batches(small):
  noise = corruptions.GaussianNoise()
  a = _take(small.train_dataset(8, noise, seed=3), 4)
  b = _take(small.train_dataset(8, noise, seed=3), 4)
  c = _take(small.train_dataset(8, noise, seed=4), 4)
  for one, two, three in zip(a, b, c):
    for key in ("x", "y", "sigma"):
      np.testing.assert_array_equal(one[key], two[key])
    assert not np.array_equal(one["x"], three["x"])
    assert not np.array_equal(one["sigma"], three["sigma"])


def test_resumed_at_batch_k_equals_the_uninterrupted_stream(small):
  noise = corruptions.GaussianNoise(quantize=True)
  epoch = small.num_train // 12  # The batch that straddles epochs 0 and 1.
  whole = _take(small.train_dataset(12, noise, seed=5), epoch + 4)
  for k in (1, epoch - 2):
    resumed = _take(small.train_dataset(12, noise, seed=5, start_batch=k), 5)
    for offset, batch in enumerate(resumed):
      for key in ("x", "y", "sigma"):
        np.testing.assert_array_equal(batch[key], whole[k + offset][key])


def _square_symmetries(patch):
  """The 8 symmetries of a [P, P, C] patch by numpy's own rotations."""
  return ([np.rot90(patch, r) for r in range(4)] +
          [np.rot90(patch[:, ::-1], r) for r in range(4)])


def _turned(patch, k):
  """apply_symmetry's documented numbering, in numpy."""
  if k & 1:
    patch = patch.transpose(1, 0, 2)
  if k & 2:
    patch = patch[::-1]
  return patch[:, ::-1] if k & 4 else patch


def test_apply_symmetry_gives_the_8_symmetries_of_the_square():
  patch = np.arange(5 * 5 * 2, dtype=np.uint8).reshape(5, 5, 2)
  turned = patches.apply_symmetry(np.repeat(patch[None], 8, axis=0),
                                  tf.range(8)).numpy()
  for k in range(8):
    np.testing.assert_array_equal(turned[k], _turned(patch, k))
  np.testing.assert_array_equal(turned[0], patch)  # 0 is the identity.
  np.testing.assert_array_equal(turned[6], np.rot90(patch, 2))
  got = {t.tobytes() for t in turned}
  assert len(got) == 8
  assert got == {t.tobytes() for t in _square_symmetries(patch)}


def test_apply_symmetry_refuses_patches_that_are_not_square():
  with pytest.raises(ValueError, match=r"square patches \[b, P, P, C\]"):
    patches.apply_symmetry(tf.zeros([2, 4, 6, 1]), tf.zeros([2], tf.int32))


def test_augmented_stream_is_the_plain_stream_turned_per_example(small):
  noise = corruptions.GaussianNoise()
  plain = _take(small.train_dataset(8, noise, seed=3,
                                    include_coordinates=True), 6)
  turned = _take(small.train_dataset(8, noise, seed=3, augment=True,
                                     include_coordinates=True), 6)
  for a, b in zip(plain, turned):
    np.testing.assert_array_equal(a["coordinates"], b["coordinates"])
    for x, y, k in zip(a["x"], b["x"], b["transform"]):
      np.testing.assert_array_equal(y, _turned(x, int(k)))
    # The corruption draws the same noise, now added to the turned patch.
    np.testing.assert_array_equal(a["sigma"], b["sigma"])
    np.testing.assert_allclose(b["y"] - b["x"], a["y"] - a["x"], atol=1e-6)


def test_augmented_stream_resumes_and_draws_every_symmetry_alike(small):
  whole = _take(small.train_dataset(16, seed=5, augment=True,
                                    include_coordinates=True), 40)
  for k in (1, 17):
    resumed = _take(small.train_dataset(16, seed=5, augment=True,
                                        start_batch=k), 3)
    for offset, batch in enumerate(resumed):
      np.testing.assert_array_equal(batch["x"], whole[k + offset]["x"])
  counts = np.bincount(np.concatenate([b["transform"] for b in whole]),
                       minlength=8)
  # 640 draws, 80 expected per symmetry: chi-square with 7 degrees of
  # freedom below 24.3 (p = 0.001).
  assert np.sum((counts - 80.0) ** 2 / 80.0) < 24.3, counts
  other = _take(small.train_dataset(16, seed=6, augment=True,
                                    include_coordinates=True), 1)[0]
  assert not np.array_equal(other["transform"], whole[0]["transform"])


def test_num_batches_bounds_the_stream(small):
  assert len(_take(small.train_dataset(4, num_batches=3), -1)) == 3


class _Context:
  """Stands in for tf.distribute.InputContext (same attributes)."""

  def __init__(self, pipelines, pipeline, replicas):
    self.num_input_pipelines = pipelines
    self.input_pipeline_id = pipeline
    self.num_replicas_in_sync = replicas


def test_input_context_splits_each_global_batch(small):
  whole = _take(small.train_dataset(8, num_batches=3), -1)
  one_pipeline = _take(small.train_dataset(
      8, num_batches=3, input_context=tf.distribute.InputContext(1, 0, 2)), -1)
  assert [b["x"].shape[0] for b in one_pipeline] == [4] * 6
  for step, batch in enumerate(whole):
    np.testing.assert_array_equal(
        batch["x"], np.concatenate([one_pipeline[2 * step]["x"],
                                    one_pipeline[2 * step + 1]["x"]]))
  shards = [_take(small.train_dataset(
      8, num_batches=3, input_context=_Context(2, p, 2)), -1) for p in (0, 1)]
  for step, batch in enumerate(whole):
    np.testing.assert_array_equal(
        batch["x"], np.concatenate([shards[0][step]["x"],
                                    shards[1][step]["x"]]))


def test_runs_under_a_distribution_strategy(small):
  strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
  dist = strategy.distribute_datasets_from_function(
      lambda context: small.train_dataset(8, input_context=context,
                                          num_batches=2))
  sums = [float(strategy.reduce("SUM", strategy.run(
      lambda b: tf.reduce_sum(b["x"]), args=(batch,)), axis=None))
          for batch in dist]
  whole = _take(small.train_dataset(8, num_batches=2), -1)
  np.testing.assert_allclose(sums, [b["x"].sum() for b in whole], rtol=1e-5)


def test_per_scale_streams_partition_the_single_stream():
  dataset = patches.PatchDataset(_images(channels=3, shapes=[(60, 72)]),
                                 patch_size=12, stride=4, num_validation=3)
  sr = corruptions.BicubicDownsampling(scales=(2, 3, 4))
  task = tasks.make("superres", scales=(2, 3, 4), patch=12, color=True)
  data = configs.DataConfig(batch_size=4, seed=1)
  whole = _take(dataset.train_dataset(4, seed=1), 8)
  for start in (0, 4):
    iterators = {s: iter(task.build_inputs(dataset, data, s, start))
                 for s in task.stream_keys()}
    for step in range(start, 8):
      scale = sr.scales[step % 3]
      batch = next(iterators[scale])
      assert int(batch["scale"]) == scale
      assert batch["y"].shape == (4, 12 // scale, 12 // scale, 3)
      np.testing.assert_array_equal(batch["x"].numpy(), whole[step]["x"])


def test_builtin_images_feed_the_pipeline():
  gray = builtin.builtin_images(gray=True)
  rgb = builtin.builtin_images(gray=False)
  assert set(rgb) < set(gray) and len(gray) == len(builtin.builtin_names())
  for name, image in rgb.items():
    assert image.dtype == np.uint8 and image.shape[-1] == 3
    np.testing.assert_array_equal(gray[name][..., 0],
                                  metrics.rgb2gray_uint8(image))
  assert all(im.shape[-1] == 1 for im in gray.values())
  dataset = patches.PatchDataset(builtin.builtin_images(gray=False,
                                                        names=["chelsea"]),
                                 patch_size=32, stride=16, num_validation=10)
  batch = _take(dataset.train_dataset(4), 1)[0]
  assert batch["x"].shape == (4, 32, 32, 3)
  assert 0.0 <= batch["x"].min() and batch["x"].max() <= 1.0
  assert patches.measure_throughput(dataset.train_dataset(4), 2) > 0
  with pytest.raises(ValueError, match="Unknown built-in"):
    builtin.builtin_images(gray=False, names=["camera"])


@pytest.mark.parametrize("kwargs, message", [
    ({"patch_size": 41}, "larger than 2 of the images"),
    ({"patch_size": 0}, "patch_size must be an integer >= 1"),
    ({"stride": 0}, "stride must be an integer >= 1"),
    ({"num_validation": 500}, "do not fit"),
    ({"num_validation": -1}, "num_validation must be"),
])
def test_bad_arguments_are_named(kwargs, message):
  args = {"patch_size": 8, "stride": 3, "num_validation": 2, **kwargs}
  with pytest.raises(ValueError, match=message):
    patches.PatchDataset(_images(shapes=[(40, 52), (52, 40)]), **args)


def test_bad_images_are_named():
  with pytest.raises(ValueError, match="must be uint8"):
    patches.PatchDataset([np.zeros((40, 40), np.float32)], 8, 3)
  with pytest.raises(ValueError, match="all be gray or all RGB"):
    patches.PatchDataset(_images(1, [(40, 40)]) + _images(3, [(40, 40)]), 8, 3)
  with pytest.raises(ValueError, match="at least one image"):
    patches.PatchDataset([], 8, 3)


def test_bad_stream_arguments_are_named(small):
  with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
    small.train_dataset(0)
  with pytest.raises(ValueError, match="start_batch must be"):
    small.train_dataset(4, start_batch=-1)
  with pytest.raises(ValueError, match="divisible by the 3 replicas"):
    small.train_dataset(8, input_context=tf.distribute.InputContext(1, 0, 3))
  with pytest.raises(ValueError, match="step_subset"):
    small.train_dataset(4, step_subset=(3, 3))
  with pytest.raises(ValueError, match="not divisible by the scales"):
    small.train_dataset(4, corruptions.BicubicDownsampling((3,)))
