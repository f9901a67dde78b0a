"""Tests for rim_tf.operators.bicubic: MATLAB imresize and BicubicDownsample."""

import math
import os
import pathlib

from absl.testing import parameterized
import numpy as np
import pytest
import tensorflow as tf

from rim_tf.operators.bicubic import BicubicDownsample, imresize

_VECTORS_NAME = "matlab_imresize_vectors.npz"
_TESTS_DIR = pathlib.Path(__file__).resolve().parent

# Every expected output in the vector file, by key; "x0.333" means scale 1/3.
_VECTOR_KEYS = (
    ["ramp4_x0.5"] +
    [f"float_13x17x3_x{s}" for s in ("0.5", "0.333", "0.25", "2", "3")] +
    [f"uint8_29x23x3_x{s}" for s in ("0.5", "0.333", "0.25", "2", "3", "4")])


def _vectors_path():
  """The test-vector file: $RIM_TESTDATA_DIR, the in-repo copy, or shared."""
  candidates = [_TESTS_DIR / "testdata", _TESTS_DIR.parent.parent / "shared" /
                "testdata"]
  if os.environ.get("RIM_TESTDATA_DIR"):
    candidates.insert(0, pathlib.Path(os.environ["RIM_TESTDATA_DIR"]))
  for directory in candidates:
    if (directory / _VECTORS_NAME).is_file():
      return directory / _VECTORS_NAME
  pytest.skip(f"{_VECTORS_NAME} not found in any of "
              f"{[str(c) for c in candidates]}; set RIM_TESTDATA_DIR.")


def _load_vector(key):
  """(input image HWC, scale, expected output HWC) for one expected key."""
  with np.load(_vectors_path()) as data:
    prefix, scale_name = key.rsplit("_x", 1)
    image, expected = data[prefix + "_in"], data[key]
  if image.ndim == 2:
    image, expected = image[..., None], expected[..., None]
  scale = 1 / 3 if scale_name == "0.333" else float(scale_name)
  return image, scale, expected


def _cubic_reference(x):
  """Keys' cubic with a = -0.5, written out per case."""
  ax = abs(x)
  if ax <= 1:
    return 1.5 * ax**3 - 2.5 * ax**2 + 1
  if ax <= 2:
    return -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2
  return 0.0


def _contributions_reference(in_length, scale, boundary):
  """Per-output-sample loop over MATLAB's contributions().

  Returns:
    list over output samples of (0-based input indices, weights), and a list
    of flags saying whether a sample has a non-zero tap outside the image.
  """
  width = 4.0 / scale if scale < 1 else 4.0
  out_length = math.ceil(scale * in_length)
  taps = math.ceil(width) + 2
  contributions, touches_border = [], []
  for x in range(1, out_length + 1):
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = math.floor(u - width / 2)
    indices, weights = [], []
    for k in range(taps):
      j = left + k
      if scale < 1:
        w = scale * _cubic_reference(scale * (u - j))
      else:
        w = _cubic_reference(u - j)
      indices.append(j)
      weights.append(w)
    total = sum(weights)
    weights = [w / total for w in weights]
    touches_border.append(
        any(w != 0 and not 1 <= j <= in_length
            for j, w in zip(indices, weights)))
    if boundary == "replicate":
      folded = [min(max(j, 1), in_length) for j in indices]
    else:
      aux = list(range(1, in_length + 1)) + list(range(in_length, 0, -1))
      folded = [aux[(j - 1) % len(aux)] for j in indices]
    contributions.append(([j - 1 for j in folded], weights))
  return contributions, touches_border


def _resize_reference(image, scale, boundary):
  """Float64 MATLAB bicubic resize of HWC `image`, rows first, by loops."""
  image = np.asarray(image, np.float64)
  rows, row_border = _contributions_reference(image.shape[0], scale, boundary)
  cols, col_border = _contributions_reference(image.shape[1], scale, boundary)
  tmp = np.zeros((len(rows),) + image.shape[1:])
  for i, (indices, weights) in enumerate(rows):
    for j, w in zip(indices, weights):
      tmp[i] += w * image[j]
  out = np.zeros((len(rows), len(cols), image.shape[2]))
  for i, (indices, weights) in enumerate(cols):
    for j, w in zip(indices, weights):
      out[:, i] += w * tmp[:, j]
  return out, np.array(row_border), np.array(col_border)


