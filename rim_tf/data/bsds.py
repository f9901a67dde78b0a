"""BSDS300: find, download, validate and load (paper section 4.2).

The data is looked for in the official layout

    <data_dir>/BSDS300/images/train/<id>.jpg   200 training images
    <data_dir>/BSDS300/images/test/<id>.jpg    100 test images
    <data_dir>/BSDS300/iids_train.txt          one id per line
    <data_dir>/BSDS300/iids_test.txt

where <data_dir> is, in this order of precedence, the `data_dir` argument
(the binaries' --data_dir flag), the RIM_DATA_DIR environment variable, or
`data/` relative to the working directory. `data_dir` may also be the
BSDS300 folder itself, or the official archive BSDS300-images.tgz (or a folder
holding it): the archive is checked and extracted next to itself on first use.
When nothing is there, the official archive is downloaded (if the network
allows) and verified against its SHA-256; otherwise `DataNotFoundError` says
exactly where to put the data.

Checksums. `OFFICIAL_SHA256` is the SHA-256 of BSDS300-images.tgz as published
in other projects' download scripts (Berkeley itself publishes none). We could
not download the archive here to confirm it, but the same scripts publish a
checksum of the 300 JPEGs' archive paths and bytes (`IMAGES_CONTENT_SHA256`,
see `images_content_sha256`) and that one matches the project's own copy of
BSDS300 exactly, so both come from the genuine archive. A downloaded archive
must match `OFFICIAL_SHA256`; an archive the user puts in place is accepted if
it opens as a gzip tar with the official layout (200 + 100 JPEGs, both id
files), and its content checksum is logged if it differs.

Images are decoded with Pillow (libjpeg's accurate integer DCT, the decoder
MATLAB's imread uses; TensorFlow's default `decode_jpeg` differs by up to 17
grey levels) and returned as uint8 [H, W, C]; gray images are MATLAB
`rgb2gray` of the RGB image (`rim_tf.metrics.rgb2gray_uint8`).
"""

import hashlib
import logging
import os
import pathlib
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib

import numpy as np
from PIL import Image

from rim_tf import metrics

OFFICIAL_URL = ("https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/"
                "bsds/BSDS300-images.tgz")
OFFICIAL_SHA256 = (
    "a5f7d0e49fe135c75518a3543ced24470156fd69305ae77845dff2a5138652b4")
# SHA-256 over, for each of the 300 JPEGs sorted by archive path
# ("BSDS300/images/test/100075.jpg", ...): path (utf-8), a zero byte, the file.
IMAGES_CONTENT_SHA256 = (
    "44584b06a9d2f22028d345f087f99d2428a5b6c410e8bede069770a60a8a24ef")
ARCHIVE_NAME = "BSDS300-images.tgz"
FOLDER_NAME = "BSDS300"
ENV_VAR = "RIM_DATA_DIR"
DEFAULT_DATA_DIR = "data"
SPLITS = ("train", "test")
NUM_IMAGES = {"train": 200, "test": 100}
DOWNLOAD_TIMEOUT_S = 60.0

_BSD68_FILE = pathlib.Path(__file__).with_name("bsd68.txt")


class DataNotFoundError(Exception):
  """The data is missing or unusable; the message says what to do.

  Binaries print `str(error)` and exit without a traceback. Corrupt archives
  and wrong layouts raise the subclass `CorruptDataError`.
  """


class CorruptDataError(DataNotFoundError):
  """The data is there but damaged or not in the official layout."""


def _read_bsd68():
  lines = _BSD68_FILE.read_text(encoding="utf-8").splitlines()
  ids = tuple(line.strip() for line in lines
              if line.strip() and not line.startswith("#"))
  if len(ids) != 68:
    raise RuntimeError(f"{_BSD68_FILE} must list 68 ids, found {len(ids)}.")
  return ids


# The 68 test ids of Roth & Black (2005), in the order of the standard
# BSD68 test set (test001.png ... test068.png).
BSD68 = _read_bsd68()


