"""Image files a user restores: PNG, JPEG and TIFF, 8 or 16 bits, gray or RGB.

`read_image(path)` returns the stored samples unchanged: uint8 or uint16
[H, W, C] with C = 1 (gray) or 3 (RGB). `write_image(path, image)` writes
such an array in the format its suffix names, atomically: the file appears
whole or not at all, so a failed run never leaves a broken or half-replaced
output. Every problem is an `ImageFileError` (or FileNotFoundError) whose
message is one line naming the file.
"""

import os
import pathlib
import tempfile

import numpy as np
from PIL import Image
import png
import tifffile

from rim_tf import writable

SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageFileError(ValueError):
  """An image file that cannot be read or written as asked."""


def _one_line(error):
  return " ".join(str(error).split()) or type(error).__name__


def is_image_file(path):
  """True if `path` has a suffix this module reads (case-insensitive)."""
  return pathlib.Path(path).suffix.lower() in SUFFIXES


def _png_bit_depth(path):
  """The bit depth in a PNG's IHDR chunk (bytes 24 of the file)."""
  with open(path, "rb") as f:
    head = f.read(26)
  if len(head) < 26 or not head.startswith(_PNG_SIGNATURE):
    raise ImageFileError(f"{path}: not a PNG file (bad signature or header).")
  return head[24]


def _read_png16(path):
  # Pillow narrows 16-bit RGB PNGs to 8 bits; pypng keeps every bit.
  width, height, rows, info = png.Reader(filename=str(path)).asDirect()
  array = np.vstack([np.asarray(row, np.uint16) for row in rows])
  return array.reshape(height, width, info["planes"])


def _read_pillow(path):
  with Image.open(path) as image:
    image.load()  # Decodes now: a truncated file fails here, not later.
    if image.mode == "P":
      image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "1":
      image = image.convert("L")
    elif image.mode in ("I;16", "I;16L", "I;16B"):
      return np.asarray(image).astype(np.uint16)
    elif image.mode in ("I", "F"):
      raise ImageFileError(
          f"{path}: {image.mode!r} images (32-bit integer or float samples) "
          f"are not supported; save it with 8 or 16 bits per sample.")
    return np.asarray(image)


def read_image(path):
  """The samples of an image file: uint8 or uint16 [H, W, C], C in {1, 3}.

  Raises:
    FileNotFoundError: `path` does not exist.
    ImageFileError: not a file of a supported format, truncated or corrupt,
      with 2 or 4 channels (alpha, CMYK), or with samples other than 8- or
      16-bit unsigned integers.
  """
  path = pathlib.Path(path)
  if not path.exists():
    raise FileNotFoundError(f"{path}: no such file.")
  if not path.is_file():
    raise ImageFileError(f"{path}: not a file.")
  suffix = path.suffix.lower()
  if suffix not in SUFFIXES:
    raise ImageFileError(f"{path}: unsupported file type {suffix!r}; "
                         f"expected one of {', '.join(SUFFIXES)}.")
  try:
    if suffix in (".tif", ".tiff"):
      array = tifffile.imread(path)
    elif suffix == ".png" and _png_bit_depth(path) == 16:
      array = _read_png16(path)
    else:
      array = _read_pillow(path)
  except (ImageFileError, FileNotFoundError):
    raise
  except Exception as error:  # pylint: disable=broad-except
    # Decoders raise many types for damaged files (OSError, SyntaxError,
    # zlib.error, png.FormatError, struct.error, ValueError, ...).
    raise ImageFileError(f"{path}: cannot decode the image "
                         f"({_one_line(error)}).") from None
  return _checked_samples(array, path)


def _checked_samples(array, path):
  array = np.asarray(array)
  if array.ndim == 2:
    array = array[..., None]
  if array.ndim != 3:
    raise ImageFileError(f"{path}: expected a single gray or RGB image, got "
                         f"an array of shape {array.shape} (several pages or "
                         f"frames?).")
  channels = array.shape[-1]
  if channels not in (1, 3):
    what = {2: "gray + alpha", 4: "RGBA or CMYK"}.get(channels, "")
    raise ImageFileError(
        f"{path}: has {channels} channels{f' ({what})' if what else ''}; "
        f"only gray and RGB images are supported (drop the alpha channel "
        f"first).")
  if array.dtype not in (np.uint8, np.uint16):
    raise ImageFileError(f"{path}: samples are {array.dtype}; only 8- and "
                         f"16-bit unsigned integer images are supported.")
  return np.ascontiguousarray(array)


KERNEL_SUFFIXES = (".npy",) + SUFFIXES