class ImresizeMatlabVectorsTest(tf.test.TestCase, parameterized.TestCase):

  def test_vector_file_holds_exactly_the_tested_keys(self):
    with np.load(_vectors_path()) as data:
      outputs = {k for k in data.files if not k.endswith("_in")}
    self.assertCountEqual(outputs, _VECTOR_KEYS)

  def _assert_matches(self, got, expected):
    got = np.asarray(got)
    self.assertEqual(got.dtype, expected.dtype)
    self.assertEqual(got.shape, expected.shape)
    if expected.dtype == np.uint8:
      np.testing.assert_array_equal(got, expected)
    else:
      np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)

  @parameterized.parameters(*_VECTOR_KEYS)
  def test_numpy_input_reproduces_matlab(self, key):
    image, scale, expected = _load_vector(key)
    got = imresize(image, scale)
    self.assertIsInstance(got, np.ndarray)
    self._assert_matches(got, expected)

  @parameterized.parameters(*_VECTOR_KEYS)
  def test_tensor_input_reproduces_matlab(self, key):
    image, scale, expected = _load_vector(key)
    got = imresize(tf.constant(image), scale)
    self.assertIsInstance(got, tf.Tensor)
    self._assert_matches(got.numpy(), expected)

  @parameterized.parameters(*_VECTOR_KEYS)
  def test_batch_reproduces_matlab_per_example(self, key):
    image, scale, expected = _load_vector(key)
    flipped = image[:, ::-1]
    got = imresize(np.stack([image, flipped]), scale)
    self._assert_matches(got[0], expected)
    self._assert_matches(got[1], imresize(flipped, scale))

  @parameterized.parameters(*_VECTOR_KEYS)
  def test_tf_function_reproduces_matlab(self, key):
    image, scale, expected = _load_vector(key)
    resize = tf.function(lambda x: imresize(x, scale))
    self._assert_matches(resize(tf.constant(image)).numpy(), expected)


class ImresizeTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(np.float16, np.float32, np.float64, np.uint8)
  def test_output_dtype_and_shape(self, dtype):
    image = (np.random.default_rng(0).uniform(size=(2, 9, 7, 3)) * 200).astype(
        dtype)
    got = imresize(image, 0.5)
    self.assertEqual(got.dtype, dtype)
    self.assertEqual(got.shape, (2, 5, 4, 3))

  @parameterized.parameters(0.5, 1 / 3, 2.0, 3.0)
  def test_gradient_flows(self, scale):
    x = tf.constant(np.random.default_rng(1).uniform(size=(2, 12, 10, 3)),
                    tf.float32)
    with tf.GradientTape() as tape:
      tape.watch(x)
      loss = tf.reduce_sum(tf.square(imresize(x, scale)))
    grad = tape.gradient(loss, x)
    self.assertIsNotNone(grad)
    self.assertTrue(np.all(np.isfinite(grad.numpy())))
    self.assertGreater(np.abs(grad.numpy()).sum(), 0)

  @parameterized.parameters("replicate", "symmetric")
  def test_matches_loop_reference(self, boundary):
    image = np.random.default_rng(2).uniform(size=(11, 9, 2))
    for scale in (0.5, 1 / 3, 0.25, 2.0, 3.0):
      want, _, _ = _resize_reference(image, scale, boundary)
      np.testing.assert_allclose(
          imresize(image, scale, boundary=boundary), want, rtol=0, atol=1e-12)

  @parameterized.parameters(0.5, 1 / 3, 2.0, 3.0)
  def test_symmetric_differs_from_replicate_only_at_borders(self, scale):
    image = np.random.default_rng(3).uniform(size=(16, 13, 2))
    _, row_border, col_border = _resize_reference(image, scale, "symmetric")
    interior = ~row_border[:, None] & ~col_border[None, :]
    self.assertTrue(interior.any())
    replicate = imresize(image, scale, boundary="replicate")
    symmetric = imresize(image, scale, boundary="symmetric")
    np.testing.assert_allclose(symmetric[interior], replicate[interior],
                               rtol=0, atol=1e-12)
    self.assertGreater(np.abs(symmetric - replicate).max(), 1e-6)

  def test_unknown_spatial_size_in_tf_function_is_rejected(self):
    resize = tf.function(
        lambda x: imresize(x, 0.5),
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    with pytest.raises(ValueError, match="image must have statically known"):
      resize.get_concrete_function()

  @parameterized.named_parameters(
      ("rank2", np.zeros((8, 8)), 0.5, "replicate", r"image must have shape"),
      ("rank5", np.zeros((1, 1, 8, 8, 1)), 0.5, "replicate",
       r"image must have shape"),
      ("int32", np.zeros((8, 8, 1), np.int32), 0.5, "replicate",
       r"image must have dtype"),
      ("bool", np.zeros((8, 8, 1), bool), 0.5, "replicate",
       r"image must have dtype"),
      ("zero_scale", np.zeros((8, 8, 1)), 0, "replicate", r"scale must be"),
      ("negative_scale", np.zeros((8, 8, 1)), -2, "replicate",
       r"scale must be"),
      ("inf_scale", np.zeros((8, 8, 1)), math.inf, "replicate",
       r"scale must be"),
      ("nan_scale", np.zeros((8, 8, 1)), math.nan, "replicate",
       r"scale must be"),
      ("string_scale", np.zeros((8, 8, 1)), "2", "replicate",
       r"scale must be"),
      ("unknown_boundary", np.zeros((8, 8, 1)), 0.5, "reflect",
       r"boundary must be one of"),
      ("one_pixel_height", np.zeros((1, 8, 1)), 2.0, "replicate",
       r"image height must be at least 2"),
      ("one_pixel_width", np.zeros((2, 8, 1, 3)), 2.0, "replicate",
       r"image width must be at least 2"),
      ("below_one_pixel", np.zeros((3, 8, 1)), 0.25, "replicate",
       r"image height 3 times scale 0.25 is below one pixel"),
  )
  def test_invalid_arguments_raise(self, image, scale, boundary, message):
    with pytest.raises(ValueError, match=message):
      imresize(image, scale, boundary=boundary)


_SHAPES = [(481, 321, 1), (321, 481, 3), (32, 32, 3), (36, 36, 1),
           (17, 23, 1), (17, 23, 3)]
_SCALE_SHAPES = [(s, shape) for s in (2, 3, 4) for shape in _SHAPES]


class BicubicDownsampleTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(*_SCALE_SHAPES)
  def test_dot_product_identity(self, scale, shape):
    op = BicubicDownsample(scale, shape)
    rng = np.random.default_rng(4)
    x = rng.uniform(size=(2,) + shape).astype(np.float32)
    y = rng.uniform(size=(2,) + op.range_shape).astype(np.float32)
    ax = op.forward(x).numpy().astype(np.float64)
    aty = op.adjoint(y).numpy().astype(np.float64)
    lhs = np.sum(ax * y.astype(np.float64))
    rhs = np.sum(x.astype(np.float64) * aty)
    self.assertLessEqual(abs(lhs - rhs) / max(abs(lhs), abs(rhs)), 1e-5)

  @parameterized.parameters((2, (17, 23, 3)), (3, (481, 321, 1)),
                            (4, (36, 36, 3)))
  def test_adjoint_equals_autodiff_transpose(self, scale, shape):
    op = BicubicDownsample(scale, shape)
    rng = np.random.default_rng(5)
    x = tf.constant(rng.uniform(size=(2,) + shape), tf.float32)
    y = tf.constant(rng.uniform(size=(2,) + op.range_shape), tf.float32)
    with tf.GradientTape() as tape:
      tape.watch(x)
      ax = op.forward(x)
    vjp = tape.gradient(ax, x, output_gradients=y)
    self.assertAllClose(op.adjoint(y), vjp, rtol=1e-5, atol=1e-5)

  @parameterized.parameters(*_SCALE_SHAPES)
  def test_forward_is_imresize_by_inverse_scale(self, scale, shape):
    op = BicubicDownsample(scale, shape)
    x = np.random.default_rng(6).uniform(size=(2,) + shape).astype(np.float32)
    got = op.forward(x).numpy()
    expected_shape = (2, -(-shape[0] // scale), -(-shape[1] // scale),
                      shape[2])
    self.assertEqual(got.shape, expected_shape)
    self.assertEqual(op.range_shape, expected_shape[1:])
    self.assertEqual(op.domain_shape, shape)
    np.testing.assert_array_equal(got, imresize(x, 1 / scale))

  def test_forward_and_adjoint_run_in_tf_function(self):
    op = BicubicDownsample(3, (17, 23, 3))
    x = tf.random.uniform((2, 17, 23, 3), seed=7)
    normal = tf.function(op.normal)
    self.assertAllClose(normal(x), op.adjoint(op.forward(x)))

  @parameterized.parameters((2, (481, 321, 3)), (3, (481, 321, 3)),
                            (4, (17, 23, 1)))
  def test_initial_estimate_has_image_shape_and_range(self, scale, shape):
    op = BicubicDownsample(scale, shape)
    y = op.forward(tf.random.uniform((2,) + shape, seed=8))
    x0 = op.initial_estimate(y)
    self.assertEqual(tuple(x0.shape), (2,) + shape)
    self.assertEqual(x0.dtype, tf.float32)
    self.assertAllInRange(x0, 0.0, 1.0)
    upsampled = imresize(y, scale)
    self.assertAllClose(x0, tf.clip_by_value(
        upsampled[:, :shape[0], :shape[1]], 0.0, 1.0))

  def test_integral_float_scale_and_repr(self):
    op = BicubicDownsample(2.0, [481, 321, 3])
    self.assertEqual(op.scale, 2)
    self.assertEqual(repr(op),
                     "BicubicDownsample(scale=2, image_shape=(481, 321, 3))")

  @parameterized.named_parameters(
      ("scale_one", 1, (8, 8, 1), r"scale must be an integer >= 2"),
      ("fractional_scale", 2.5, (8, 8, 1), r"scale must be an integer >= 2"),
      ("bool_scale", True, (8, 8, 1), r"scale must be an integer >= 2"),
      ("string_scale", "2", (8, 8, 1), r"scale must be an integer >= 2"),
      ("shape_rank", 2, (8, 8), r"image_shape must be \(H, W, C\)"),
      ("shape_zero", 2, (8, 0, 1), r"image_shape must be \(H, W, C\)"),
      ("shape_float", 2, (8.0, 8, 1), r"image_shape must be \(H, W, C\)"),
      ("shape_too_small", 4, (3, 8, 1),
       r"image_shape height 3 times scale 0.25 is below one pixel"),
  )
  def test_invalid_construction_raises(self, scale, shape, message):
    with pytest.raises(ValueError, match=message):
      BicubicDownsample(scale, shape)

  def test_wrong_input_shapes_raise(self):
    op = BicubicDownsample(2, (8, 6, 3))
    with pytest.raises(ValueError, match=r"x must have per-example shape"):
      op.forward(tf.zeros((1, 8, 7, 3)))
    with pytest.raises(ValueError, match=r"y must have per-example shape"):
      op.adjoint(tf.zeros((1, 8, 6, 3)))
    with pytest.raises(ValueError, match=r"y must have per-example shape"):
      op.initial_estimate(tf.zeros((1, 4, 4, 3)))


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("low", [(7, 5), (12, 9)])
def test_the_any_size_operator_is_the_fixed_size_one(scale, low):
  # One graph for every multiple of the scale (an exported RIM's), the same
  # map: taps read off the MATLAB-exact matrices.
  rng = np.random.default_rng(scale)
  shape = (scale * low[0], scale * low[1], 2)
  x = rng.random((2,) + shape).astype(np.float32)
  y = rng.random((2,) + low + (2,)).astype(np.float32)
  fixed = BicubicDownsample(scale, shape)
  anysize = BicubicDownsample(scale, (None, None, 2))

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 2])] * 2)
  def maps(x, y):
    return (anysize.forward(x), anysize.adjoint(y),
            anysize.initial_estimate(y))

  forward, adjoint, start = maps(x, y)
  np.testing.assert_allclose(forward, fixed.forward(x), atol=1e-6)
  np.testing.assert_allclose(adjoint, fixed.adjoint(y), atol=1e-6)
  np.testing.assert_allclose(start, fixed.initial_estimate(y), atol=1e-6)
  lhs = np.sum(forward.numpy().astype(np.float64) * y)
  rhs = np.sum(x.astype(np.float64) * adjoint.numpy())
  assert lhs == pytest.approx(rhs, rel=1e-6)


def test_the_any_size_operator_refuses_a_size_not_a_multiple():
  op = BicubicDownsample(2, (None, None, 1))
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="multiples of the scale 2"):
    op.forward(tf.zeros([1, 7, 8, 1]))