def _placement_help(root):
  root = pathlib.Path(root).absolute()
  return (
      f"Put BSDS300 in {root} in one of these two forms:\n"
      f"  {root / FOLDER_NAME}/images/train/*.jpg  (200 images)\n"
      f"  {root / FOLDER_NAME}/images/test/*.jpg   (100 images)\n"
      f"  {root / FOLDER_NAME}/iids_train.txt, iids_test.txt\n"
      f"or just the official archive as {root / ARCHIVE_NAME} (it is checked "
      f"and extracted on first use). To get it:\n"
      f"  mkdir -p {root} && curl -L -o {root / ARCHIVE_NAME} {OFFICIAL_URL}\n"
      f"Or point --data_dir or {ENV_VAR} at the folder that contains "
      f"{FOLDER_NAME}/ (or {ARCHIVE_NAME}).")


def resolve_data_dir(data_dir=None):
  """The data folder: `data_dir` if given, else $RIM_DATA_DIR, else data/."""
  if data_dir:
    return pathlib.Path(data_dir).expanduser()
  env = os.environ.get(ENV_VAR)
  if env:
    return pathlib.Path(env).expanduser()
  return pathlib.Path(DEFAULT_DATA_DIR)


def _looks_like_bsds_folder(path):
  return (path / "images").is_dir() or any(
      (path / f"iids_{split}.txt").exists() for split in SPLITS)


def _parse_ids(path):
  try:
    text = path.read_text(encoding="utf-8")
  except (OSError, UnicodeDecodeError) as error:
    raise CorruptDataError(f"Cannot read {path}: {error}.") from None
  ids = text.split()
  if not ids or not all(i.isdigit() for i in ids):
    raise CorruptDataError(
        f"{path} must list numeric image ids, one per line; got "
        f"{text[:60]!r}.")
  return ids


def read_ids(bsds_dir, split):
  """Image ids of `split` ("train" or "test") from iids_<split>.txt, sorted."""
  if split not in SPLITS:
    raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
  path = pathlib.Path(bsds_dir) / f"iids_{split}.txt"
  if not path.is_file():
    raise CorruptDataError(
        f"BSDS300 folder {pathlib.Path(bsds_dir).absolute()} has no "
        f"iids_{split}.txt. It must be the official layout (images/train, "
        f"images/test, iids_train.txt, iids_test.txt); re-extract "
        f"{ARCHIVE_NAME} there.")
  return tuple(sorted(_parse_ids(path), key=int))


def image_path(bsds_dir, split, image_id):
  """Path of the JPEG of `image_id` in `split`."""
  return pathlib.Path(bsds_dir) / "images" / split / f"{image_id}.jpg"


def validate_bsds300(bsds_dir):
  """Checks the official layout; returns {split: ids}.

  Raises:
    CorruptDataError: naming the first problem found (missing folder or id
      file, wrong image count, an id without its JPEG, ...).
  """
  bsds_dir = pathlib.Path(bsds_dir)
  where = bsds_dir.absolute()
  ids = {}
  for split in SPLITS:
    folder = bsds_dir / "images" / split
    if not folder.is_dir():
      raise CorruptDataError(
          f"BSDS300 folder {where} has no images/{split}/ folder. Expected "
          f"the official layout: images/train/*.jpg (200), images/test/*.jpg "
          f"(100), iids_train.txt, iids_test.txt.")
    ids[split] = read_ids(bsds_dir, split)
    jpegs = sorted(p.stem for p in folder.glob("*.jpg"))
    expected = NUM_IMAGES[split]
    if len(ids[split]) != expected or len(set(ids[split])) != expected:
      raise CorruptDataError(
          f"{where / f'iids_{split}.txt'} lists {len(set(ids[split]))} "
          f"distinct ids; BSDS300 has {expected} {split} images.")
    if len(jpegs) != expected:
      raise CorruptDataError(
          f"{where / 'images' / split} holds {len(jpegs)} .jpg files; "
          f"BSDS300 has {expected} {split} images. Re-extract "
          f"{ARCHIVE_NAME}.")
    missing = sorted(set(ids[split]) - set(jpegs))
    if missing:
      raise CorruptDataError(
          f"{where / 'images' / split} lacks the images of ids "
          f"{missing[:5]} listed in iids_{split}.txt.")
  overlap = set(ids["train"]) & set(ids["test"])
  if overlap:
    raise CorruptDataError(
        f"{where}: ids {sorted(overlap)[:5]} are in both splits.")
  return ids