def read_kernel(path):
  """A blur kernel file as float64 [kh, kw] summing to 1: a .npy array (as
  saved; `rim_tf.inference.api.check_kernel` checks it) or a gray image
  (PNG, JPEG, TIFF; normalised to sum 1).

  Raises:
    ImageFileError: one line naming the file (missing, unreadable, an RGB
      image, an all-zero image, a .npy that is not a numeric array).
  """
  path = pathlib.Path(path)
  suffix = path.suffix.lower()
  if suffix not in KERNEL_SUFFIXES:
    raise ImageFileError(f"{path}: unsupported kernel file {suffix!r}; "
                         f"expected one of {', '.join(KERNEL_SUFFIXES)}.")
  if not path.is_file():
    raise ImageFileError(f"{path}: no such kernel file.")
  if suffix == ".npy":
    try:
      kernel = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
      raise ImageFileError(f"{path}: not a readable .npy array "
                           f"({_one_line(error) or 'empty file'}).") from None
    if not isinstance(kernel, np.ndarray):  # A .npz under a .npy name.
      kernel.close()
      raise ImageFileError(f"{path}: holds several arrays (.npz); a kernel "
                           f"file holds one.")
    if not np.issubdtype(kernel.dtype, np.number) or \
        np.issubdtype(kernel.dtype, np.complexfloating):
      raise ImageFileError(f"{path}: the kernel must be a real numeric "
                           f"array, got dtype {kernel.dtype}.")
    return kernel.astype(np.float64)
  image = read_image(path)
  if image.shape[-1] != 1:
    raise ImageFileError(f"{path}: a kernel image must be gray, this one is "
                         f"RGB.")
  kernel = image[..., 0].astype(np.float64)
  if kernel.sum() <= 0:
    raise ImageFileError(f"{path}: the kernel image is all black (zero).")
  return kernel / kernel.sum()


def check_writable(path, dtype):
  """Raises ImageFileError if `dtype` samples cannot be stored at `path`.

  Called before any work is done, so a run fails before it computes.
  """
  path = pathlib.Path(path)
  suffix = path.suffix.lower()
  if suffix not in SUFFIXES:
    raise ImageFileError(f"{path}: unsupported output type {suffix!r}; "
                         f"expected one of {', '.join(SUFFIXES)}.")
  dtype = np.dtype(dtype)
  if dtype not in (np.uint8, np.uint16):
    raise ImageFileError(f"{path}: can only write uint8 or uint16 samples, "
                         f"got {dtype}.")
  if dtype == np.uint16 and suffix in (".jpg", ".jpeg"):
    raise ImageFileError(f"{path}: JPEG holds 8 bits per sample; write a "
                         f"16-bit result as .png or .tif.")
  if not path.parent.is_dir():
    raise ImageFileError(f"{path}: the folder {path.parent} does not exist.")
  try:
    writable.folder(path.parent)
  except ValueError as error:
    raise ImageFileError(f"{path}: {error}") from None


def _write(path, suffix, image):
  if suffix in (".tif", ".tiff"):
    tifffile.imwrite(path, image if image.shape[-1] == 3 else image[..., 0],
                     photometric="rgb" if image.shape[-1] == 3 else
                     "minisblack")
  elif suffix == ".png" and image.dtype == np.uint16:
    height, width, channels = image.shape
    with open(path, "wb") as f:
      png.Writer(width, height, greyscale=channels == 1, bitdepth=16).write(
          f, image.reshape(height, width * channels))
  else:
    pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    options = {"quality": 95} if suffix in (".jpg", ".jpeg") else {}
    pil.save(path, format="JPEG" if suffix in (".jpg", ".jpeg") else "PNG",
             **options)


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


def write_image(path, image):
  """Writes uint8 or uint16 [H, W, C] (C in {1, 3}) to `path`, atomically.

  The format follows the suffix (.png, .jpg/.jpeg, .tif/.tiff); JPEG is
  written at quality 95 and refuses 16-bit samples. The image goes to a
  temporary file in the same folder that replaces `path` only once complete.
  """
  path = pathlib.Path(path)
  image = np.asarray(image)
  check_writable(path, image.dtype)
  if image.ndim != 3 or image.shape[-1] not in (1, 3):
    raise ImageFileError(f"{path}: expected an image [H, W, 1] or [H, W, 3], "
                         f"got shape {image.shape}.")
  suffix = path.suffix.lower()
  handle, scratch = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix,
                                     dir=path.parent)
  os.close(handle)
  try:
    _write(scratch, suffix, np.ascontiguousarray(image))
    os.chmod(scratch, 0o666 & ~_umask())  # mkstemp made it owner-only.
    os.replace(scratch, path)
  except BaseException as error:  # pylint: disable=broad-except
    # Ctrl-C too: no half-written scratch file stays behind.
    if os.path.exists(scratch):
      os.remove(scratch)
    if isinstance(error, ImageFileError) or not isinstance(error, Exception):
      raise
    raise ImageFileError(f"{path}: cannot write the image "
                         f"({_one_line(error)}).") from None
  return path
