"""Training patches of the paper's recipe (section 4.2) as a tf.data stream.

All images are decoded once and kept in memory as one flat uint8 buffer;
every patch is a (image, top, left) row of a coordinate table over the grid
of stride `stride`. `num_validation` patches (1000 in the paper) are held
out with a fixed seed, mutually non-overlapping, and every patch that shares
a pixel with one of them is removed from the training table, so no validation
pixel is ever trained on.

The training stream is index based, so it is deterministic for a seed and
resumes anywhere without replaying: global example i of the stream is
training patch `index_shuffle(i mod n, seed=[seed, i // n], max_index=n-1)`,
i.e. a fresh permutation of the n training patches every epoch, and global
batch g holds examples g*B .. g*B + B - 1. `train_dataset(start_batch=k)` thus
yields exactly what the uninterrupted stream yields from batch k on. The
corruption of a batch is seeded by (seed, batch index) too. Augmentation
(off by default: the paper mentions none) turns each patch by one of the 8
symmetries of the square, drawn from (seed, batch index) as well, so an
augmented stream is as deterministic and resumable as a plain one.
"""

import time

import numpy as np
import tensorflow as tf

# The constant `tf.random.experimental.index_shuffle` puts in front of a
# shape-[2] seed; the raw op is used directly because the wrapper mishandles
# per-element seeds of shape [n, 2], and with it every example's permutation
# equals index_shuffle(pos, [seed, epoch], n - 1).
_INDEX_SHUFFLE_PAD = 498247692
_CORRUPTION_SEED_SALT = 0x5EED
_AUGMENT_SEED_SALT = 0xD1ED
NUM_SYMMETRIES = 8


def num_patches_1d(size, patch_size, stride):
  """Patches of `patch_size` at stride `stride` along an axis of `size`."""
  return 0 if size < patch_size else (size - patch_size) // stride + 1


def count_patches(shapes, patch_size, stride):
  """Closed-form number of patches over images of `shapes` ((H, W, ...))."""
  return sum(num_patches_1d(s[0], patch_size, stride) *
             num_patches_1d(s[1], patch_size, stride) for s in shapes)


def apply_symmetry(patches, transform):
  """Patches turned by the symmetries of the square numbered `transform`.

  Args:
    patches: [b, P, P, C] square patches (any dtype).
    transform: int32 [b] in 0..7; bit 0 transposes (rows <-> columns), then
      bit 1 flips top-bottom and bit 2 flips left-right. The 8 numbers are
      the 8 symmetries of the square (4 turns by 90 degrees, each with or
      without a mirror); 0 is the identity.

  Returns:
    [b, P, P, C], same dtype.
  """
  patches = tf.convert_to_tensor(patches)
  if (patches.shape.rank != 4 or patches.shape[1] is None or
      patches.shape[1] != patches.shape[2]):
    raise ValueError(f"apply_symmetry needs square patches [b, P, P, C], got "
                     f"shape {patches.shape}.")
  bits = [tf.reshape(tf.bitwise.bitwise_and(transform, 1 << k) > 0,
                     [-1, 1, 1, 1]) for k in range(3)]
  patches = tf.where(bits[0], tf.transpose(patches, [0, 2, 1, 3]), patches)
  patches = tf.where(bits[1], tf.reverse(patches, [1]), patches)
  return tf.where(bits[2], tf.reverse(patches, [2]), patches)


def _check_int(name, value, minimum):
  if (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or
      value < minimum):
    raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
  return int(value)


