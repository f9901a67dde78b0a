"""Tests of rim_tf.inference.image_files: 8/16-bit gray/RGB round trips, clear errors."""

import os

import numpy as np
from PIL import Image
import pytest

from rim_tf.inference import image_files


def _random(shape, dtype, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3])
def test_lossless_formats_round_trip_every_sample(tmp_path, suffix, dtype,
                                                  channels):
  image = _random((17, 23, channels), dtype)
  path = image_files.write_image(tmp_path / f"a{suffix}", image)
  back = image_files.read_image(path)
  assert back.dtype == dtype and back.shape == (17, 23, channels)
  np.testing.assert_array_equal(back, image)


def test_jpeg_round_trip_is_close_and_8_bit(tmp_path):
  yy, xx = np.mgrid[0:64, 0:64]
  image = np.stack([yy * 3, xx * 3, (yy + xx) * 2], -1).astype(np.uint8)
  back = image_files.read_image(
      image_files.write_image(tmp_path / "a.JPG", image))
  assert back.dtype == np.uint8 and back.shape == image.shape
  assert np.abs(back.astype(int) - image).mean() < 2.0


def test_reads_a_16_bit_rgb_png_without_losing_bits(tmp_path):
  # Pillow alone narrows 16-bit RGB PNGs to 8 bits.
  image = _random((9, 11, 3), np.uint16, seed=4) | 1  # odd: low bits matter
  path = image_files.write_image(tmp_path / "deep.png", image)
  assert Image.open(path).mode == "RGB"  # what Pillow would have given
  np.testing.assert_array_equal(image_files.read_image(path), image)


def test_reads_palette_and_bilevel_images_as_rgb_and_gray(tmp_path):
  Image.new("P", (8, 9), 3).save(tmp_path / "p.png")
  Image.new("1", (8, 9), 1).save(tmp_path / "b.png")
  assert image_files.read_image(tmp_path / "p.png").shape == (9, 8, 3)
  bilevel = image_files.read_image(tmp_path / "b.png")
  assert bilevel.shape == (9, 8, 1) and bilevel.max() == 255


def test_missing_file_is_file_not_found(tmp_path):
  with pytest.raises(FileNotFoundError, match="no such file"):
    image_files.read_image(tmp_path / "nothing.png")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_truncated_files_are_refused(tmp_path, suffix):
  path = image_files.write_image(tmp_path / f"a{suffix}",
                                 _random((64, 64, 3), np.uint8))
  data = path.read_bytes()
  path.write_bytes(data[:len(data) // 2])
  with pytest.raises(image_files.ImageFileError, match="cannot decode"):
    image_files.read_image(path)


def test_garbage_with_an_image_suffix_is_refused(tmp_path):
  (tmp_path / "x.png").write_bytes(b"not an image at all")
  with pytest.raises(image_files.ImageFileError, match="x.png"):
    image_files.read_image(tmp_path / "x.png")


@pytest.mark.parametrize("mode,channels", [("RGBA", 4), ("LA", 2)])
def test_alpha_channels_are_refused(tmp_path, mode, channels):
  Image.new(mode, (8, 8)).save(tmp_path / "a.png")
  with pytest.raises(image_files.ImageFileError,
                     match=f"has {channels} channels"):
    image_files.read_image(tmp_path / "a.png")


def test_other_suffixes_and_folders_are_refused(tmp_path):
  (tmp_path / "a.gif").write_bytes(b"GIF89a")
  with pytest.raises(image_files.ImageFileError, match="unsupported file"):
    image_files.read_image(tmp_path / "a.gif")
  with pytest.raises(image_files.ImageFileError, match="not a file"):
    image_files.read_image(tmp_path)


def test_float_tiff_is_refused(tmp_path):
  import tifffile  # pylint: disable=g-import-not-at-top
  tifffile.imwrite(tmp_path / "f.tif", np.zeros((8, 8), np.float32))
  with pytest.raises(image_files.ImageFileError, match="float32"):
    image_files.read_image(tmp_path / "f.tif")


def test_16_bit_jpeg_is_refused_before_writing(tmp_path):
  with pytest.raises(image_files.ImageFileError, match="JPEG holds 8 bits"):
    image_files.write_image(tmp_path / "a.jpg", np.zeros((8, 8, 1), np.uint16))
  assert not os.listdir(tmp_path)


def test_failed_write_keeps_the_existing_file(tmp_path, monkeypatch):
  path = tmp_path / "out.png"
  old = _random((8, 8, 1), np.uint8)
  image_files.write_image(path, old)

  def broken(*args):
    raise OSError("disk full")

  monkeypatch.setattr(image_files, "_write", broken)
  with pytest.raises(image_files.ImageFileError, match="disk full"):
    image_files.write_image(path, _random((8, 8, 1), np.uint8, seed=1))
  np.testing.assert_array_equal(image_files.read_image(path), old)
  assert os.listdir(tmp_path) == ["out.png"]  # no scratch file left


def test_written_files_get_normal_permissions(tmp_path):
  path = image_files.write_image(tmp_path / "a.png",
                                 np.zeros((8, 8, 1), np.uint8))
  mask = os.umask(0)
  os.umask(mask)
  assert path.stat().st_mode & 0o777 == 0o666 & ~mask