def _sha256(path):
  digest = hashlib.sha256()
  with open(path, "rb") as stream:
    for chunk in iter(lambda: stream.read(1 << 20), b""):
      digest.update(chunk)
  return digest.hexdigest()


def images_content_sha256(bsds_dir):
  """`IMAGES_CONTENT_SHA256`-style checksum of the 300 JPEGs of a folder."""
  bsds_dir = pathlib.Path(bsds_dir)
  digest = hashlib.sha256()
  for path in sorted(bsds_dir.glob("images/*/*.jpg"),
                     key=lambda p: p.relative_to(bsds_dir).as_posix()):
    name = f"{FOLDER_NAME}/{path.relative_to(bsds_dir).as_posix()}"
    digest.update(name.encode("utf-8") + b"\0")
    digest.update(path.read_bytes())
  return digest.hexdigest()


def check_archive(archive):
  """Opens `archive` as a gzip tar and checks the official BSDS300 layout.

  Returns:
    The content checksum (see `IMAGES_CONTENT_SHA256`) of its 300 JPEGs.

  Raises:
    CorruptDataError: if it is not a readable gzip tar (truncated, corrupt)
      or lacks the official layout.
  """
  archive = pathlib.Path(archive)
  fix = (f"Delete it and download the official archive again:\n  curl -L -o "
         f"{archive.absolute()} {OFFICIAL_URL}")
  counts = {split: 0 for split in SPLITS}
  id_files = set()
  jpegs = []
  try:
    with tarfile.open(archive, "r:gz") as tar:
      for member in tar:
        if (member.issym() or member.islnk() or
            member.name.startswith("/") or ".." in member.name.split("/")):
          raise CorruptDataError(
              f"{archive.absolute()} contains the unsafe member "
              f"{member.name!r}; refusing to extract it. {fix}")
        if not member.isfile():
          continue
        name = member.name[2:] if member.name.startswith("./") else member.name
        parts = name.split("/")
        if (len(parts) == 4 and parts[:2] == [FOLDER_NAME, "images"] and
            parts[2] in SPLITS and parts[3].endswith(".jpg")):
          counts[parts[2]] += 1
          jpegs.append((name, tar.extractfile(member).read()))
        elif len(parts) == 2 and parts[0] == FOLDER_NAME and parts[1] in (
            "iids_train.txt", "iids_test.txt"):
          id_files.add(parts[1])
  except CorruptDataError:
    raise
  except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
    raise CorruptDataError(
        f"{archive.absolute()} is not a readable gzip tar archive "
        f"(truncated or corrupt: {error}). {fix}") from None
  problems = [f"{counts[s]} JPEGs in {FOLDER_NAME}/images/{s}/ (expected "
              f"{NUM_IMAGES[s]})" for s in SPLITS if counts[s] != NUM_IMAGES[s]]
  problems += [f"no {FOLDER_NAME}/{name}" for name in
               ("iids_train.txt", "iids_test.txt") if name not in id_files]
  if problems:
    raise CorruptDataError(
        f"{archive.absolute()} does not have the BSDS300 layout: "
        f"{'; '.join(problems)}. {fix}")
  digest = hashlib.sha256()
  for name, data in sorted(jpegs):
    digest.update(name.encode("utf-8") + b"\0")
    digest.update(data)
  return digest.hexdigest()