def _as_image_list(images):
  if isinstance(images, dict):
    names, arrays = list(images.keys()), list(images.values())
  else:
    arrays = list(images)
    names = list(range(len(arrays)))
  if not arrays:
    raise ValueError("images must hold at least one image, got none.")
  out = []
  for name, image in zip(names, arrays):
    image = np.asarray(image)
    if image.dtype != np.uint8:
      raise ValueError(f"image {name!r} must be uint8 (decoded 0..255), got "
                       f"{image.dtype}.")
    if image.ndim == 2:
      image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
      raise ValueError(f"image {name!r} must be [H, W], [H, W, 1] or "
                       f"[H, W, 3], got shape {image.shape}.")
    out.append(np.ascontiguousarray(image))
  channels = {image.shape[-1] for image in out}
  if len(channels) != 1:
    raise ValueError(f"images must all be gray or all RGB, got channel counts "
                     f"{sorted(channels)}.")
  return names, out


class PatchDataset:
  """Patches of size `patch_size` at stride `stride` from in-memory images.

  Args:
    images: a list or dict of uint8 images [H, W] / [H, W, C], C = 1 (gray)
      or 3 (RGB), sizes may differ (BSDS300 has 481x321 and 321x481).
    patch_size: P, the side of the square patches (32 in the paper, 36 for
      super-resolution).
    stride: the grid step (4 in the paper).
    num_validation: patches held out for validation (1000 in the paper).
    seed: default seed of the training order and corruptions.
    validation_seed: seed of the validation choice; fixed, so changing `seed`
      does not change the validation set.

  Attributes:
    num_all: patches on the grid before holding out, the closed form
      `count_patches`.
    num_train: training patches (the rest minus those overlapping validation).
    num_validation: held-out patches.
    train_coordinates, validation_coordinates: int32 [n, 3] (image, top, left).
  """

  def __init__(self, images, patch_size=32, stride=4, num_validation=1000,
               seed=0, validation_seed=0):
    self.patch_size = _check_int("patch_size", patch_size, 1)
    self.stride = _check_int("stride", stride, 1)
    self.num_validation = _check_int("num_validation", num_validation, 0)
    self.seed = _check_int("seed", seed, 0)
    self.validation_seed = _check_int("validation_seed", validation_seed, 0)
    self.image_names, self._images = _as_image_list(images)
    self.channels = self._images[0].shape[-1]
    size = self.patch_size
    small = [(n, im.shape[:2]) for n, im in zip(self.image_names, self._images)
             if min(im.shape[:2]) < size]
    if small:
      raise ValueError(
          f"patch_size {size} is larger than {len(small)} of the images, e.g. "
          f"image {small[0][0]!r} of size {small[0][1]}.")

    grids = [(num_patches_1d(im.shape[0], size, self.stride),
              num_patches_1d(im.shape[1], size, self.stride))
             for im in self._images]
    self.num_all = sum(gy * gx for gy, gx in grids)
    blocked = [np.zeros(g, bool) for g in grids]
    validation = self._choose_validation(grids, blocked)
    self.num_validation = len(validation)

    train = []
    for index, mask in enumerate(blocked):
      iy, ix = np.nonzero(~mask)
      train.append(np.stack([np.full_like(iy, index), iy * self.stride,
                             ix * self.stride], axis=1))
    self.train_coordinates = np.concatenate(train).astype(np.int32)
    self.validation_coordinates = np.asarray(
        validation, np.int32).reshape(-1, 3)
    self.num_train = len(self.train_coordinates)
    if self.num_train == 0:
      raise ValueError("No training patch is left after holding out the "
                       "validation patches; use more or larger images.")

    # One flat [total_pixels, C] buffer; a patch pixel (r, c) of the patch at
    # (image, top, left) is row offset[image] + (top + r) * width + left + c.
    widths = np.array([im.shape[1] for im in self._images], np.int64)
    offsets = np.cumsum([0] + [im.shape[0] * im.shape[1]
                               for im in self._images])[:-1]
    total = sum(im.shape[0] * im.shape[1] for im in self._images)
    index_dtype = np.int32 if total < 2**31 else np.int64
    img, top, left = self.train_coordinates.T.astype(np.int64)
    self._pixels = tf.constant(np.concatenate(
        [im.reshape(-1, self.channels) for im in self._images]))
    self._base = tf.constant((offsets[img] + top * widths[img] + left)
                             .astype(index_dtype))
    self._row_step = tf.constant(widths[img].astype(index_dtype))
    self._train_coordinates_tf = tf.constant(self.train_coordinates)
    self._index_dtype = tf.as_dtype(index_dtype)

  def _choose_validation(self, grids, blocked):
    """Greedy non-overlapping choice in a seeded random order.

    A candidate is taken unless it overlaps a patch taken before; taking it
    blocks (for training) every grid position within patch_size - 1 pixels,
    i.e. every patch that shares a pixel with it.
    """
    if self.num_validation == 0:
      return []
    sizes = np.array([gy * gx for gy, gx in grids], np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    reach = (self.patch_size - 1) // self.stride
    order = np.random.default_rng(self.validation_seed).permutation(
        self.num_all)
    chosen = []
    for flat in order:
      index = int(np.searchsorted(starts, flat, side="right") - 1)
      iy, ix = divmod(int(flat - starts[index]), grids[index][1])
      if blocked[index][iy, ix]:
        continue
      blocked[index][max(0, iy - reach):iy + reach + 1,
                     max(0, ix - reach):ix + reach + 1] = True
      chosen.append((index, iy * self.stride, ix * self.stride))
      if len(chosen) == self.num_validation:
        return chosen
    raise ValueError(
        f"num_validation={self.num_validation} non-overlapping patches do not "
        f"fit in these images (found {len(chosen)}).")

  @property
  def patch_shape(self):
    """(P, P, C) of one patch."""
    return (self.patch_size, self.patch_size, self.channels)

  def patches_at(self, coordinates):
    """float32 [n, P, P, C] in [0, 1] of (image, top, left) rows (numpy)."""
    size = self.patch_size
    out = np.empty((len(coordinates),) + self.patch_shape, np.float32)
    for k, (index, top, left) in enumerate(np.asarray(coordinates)):
      out[k] = self._images[index][top:top + size, left:left + size]
    return out / np.float32(255.0)

  def validation(self):
    """The held-out patches, float32 [num_validation, P, P, C] in [0, 1]."""
    return self.patches_at(self.validation_coordinates)

  def _example_rows(self, indices, seed):
    """Training-table rows of global example indices (int64 [b])."""
    n = tf.constant(self.num_train, tf.int64)
    epoch = indices // n
    position = indices % n
    seeds = tf.stack([tf.fill(tf.shape(indices), tf.constant(
        _INDEX_SHUFFLE_PAD, tf.int64)), tf.fill(tf.shape(indices), seed),
                      epoch], axis=1)
    return tf.raw_ops.RandomIndexShuffle(
        index=position, seed=seeds,
        max_index=tf.fill(tf.shape(indices), n - 1), rounds=4)

  def _gather(self, rows):
    """uint8 [b, P, P, C] patches of training-table rows."""
    steps = tf.range(self.patch_size, dtype=self._index_dtype)
    base = tf.gather(self._base, rows)
    row_step = tf.gather(self._row_step, rows)
    pixel = (base[:, None, None] + steps[None, :, None] * row_step[:, None, None]
             + steps[None, None, :])
    return tf.gather(self._pixels, pixel)

  def train_dataset(self, batch_size, corruption=None, start_batch=0,
                    seed=None, num_batches=None, input_context=None,
                    step_subset=None, include_coordinates=False,
                    augment=False):
    """The training stream: dicts of batches, deterministic and resumable.

    Args:
      batch_size: global batch size B (per step, over all replicas).
      corruption: None or a `rim_tf.data.corruptions.Corruption`, applied to
        each batch; its outputs are merged into the element.
      start_batch: global step to start at (resume after k steps with k).
      seed: int; None uses the constructor's seed.
      num_batches: global steps to yield; None for an endless stream.
      input_context: optional `tf.distribute.InputContext`: each replica then
        gets B / num_replicas_in_sync examples of every step, the pipelines
        of the input workers split a step's replica batches between them
        (every num_input_pipelines-th); use with
        `strategy.distribute_datasets_from_function`.
      step_subset: optional (j, J): only global steps g with g % J == j
        (a task's J input streams, e.g. one per super-resolution scale).
      include_coordinates: add "index" (int64 [b], global example index) and
        "coordinates" (int32 [b, 3], image/top/left) to every element, and
        with `augment` "transform" (int32 [b], see `apply_symmetry`).
      augment: turn every patch by one of the 8 symmetries of the square
        (flips and 90-degree turns, `apply_symmetry`), drawn uniformly per
        example from (seed, step); off by default, as in the paper.

    Returns:
      tf.data.Dataset of dicts with "x": float32 [b, P, P, C] in [0, 1]
      (b = B, or B / num_replicas_in_sync with an input_context) and the
      corruption's keys. With several replicas each replica's sub-batch draws
      its own corruption parameters (seeded by (seed, g * R + r)).
    """
    batch_size = _check_int("batch_size", batch_size, 1)
    start_batch = _check_int("start_batch", start_batch, 0)
    seed = self.seed if seed is None else _check_int("seed", seed, 0)
    if num_batches is not None:
      num_batches = _check_int("num_batches", num_batches, 1)
    replicas, pipelines, pipeline = 1, 1, 0
    if input_context is not None:
      replicas = input_context.num_replicas_in_sync
      pipelines = input_context.num_input_pipelines
      pipeline = input_context.input_pipeline_id
      if batch_size % replicas or replicas % pipelines:
        raise ValueError(
            f"batch_size {batch_size} must be divisible by the "
            f"{replicas} replicas, and those by the {pipelines} input "
            f"pipelines.")
    per_replica = batch_size // replicas
    local = replicas // pipelines
    offset, period = 0, 1
    if step_subset is not None:
      offset, period = (int(v) for v in step_subset)
      if period < 1 or not 0 <= offset < period:
        raise ValueError(
            f"step_subset must be (j, J) with 0 <= j < J, got {step_subset}.")
    first_step = start_batch + (offset - start_batch) % period
    if corruption is not None:
      corruption.check_patch_shape(self.patch_shape)

    def make_batch(counter):
      step = first_step + (counter // local) * period
      replica = pipeline + (counter % local) * pipelines
      sub_batch = step * replicas + replica
      indices = sub_batch * per_replica + tf.range(per_replica, dtype=tf.int64)
      rows = self._example_rows(indices, tf.constant(seed, tf.int64))
      patches = self._gather(rows)
      if augment:
        transform = tf.random.stateless_uniform(
            [per_replica], tf.stack([
                tf.constant(seed, tf.int64) * 65536 + _AUGMENT_SEED_SALT,
                sub_batch]), maxval=NUM_SYMMETRIES, dtype=tf.int32)
        patches = apply_symmetry(patches, transform)
      batch = {"x": tf.cast(patches, tf.float32) / 255.0}
      if include_coordinates:
        batch["index"] = indices
        batch["coordinates"] = tf.gather(self._train_coordinates_tf, rows)
        if augment:
          batch["transform"] = transform
      if corruption is not None:
        corruption_seed = tf.stack([
            tf.constant(seed, tf.int64) * 65536 + _CORRUPTION_SEED_SALT,
            sub_batch])
        batch = corruption(batch, corruption_seed)
      return batch

    if num_batches is None:
      dataset = tf.data.Dataset.counter(dtype=tf.int64)
    else:
      dataset = tf.data.Dataset.range(num_batches * local)
    dataset = dataset.map(make_batch, num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def measure_throughput(dataset, num_batches, warmup=2):
  """Patches per second of iterating `dataset` (batches of dicts with "x")."""
  iterator = iter(dataset)
  for _ in range(warmup):
    next(iterator)
  patches = 0
  start = time.perf_counter()
  for _ in range(num_batches):
    batch = next(iterator)
    patches += int(batch["x"].shape[0])
  return patches / (time.perf_counter() - start)
