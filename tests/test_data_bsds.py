"""BSDS300: locating, archive handling, download, loading; real-data checks."""

import hashlib
import io
import pathlib
import tarfile

import numpy as np
import pytest
from PIL import Image

from rim_tf.data import bsds
from rim_tf.data import patches
from rim_tf import metrics
from synthetic import write_fake_bsds


def _make_archive(source_root, archive):
  with tarfile.open(archive, "w:gz") as tar:
    tar.add(pathlib.Path(source_root) / "BSDS300", arcname="BSDS300")
  return pathlib.Path(archive)


@pytest.fixture(scope="module")
def fake_archive(tmp_path_factory):
  """A tiny but correctly laid out BSDS300-images.tgz (200 + 100 JPEGs)."""
  source = tmp_path_factory.mktemp("fake_source")
  write_fake_bsds(source)
  return _make_archive(source, source / "fake.tgz")


def _sha256(path):
  return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def _assert_single_message(error):
  """Raised `from None`: one readable message, no chained traceback."""
  assert error.__cause__ is None
  assert error.__suppress_context__ or error.__context__ is None


# --- locating ---------------------------------------------------------------


def test_finds_folder_given_parent_or_folder_itself(tmp_path):
  folder = write_fake_bsds(tmp_path)
  assert bsds.find_bsds300(tmp_path, download=False) == folder
  assert bsds.find_bsds300(folder, download=False) == folder


def test_data_dir_precedence_flag_then_env_then_default(tmp_path,
                                                        monkeypatch):
  env_root, flag_root = tmp_path / "env", tmp_path / "flag"
  write_fake_bsds(env_root)
  write_fake_bsds(flag_root)
  monkeypatch.setenv("RIM_DATA_DIR", str(env_root))
  assert bsds.find_bsds300(download=False) == env_root / "BSDS300"
  assert bsds.find_bsds300(flag_root, download=False) == (
      flag_root / "BSDS300")
  monkeypatch.delenv("RIM_DATA_DIR")
  monkeypatch.chdir(tmp_path)
  assert bsds.resolve_data_dir() == pathlib.Path("data")


def test_validate_returns_the_ids_of_both_splits(tmp_path):
  ids = bsds.validate_bsds300(write_fake_bsds(tmp_path))
  assert len(ids["train"]) == 200 and len(ids["test"]) == 100


# --- archive ------------------------------------------------------------------


def test_archive_is_checked_and_extracted_next_to_itself(tmp_path,
                                                         fake_archive):
  archive = tmp_path / bsds.ARCHIVE_NAME
  archive.write_bytes(fake_archive.read_bytes())
  folder = bsds.find_bsds300(tmp_path, download=False)
  assert folder == tmp_path / "BSDS300"
  assert len(list(folder.glob("images/train/*.jpg"))) == 200
  # No scratch folder is left behind; a second call reuses the extraction.
  assert sorted(p.name for p in tmp_path.iterdir()) == [
      "BSDS300", bsds.ARCHIVE_NAME]
  assert bsds.find_bsds300(tmp_path, download=False) == folder