def extract_archive(archive):
  """Checks `archive` and extracts it next to itself; returns the BSDS300 dir.

  Extraction goes to a temporary folder first and is renamed into place, so
  an interrupted extraction never leaves a half-filled BSDS300/.
  """
  archive = pathlib.Path(archive)
  content = check_archive(archive)
  if content != IMAGES_CONTENT_SHA256:
    logging.warning(
        "%s has the BSDS300 layout but its images differ from the official "
        "archive (content sha256 %s); using it anyway.", archive, content)
  root = archive.parent
  target = root / FOLDER_NAME
  try:
    scratch = pathlib.Path(tempfile.mkdtemp(prefix=".BSDS300-", dir=root))
  except OSError as error:
    raise DataNotFoundError(
        f"Cannot extract {archive.absolute()}: {error}. Extract it yourself "
        f"(tar xzf {ARCHIVE_NAME}) in a writable folder and point --data_dir "
        f"or {ENV_VAR} there.") from None
  try:
    with tarfile.open(archive, "r:gz") as tar:
      if hasattr(tarfile, "data_filter"):
        tar.extractall(scratch, filter="data")
      else:  # Python without extraction filters: members checked above.
        tar.extractall(scratch)
    (scratch / FOLDER_NAME).rename(target)
  except OSError as error:
    raise DataNotFoundError(
        f"Cannot extract {archive.absolute()} to {target.absolute()}: "
        f"{error}.") from None
  finally:
    shutil.rmtree(scratch, ignore_errors=True)
  validate_bsds300(target)
  return target