def test_archive_path_itself_is_accepted(tmp_path, fake_archive):
  archive = tmp_path / bsds.ARCHIVE_NAME
  archive.write_bytes(fake_archive.read_bytes())
  assert bsds.find_bsds300(archive, download=False) == tmp_path / "BSDS300"


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_archive_gives_a_clear_error(tmp_path, fake_archive, damage):
  data = fake_archive.read_bytes()
  data = data[:len(data) // 2] if damage == "truncated" else b"not a tgz" * 99
  (tmp_path / bsds.ARCHIVE_NAME).write_bytes(data)
  with pytest.raises(bsds.CorruptDataError, match="not a readable gzip tar"
                     ) as info:
    bsds.find_bsds300(tmp_path, download=False)
  _assert_single_message(info.value)
  assert bsds.OFFICIAL_URL in str(info.value)
  assert not (tmp_path / "BSDS300").exists()


def test_archive_with_wrong_layout_is_rejected(tmp_path):
  source = tmp_path / "src"
  folder = write_fake_bsds(source, num_train=199)
  (folder / "iids_test.txt").unlink()
  archive = _make_archive(source, tmp_path / bsds.ARCHIVE_NAME)
  with pytest.raises(bsds.CorruptDataError) as info:
    bsds.extract_archive(archive)
  message = str(info.value)
  assert "199 JPEGs in BSDS300/images/train/" in message
  assert "no BSDS300/iids_test.txt" in message
  assert not (tmp_path / "BSDS300").exists()


def test_archive_with_unsafe_member_is_refused(tmp_path, fake_archive):
  archive = tmp_path / bsds.ARCHIVE_NAME
  with tarfile.open(archive, "w:gz") as tar:
    member = tarfile.TarInfo("../escape.txt")
    member.size = 3
    tar.addfile(member, io.BytesIO(b"bad"))
  with pytest.raises(bsds.CorruptDataError, match="unsafe member"):
    bsds.check_archive(archive)
  assert not (tmp_path.parent / "escape.txt").exists()


# --- wrong folder layouts -----------------------------------------------------


@pytest.mark.parametrize("breakage, expected", [
    ("no_iids", "has no iids_test.txt"),
    ("no_test_folder", "has no images/test/ folder"),
    ("missing_image", "holds 99 .jpg files"),
    ("short_iids", "lists 99 distinct ids"),
])
def test_wrong_folder_layout_names_the_problem(tmp_path, breakage, expected):
  folder = write_fake_bsds(tmp_path)
  if breakage == "no_iids":
    (folder / "iids_test.txt").unlink()
  elif breakage == "no_test_folder":
    for path in (folder / "images" / "test").iterdir():
      path.unlink()
    (folder / "images" / "test").rmdir()
  elif breakage == "missing_image":
    next((folder / "images" / "test").glob("*.jpg")).unlink()
  else:
    ids = (folder / "iids_test.txt").read_text().split()[1:]
    (folder / "iids_test.txt").write_text("\n".join(ids))
  with pytest.raises(bsds.CorruptDataError, match=expected) as info:
    bsds.find_bsds300(tmp_path, download=False)
  _assert_single_message(info.value)


def test_broken_folder_next_to_archive_says_to_delete_it(tmp_path,
                                                        fake_archive):
  folder = write_fake_bsds(tmp_path)
  (folder / "iids_train.txt").unlink()
  (tmp_path / bsds.ARCHIVE_NAME).write_bytes(fake_archive.read_bytes())
  with pytest.raises(bsds.CorruptDataError, match="delete .* to have it"):
    bsds.find_bsds300(tmp_path, download=False)


# --- missing data and download -------------------------------------------------


def test_missing_data_message_says_where_to_put_it(tmp_path):
  root = tmp_path / "nowhere"
  with pytest.raises(bsds.DataNotFoundError) as info:
    bsds.find_bsds300(root, download=False)
  message = str(info.value)
  _assert_single_message(info.value)
  assert str(root.absolute() / "BSDS300") in message
  assert str(root.absolute() / bsds.ARCHIVE_NAME) in message
  assert bsds.OFFICIAL_URL in message and "RIM_DATA_DIR" in message
  assert not isinstance(info.value, bsds.CorruptDataError)


def test_failed_download_says_where_to_put_the_data(tmp_path):
  missing_url = (tmp_path / "absent.tgz").as_uri()
  with pytest.raises(bsds.DataNotFoundError, match="downloading .* failed"
                     ) as info:
    bsds.find_bsds300(tmp_path / "data", url=missing_url)
  _assert_single_message(info.value)
  assert str((tmp_path / "data").absolute() / bsds.ARCHIVE_NAME) in str(
      info.value)
  assert not (tmp_path / "data").exists()


def test_download_with_right_checksum_is_extracted(tmp_path, fake_archive):
  root = tmp_path / "data"
  folder = bsds.find_bsds300(root, url=fake_archive.as_uri(),
                             sha256=_sha256(fake_archive))
  assert folder == root / "BSDS300"
  assert (root / bsds.ARCHIVE_NAME).read_bytes() == fake_archive.read_bytes()
  assert len(bsds.read_ids(folder, "test")) == 100


def test_download_with_wrong_checksum_is_deleted(tmp_path, fake_archive):
  root = tmp_path / "data"
  with pytest.raises(bsds.CorruptDataError, match="expected 0000") as info:
    bsds.find_bsds300(root, url=fake_archive.as_uri(), sha256="0" * 64)
  _assert_single_message(info.value)
  assert not list(root.iterdir())


def test_official_constants():
  assert bsds.OFFICIAL_URL.endswith("/bsds/BSDS300-images.tgz")
  assert len(bsds.OFFICIAL_SHA256) == 64
  int(bsds.OFFICIAL_SHA256, 16)


# --- loading ------------------------------------------------------------------


def test_load_image_gray_is_matlab_rgb2gray_of_rgb(tmp_path):
  rgb = np.random.default_rng(1).integers(0, 256, (9, 7, 3), np.uint8)
  Image.fromarray(rgb).save(tmp_path / "a.png")
  loaded = bsds.load_image(tmp_path / "a.png", gray=False)
  np.testing.assert_array_equal(loaded, rgb)
  gray = bsds.load_image(tmp_path / "a.png", gray=True)
  assert gray.shape == (9, 7, 1) and gray.dtype == np.uint8
  np.testing.assert_array_equal(gray[..., 0], metrics.rgb2gray_uint8(rgb))


def test_load_image_of_a_gray_file(tmp_path):
  gray = np.arange(30, dtype=np.uint8).reshape(5, 6)
  Image.fromarray(gray).save(tmp_path / "g.png")
  assert bsds.load_image(tmp_path / "g.png", gray=True).shape == (5, 6, 1)
  rgb = bsds.load_image(tmp_path / "g.png", gray=False)
  np.testing.assert_array_equal(rgb, np.repeat(gray[..., None], 3, -1))


def test_undecodable_image_gives_a_clear_error(tmp_path):
  (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
  with pytest.raises(bsds.CorruptDataError, match="Cannot decode image"):
    bsds.load_image(tmp_path / "bad.jpg", gray=True)


def test_load_images_splits_and_subsets(tmp_path):
  write_fake_bsds(tmp_path)
  train = bsds.load_images("train", gray=True, data_dir=tmp_path,
                           download=False)
  assert len(train) == 200
  assert {im.shape for im in train.values()} == {(12, 8, 1), (8, 12, 1)}
  chosen = bsds.load_images("test", gray=False, data_dir=tmp_path,
                            subset=["200003", "200001"], download=False)
  assert list(chosen) == ["200003", "200001"]
  with pytest.raises(ValueError, match="not in the BSDS300 test split"):
    bsds.load_images("test", data_dir=tmp_path, subset=["1"], download=False)
  with pytest.raises(ValueError, match="part of the test split"):
    bsds.load_images("train", data_dir=tmp_path, subset="bsd68",
                     download=False)
  with pytest.raises(ValueError, match="split must be one of"):
    bsds.load_images("val", data_dir=tmp_path, download=False)


def test_bsd68_list_is_packaged():
  assert len(bsds.BSD68) == 68 and len(set(bsds.BSD68)) == 68
  assert all(i.isdigit() for i in bsds.BSD68)
  assert bsds.BSD68[:2] == ("101085", "101087")


# --- TFDS ---------------------------------------------------------------------


def test_tfds_builder_reads_the_manual_dir(tmp_path, fake_archive):
  tfds = pytest.importorskip("tensorflow_datasets")
  from rim_tf.data import tfds_bsds300  # pylint: disable=import-outside-toplevel
  manual = tmp_path / "manual"
  manual.mkdir()
  (manual / bsds.ARCHIVE_NAME).write_bytes(fake_archive.read_bytes())
  config = tfds.download.DownloadConfig(manual_dir=str(manual))
  builder = tfds_bsds300.Bsds300(data_dir=str(tmp_path / "tfds"))
  builder.download_and_prepare(download_config=config)
  assert builder.info.splits["train"].num_examples == 200
  assert builder.info.splits["test"].num_examples == 100
  example = next(iter(tfds.as_numpy(builder.as_dataset(split="test"))))
  image_id = example["id"].decode()
  expected = bsds.load_image(
      bsds.image_path(manual / "BSDS300", "test", image_id), gray=False)
  np.testing.assert_array_equal(example["image"], expected)
  assert not example["in_bsd68"]
  # The name tfds.load resolves.
  assert "bsds300" in tfds.list_builders()


# --- real data (RIM_DATA_DIR) -------------------------------------------------


def test_real_bsds300_has_200_train_and_100_test_images(bsds_dir):
  folder = bsds.find_bsds300(bsds_dir, download=False)
  ids = bsds.validate_bsds300(folder)
  assert (len(ids["train"]), len(ids["test"])) == (200, 100)
  assert len(list(folder.glob("images/train/*.jpg"))) == 200
  assert len(list(folder.glob("images/test/*.jpg"))) == 100
  assert bsds.images_content_sha256(folder) == bsds.IMAGES_CONTENT_SHA256


def test_real_bsd68_ids_are_test_ids(bsds_dir):
  folder = bsds.find_bsds300(bsds_dir, download=False)
  test_ids = set(bsds.read_ids(folder, "test"))
  assert set(bsds.BSD68) <= test_ids
  assert not set(bsds.BSD68) & set(bsds.read_ids(folder, "train"))


def test_real_gray_loading_is_rgb2gray_of_rgb_loading(bsds_dir):
  gray = bsds.load_images("test", gray=True, data_dir=bsds_dir,
                          subset="bsd68", download=False)
  rgb = bsds.load_images("test", gray=False, data_dir=bsds_dir,
                         subset="bsd68", download=False)
  assert list(gray) == list(bsds.BSD68)
  for image_id in bsds.BSD68:
    assert rgb[image_id].shape in ((321, 481, 3), (481, 321, 3))
    np.testing.assert_array_equal(
        gray[image_id][..., 0], metrics.rgb2gray_uint8(rgb[image_id]))


def test_real_patch_count_of_the_paper_recipe(bsds_dir):
  """Patch count of 32 x 32 patches at stride 4 on the 200 training images.

  The closed form gives 200 * 113 * 73 = 1,649,800 patches (a 481 x 321
  image has (481-32)//4+1 = 113 by (321-32)//4+1 = 73 positions); section
  4.2 says "about 400 thousand". That figure is what stride 8 gives
  (200 * 57 * 37 = 421,800), so the paper's count and its stated stride do
  not agree; we follow the stated recipe (32/4). Holding out 1000
  validation patches removes every patch that overlaps one of them, which
  leaves 1,447,120 training patches.
  """
  images = bsds.load_images("train", gray=True, data_dir=bsds_dir,
                            download=False)
  dataset = patches.PatchDataset(images, patch_size=32, stride=4,
                                 num_validation=1000)
  closed_form = patches.count_patches([im.shape for im in images.values()],
                                      32, 4)
  stride8 = patches.count_patches([im.shape for im in images.values()], 32, 8)
  report = (f"BSDS300 train, 32x32 stride 4: {dataset.num_all} patches "
            f"(closed form {closed_form}; paper: about 400 thousand, which "
            f"stride 8 would give: {stride8}); {dataset.num_validation} "
            f"validation, {dataset.num_train} training patches after "
            f"removing those overlapping validation.")
  print(report)
  assert dataset.num_all == closed_form == 200 * 113 * 73, report
  assert stride8 == 421800, report
  assert dataset.num_validation == 1000, report
  # No validation patch (nor pixel) in the training table.
  train, val = dataset.train_coordinates, dataset.validation_coordinates
  for index in np.unique(val[:, 0]):
    t = train[train[:, 0] == index][:, None, 1:]
    v = val[val[:, 0] == index][None, :, 1:]
    overlap = np.all(np.abs(t - v) < 32, axis=-1)
    assert not overlap.any(), report