def download_archive(destination, url=OFFICIAL_URL, sha256=OFFICIAL_SHA256,
                     timeout=DOWNLOAD_TIMEOUT_S):
  """Downloads the archive to `destination` and verifies its SHA-256.

  The bytes go to `<destination>.part` and are renamed only once the
  checksum matches, so a failed download leaves nothing behind.

  Args:
    destination: path of the .tgz to write.
    url: where to fetch it (`file://` URLs work too).
    sha256: expected hex digest, or None to skip the check.
    timeout: seconds before a stalled connection fails.

  Raises:
    DataNotFoundError: if the download fails (no network, ...).
    CorruptDataError: if the checksum does not match.
  """
  destination = pathlib.Path(destination)
  partial = destination.with_name(destination.name + ".part")
  logging.info("Downloading %s to %s", url, destination)
  try:
    with urllib.request.urlopen(url, timeout=timeout) as response:
      destination.parent.mkdir(parents=True, exist_ok=True)
      with open(partial, "wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)
  except (urllib.error.URLError, OSError, ValueError) as error:
    partial.unlink(missing_ok=True)
    reason = getattr(error, "reason", error)
    raise DataNotFoundError(
        f"BSDS300 is not in {destination.parent.absolute()} and downloading "
        f"{url} failed ({reason}).\n"
        f"{_placement_help(destination.parent)}") from None
  got = _sha256(partial)
  if sha256 is not None and got != sha256.lower():
    partial.unlink(missing_ok=True)
    raise CorruptDataError(
        f"The archive downloaded from {url} has SHA-256 {got}, expected "
        f"{sha256.lower()}; it was deleted. Try again, or download it "
        f"yourself.\n{_placement_help(destination.parent)}")
  partial.rename(destination)
  return destination


def find_bsds300(data_dir=None, download=True, url=OFFICIAL_URL,
                 sha256=OFFICIAL_SHA256, timeout=DOWNLOAD_TIMEOUT_S):
  """Locates BSDS300 and returns the path of its validated BSDS300 folder.

  Args:
    data_dir: folder containing BSDS300/ or BSDS300-images.tgz, the BSDS300
      folder itself, or the .tgz; None means $RIM_DATA_DIR, then data/.
    download: whether to fetch the archive when nothing is found.
    url, sha256, timeout: see `download_archive`.

  Raises:
    DataNotFoundError: nothing found and no download possible; the message
      says where to put the data.
    CorruptDataError: a damaged archive or a folder in the wrong layout.
  """
  given = resolve_data_dir(data_dir)
  if given.is_file():
    if not given.name.endswith((".tgz", ".tar.gz")):
      raise CorruptDataError(
          f"{given.absolute()} is a file but not the {ARCHIVE_NAME} archive. "
          f"{_placement_help(given.parent)}")
    existing = given.parent / FOLDER_NAME
    if existing.is_dir():
      validate_bsds300(existing)
      return existing
    return extract_archive(given)
  if given.is_dir() and (given.name == FOLDER_NAME or
                         _looks_like_bsds_folder(given)):
    validate_bsds300(given)
    return given
  folder = given / FOLDER_NAME
  archive = given / ARCHIVE_NAME
  if folder.exists():
    try:
      validate_bsds300(folder)
    except CorruptDataError as error:
      if archive.is_file():
        raise CorruptDataError(
            f"{error}\n{archive.absolute()} is also there: delete "
            f"{folder.absolute()} to have it extracted again.") from None
      raise
    return folder
  if archive.is_file():
    return extract_archive(archive)
  if not download:
    if data_dir:
      source = "data_dir / --data_dir"
    elif os.environ.get(ENV_VAR):
      source = f"${ENV_VAR}"
    else:
      source = f"the default {DEFAULT_DATA_DIR}/; set --data_dir or ${ENV_VAR}"
    raise DataNotFoundError(
        f"BSDS300 not found in {given.absolute()} ({source}).\n"
        f"{_placement_help(given)}")
  download_archive(archive, url=url, sha256=sha256, timeout=timeout)
  return extract_archive(archive)


def load_image(path, gray):
  """Decodes a JPEG/PNG to uint8 [H, W, C]: C = 1 if `gray` else 3.

  Gray is MATLAB rgb2gray of the RGB decode (`metrics.rgb2gray_uint8`); a
  gray file is returned as is (gray) or replicated to three channels (RGB).
  """
  path = pathlib.Path(path)
  try:
    with Image.open(path) as image:
      image.load()
      mode = image.mode
      array = np.asarray(image if mode in ("L", "RGB") else
                         image.convert("RGB"))
  except (OSError, ValueError) as error:
    raise CorruptDataError(f"Cannot decode image {path}: {error}.") from None
  if array.ndim == 2:
    return array[..., None] if gray else np.repeat(array[..., None], 3, -1)
  if gray:
    return metrics.rgb2gray_uint8(array, keepdims=True)
  return np.ascontiguousarray(array)


def load_images(split, gray=True, data_dir=None, subset=None, download=True):
  """Decodes the images of a split into memory.

  Args:
    split: "train" or "test".
    gray: MATLAB-rgb2gray gray images [H, W, 1] if True, else RGB [H, W, 3].
    data_dir: see `find_bsds300`.
    subset: None for the whole split, "bsd68" for the 68 test images of
      Roth & Black (in BSD68 order), or an iterable of ids.
    download: see `find_bsds300`.

  Returns:
    dict id -> uint8 [H, W, C], ordered (by id, or in BSD68 order).
  """
  bsds_dir = find_bsds300(data_dir, download=download)
  ids = read_ids(bsds_dir, split)
  if subset is None:
    chosen = ids
  elif isinstance(subset, str):
    if subset.lower() != "bsd68":
      raise ValueError(f"subset must be None, 'bsd68' or a list of ids, got "
                       f"{subset!r}.")
    if split != "test":
      raise ValueError(f"subset 'bsd68' is part of the test split, got "
                       f"split={split!r}.")
    chosen = BSD68
  else:
    chosen = tuple(str(i) for i in subset)
  unknown = sorted(set(chosen) - set(ids))
  if unknown:
    raise ValueError(f"ids {unknown[:5]} are not in the BSDS300 {split} split.")
  return {i: load_image(image_path(bsds_dir, split, i), gray) for i in chosen}
