"""`rim-restore`: restore your own images with a RIM from the command line.

  rim-restore denoise IN.png -o OUT.png --sigma 25
  rim-restore superres IN.png -o OUT.png --scale 3
  rim-restore deblur IN.png -o OUT.png --kernel K.png --sigma 7.65
  rim-restore denoise photos/ -o restored/          # every image of a folder

Reads PNG, JPEG and TIFF, 8 and 16 bits, gray and RGB, and writes the same
bit depth. Every failure is one line on stderr and a non-zero exit; an
output file is only ever replaced by a complete result.
"""

import argparse
import os
import pathlib
import sys

import numpy as np

from rim_tf import writable
from rim_tf.inference import api
from rim_tf.inference import image_files
from rim_tf.inference import tiling

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C.
_BASELINE_NAMES = {"denoise": "bm3d", "superres": "bicubic",
                   "deblur": "bm3d"}


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
  """Shows an option's default where it has one worth reading (not None,
  not a switch's True/False)."""

  def _get_help_string(self, action):
    if action.default is None or isinstance(action.default, bool):
      return action.help
    return super()._get_help_string(action)


def build_parser():
  """The argparse parser of `rim-restore` (every option shows its default)."""
  parser = argparse.ArgumentParser(
      prog="rim-restore",
      description="Restore images with a Recurrent Inference Machine "
                  "(Putzky & Welling, 2017): remove Gaussian noise, "
                  "upscale, or remove a known blur. Reads PNG, JPEG, TIFF "
                  "(8/16-bit, gray/RGB) and writes the input's bit depth. "
                  "`rim-restore demo -o demo.png` shows every shipped RIM "
                  "on photos that come with scikit-image.",
      formatter_class=_HelpFormatter)
  parser.add_argument("task", choices=api.TASKS,
                      help="what to do: denoise, superres (upscale), or "
                           "deblur (with --kernel)")
  parser.add_argument("inputs", nargs="+", metavar="INPUT",
                      help="image files and/or folders of images")
  parser.add_argument("-o", "--output", required=True,
                      help="output file (one input) or folder (several "
                           "inputs or a folder; created if missing)")
  parser.add_argument("--sigma", type=float, default=None,
                      help="denoise, deblur: noise std on the 0-255 scale "
                           "(for 16-bit images too; deblur accepts 0); "
                           "omitted: estimated from each image and reported "
                           "on stderr")
  parser.add_argument("--scale", type=int, default=None,
                      help="superres: the upscaling factor (an integer >= 2)")
  parser.add_argument("--kernel", default=None,
                      help="deblur: the blur kernel, a .npy array or a gray "
                           "PNG/TIFF image (normalised to sum 1); odd sides "
                           f"of at most {api.MAX_KERNEL}, centre in the "
                           "middle")
  parser.add_argument("--boundary", choices=api.BOUNDARIES,
                      default="circular",
                      help="deblur: how the blur treats the border: "
                           "circular (wraps around, as the benchmarks "
                           "blur) or replicate (repeats the edge pixels, "
                           "closer to a photograph)")
  parser.add_argument("--steps", type=int, default=None,
                      help="RIM steps T; omitted: the weights' own (the T "
                           "they were trained with, 20 for the 3-task RIM)")
  parser.add_argument("--weights", default=None,
                      help="a .weights.h5 file or a shipped name; omitted: "
                           "the shipped RIM for the task (denoise_color for "
                           "RGB when shipped, else denoise_gray per channel; "
                           "a gray superres RIM upscales an RGB image's "
                           "luma, its chroma bicubic)")
  colour = parser.add_mutually_exclusive_group()
  colour.add_argument("--color", dest="color", action="store_true",
                      default=None, help="treat the input as RGB (it must "
                                         "be RGB); default: from the input")
  colour.add_argument("--gray", dest="color", action="store_false",
                      help="convert an RGB input to gray first; default: "
                           "from the input")
  parser.add_argument("--compare", action="store_true",
                      help="also write the classical baseline (BM3D for "
                           "denoise, bicubic for superres, BM3D-deblurring "
                           "with a circular boundary for deblur) as "
                           "OUT_bm3d/OUT_bicubic and a side-by-side "
                           "OUT_compare.png, with PSNRs when --reference is "
                           "given")
  parser.add_argument("--reference", default=None,
                      help="clean image (one input) or folder of clean "
                           "images with the inputs' names, for the PSNRs of "
                           "--compare")
  parser.add_argument("--tile", type=int, default=tiling.DEFAULT_TILE,
                      help="tile side in input pixels: larger images are "
                           "restored in overlapping, blended tiles so "
                           "memory stays bounded")
  parser.add_argument("--overlap", type=int,
                      default=tiling.DEFAULT_OVERLAP,
                      help="minimum overlap of neighbouring tiles in input "
                           "pixels")
  parser.add_argument("--float32", action="store_true",
                      help="run the plain float32 model instead of the fast "
                           "path (bfloat16 convolutions on CPUs and GPUs "
                           "that compute them natively)")
  parser.add_argument("-q", "--quiet", action="store_true",
                      help="no progress bars (they are shown on a terminal "
                           "only)")
  return parser


class UsageError(ValueError):
  """A bad combination of arguments (exit code 2)."""


def _check_arguments(args):
  if args.task != "superres" and args.scale is not None:
    raise UsageError("--scale applies to superres only.")
  if args.task != "deblur" and (args.kernel is not None or
                                args.boundary != "circular"):
    raise UsageError("--kernel and --boundary apply to deblur only.")
  if args.task == "deblur" and args.kernel is None:
    raise UsageError("deblur needs --kernel, the blur kernel (.npy or a "
                     "gray image).")
  if args.task == "superres":
    if args.scale is None or args.scale < 2:
      raise UsageError("superres needs --scale, an integer >= 2.")
    if args.sigma is not None:
      raise UsageError("--sigma applies to denoise and deblur only.")
  elif args.sigma is not None:
    try:
      api.check_sigma(args.sigma, task=args.task)
    except ValueError as error:
      raise UsageError(f"--sigma: {error}") from None
  if args.steps is not None and args.steps < 1:
    raise UsageError(f"--steps must be >= 1, got {args.steps}.")
  if args.reference and not args.compare:
    raise UsageError("--reference is used by --compare; add --compare.")
  try:
    tiling.check_tiling(args.tile, args.overlap)
  except ValueError as error:
    raise UsageError(f"--tile / --overlap: {error}") from None


def collect_inputs(inputs):
  """The image files named by `inputs` (files as given, folders' images
  sorted); raises FileNotFoundError / ValueError for bad entries."""
  files = []
  for entry in inputs:
    path = pathlib.Path(entry)
    if path.is_dir():
      # Hidden files are no inputs (a scratch file of an interrupted
      # write among them).
      found = sorted(p for p in path.iterdir()
                     if p.is_file() and not p.name.startswith(".")
                     and image_files.is_image_file(p))
      if not found:
        raise ValueError(f"{path}: the folder holds no "
                         f"{'/'.join(image_files.SUFFIXES)} images.")
      files.extend(found)
    elif path.exists():
      files.append(path)
    else:
      raise FileNotFoundError(f"{path}: no such file or folder.")
  return files


def plan_outputs(files, output, several):
  """{input: output path}; `several` (or an existing folder) makes
  `output` a folder of files named like the inputs."""
  output = pathlib.Path(output)
  if several or output.is_dir():
    if output.exists() and not output.is_dir():
      raise UsageError(f"{output} is a file; several inputs need an output "
                       f"folder.")
    names = [f.name for f in files]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
      raise UsageError(f"several inputs are named {clashes[0]!r}; their "
                       f"outputs would overwrite each other.")
    plan = {f: output / f.name for f in files}
  else:
    plan = {files[0]: output}
  for source, target in plan.items():
    if target.exists() and os.path.samefile(source, target):
      raise UsageError(f"{target} is the input itself; choose another "
                       f"output so the input is kept.")
  return plan


def _to_gray(image):
  """RGB uint8/uint16 [H, W, 3] -> [H, W, 1] by MATLAB rgb2gray's weights."""
  from rim_tf import metrics  # pylint: disable=g-import-not-at-top
  if image.dtype == np.uint8:
    return metrics.rgb2gray_uint8(image, keepdims=True)
  gray = metrics.rgb2gray_float64(image) / 65535.0
  return api.from_float01(gray, np.uint16)[..., None]


class _Job:
  """One input file: read, check, restore, write (and compare)."""

  def __init__(self, args, source, target, reference, kernel=None):
    self.args = args
    self.source = source
    self.target = target
    self.reference = reference
    self.kernel = kernel

  def _image(self):
    image = image_files.read_image(self.source)
    if self.args.color and image.shape[-1] != 3:
      raise ValueError(f"{self.source}: --color needs an RGB image; this one "
                       f"is gray.")
    if self.args.color is False and image.shape[-1] == 3:
      image = _to_gray(image)
    return image

  def run(self, log, progress=None):
    """Restores the file; returns the output path. Raises on any error.

    Nothing is written until every result is computed, and each file is
    written atomically, so a failure leaves existing outputs untouched.
    """
    args = self.args
    image = self._image()
    image_files.check_writable(self.target, image.dtype)
    image01, dtype = api.as_float01(image)
    sigma = args.sigma
    if args.task != "superres" and sigma is None:
      # Estimated here, not in restore(), because --compare needs it too.
      sigma = api.estimate_noise_255(image01)
      log(f"{self.source}: no --sigma given; estimated noise sigma "
          f"{sigma:.2f} (0-255 scale).")
    out01 = api.restore(
        image01, args.task, sigma=sigma, scale=args.scale, steps=args.steps,
        weights=args.weights, tile=args.tile, overlap=args.overlap,
        log=lambda message: log(f"{self.source}: {message}"),
        progress=progress, kernel=self.kernel, boundary=args.boundary,
        fast=not args.float32)
    result = api.from_float01(out01, dtype)
    writes = [(self.target, result)]
    panel = None
    if args.compare and args.task == "deblur" and args.boundary != "circular":
      log(f"{self.source}: --compare: BM3D-deblurring blurs circularly; it "
          f"does not model the {args.boundary} boundary.")
    if args.compare:
      baseline_path, baseline, panel = self._compare(image, image01, sigma,
                                                     result)
      writes.append((baseline_path, baseline))
    for path, array in writes:
      image_files.write_image(path, array)
    if panel is not None:
      _write_panel(*panel)
    return self.target

  def _compare(self, image, image01, sigma, result):
    """(baseline path, baseline image, (titled images, panel path))."""
    from rim_tf import baselines  # pylint: disable=g-import-not-at-top
    args = self.args
    name = _BASELINE_NAMES[args.task]
    if args.task == "superres":
      baseline = (baselines.bicubic_upscale_uint8(image, args.scale)
                  if image.dtype == np.uint8 else api.from_float01(
                      baselines.bicubic_upscale(image01, args.scale),
                      image.dtype))
    elif args.task == "deblur":
      # BM3D-deblurring is gray: a colour image channel by channel.
      baseline = api.from_float01(np.concatenate([
          baselines.bm3d_deblur(image01[..., c], self.kernel, sigma)
          for c in range(image01.shape[-1])], axis=-1), image.dtype)
    else:
      denoise = (baselines.bm3d_denoise if image.shape[-1] == 1 else
                 baselines.cbm3d_denoise)
      baseline = api.from_float01(denoise(image01, sigma), image.dtype)
    reference = None
    if self.reference is not None:
      reference = image_files.read_image(self.reference)
      if reference.shape != result.shape or reference.dtype != result.dtype:
        raise ValueError(
            f"{self.reference}: the reference is {reference.dtype} "
            f"{reference.shape}, the result {result.dtype} {result.shape}; "
            f"they must match.")
    first = (f"input (x1/{args.scale})" if args.task == "superres"
             else "input")
    shown = [(first, image), (name, baseline), ("RIM", result)]
    if reference is not None:
      shown = [(f"{title} {_psnr(p, reference):.2f} dB"
                 if title != first or args.task != "superres" else title, p)
               for title, p in shown] + [("reference", reference)]
    stem = self.target.stem
    return (self.target.with_name(f"{stem}_{name}{self.target.suffix}"),
            baseline, (shown, self.target.with_name(f"{stem}_compare.png")))


def _psnr(estimate, reference):
  """PSNR in dB on the 0-255 scale of two images of one integer dtype."""
  from rim_tf import metrics  # pylint: disable=g-import-not-at-top
  to_255 = 255.0 / np.iinfo(reference.dtype).max
  return metrics.psnr_255(estimate.astype(np.float64) * to_255,
                          reference.astype(np.float64) * to_255)


def _write_panel(shown, path):
  """The side-by-side PNG of --compare (images shown on [0, 1])."""
  from rim_tf.inference import panels  # pylint: disable=g-import-not-at-top
  panels.example_panel(
      [(title, image.astype(np.float32) / np.iinfo(image.dtype).max)
       for title, image in shown], path)


def _references(args, plan):
  if not args.reference:
    return {source: None for source in plan}
  reference = pathlib.Path(args.reference)
  if reference.is_dir():
    refs = {source: reference / source.name for source in plan}
  elif len(plan) == 1:
    refs = {source: reference for source in plan}
  else:
    raise UsageError("with several inputs --reference must be a folder of "
                     "clean images named like the inputs.")
  missing = [str(p) for p in refs.values() if not p.is_file()]
  if missing:
    raise FileNotFoundError(f"{missing[0]}: reference image not found.")
  return refs


def load_tensorflow_quietly():
  """Imports TensorFlow and starts its devices with stderr (fd 2) muted.

  TensorFlow's C++ start-up writes lines (oneDNN, CUDA, CPU features) to
  stderr whatever TF_CPP_MIN_LOG_LEVEL says; a command whose errors are one
  line must keep them off. Python errors cannot arise in this window.
  """
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  sys.stderr.flush()
  saved = os.dup(2)
  try:
    with open(os.devnull, "w", encoding="utf-8") as devnull:
      os.dup2(devnull.fileno(), 2)
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      tf.config.list_logical_devices()
  finally:
    os.dup2(saved, 2)
    os.close(saved)


def build_demo_parser():
  """The argparse parser of `rim-restore demo`."""
  parser = argparse.ArgumentParser(
      prog="rim-restore demo",
      description="Restore crops of photos that come with scikit-image with "
                  "every shipped RIM (no data, no download) and write one "
                  "PNG: a row per model, its input, its result and the clean "
                  "crop, with their PSNRs.",
      formatter_class=_HelpFormatter)
  parser.add_argument("-o", "--output", required=True, help="the PNG to write")
  parser.add_argument("--float32", action="store_true",
                      help="run the plain float32 models instead of the "
                           "fast path")
  return parser


def demo_main(argv):
  """`rim-restore demo`; returns the exit code."""
  args = build_demo_parser().parse_args(argv)
  try:
    if not args.output.lower().endswith(".png"):
      raise ValueError(f"{args.output}: the demo writes a PNG; give a file "
                       f"name ending in .png.")
    output = writable.file(args.output)
  except ValueError as error:
    print(f"rim-restore: error: {error}", file=sys.stderr)
    return EXIT_ERROR
  load_tensorflow_quietly()
  from rim_tf.inference import demo  # pylint: disable=g-import-not-at-top
  demo.run(output, fast=not args.float32)
  print(f"wrote {output}")
  return 0


def main(argv=None):
  """Entry point of `rim-restore` and `python -m rim_tf`; returns the exit
  code (0 success, 1 a file failed, 2 bad arguments)."""
  argv = sys.argv[1:] if argv is None else list(argv)
  if argv[:1] == ["demo"]:
    return demo_main(argv[1:])
  parser = build_parser()
  args = parser.parse_args(argv)

  def fail(code, message):
    print(f"rim-restore: error: {' '.join(str(message).split())}",
          file=sys.stderr)
    return code

  try:
    _check_arguments(args)
    files = collect_inputs(args.inputs)
    several = len(files) > 1 or any(pathlib.Path(i).is_dir()
                                    for i in args.inputs)
    plan = plan_outputs(files, args.output, several)
    references = _references(args, plan)
    kernel = None
    if args.kernel is not None:
      kernel = image_files.read_kernel(args.kernel)
      try:
        kernel = api.check_kernel(kernel)
      except ValueError as error:
        raise ValueError(f"{args.kernel}: {error}") from None
  except UsageError as error:
    return fail(EXIT_USAGE, error)
  except (FileNotFoundError, ValueError) as error:
    return fail(EXIT_ERROR, error)
  if several:
    try:
      writable.folder(args.output)
    except ValueError as error:
      return fail(EXIT_ERROR, error)
  load_tensorflow_quietly()
  try:
    # Checked once, before any file is read.
    if args.weights:
      _, config = api.load_restorer(args.weights, args.steps,
                                    not args.float32)
      api.check_serves(config, args.task, args.weights)
    else:  # The gray and colour defaults share their ranges.
      from rim_tf import pretrained  # pylint: disable=g-import-not-at-top
      name = api.default_weights(args.task, 1)
      config = pretrained.config(name)
    if args.sigma is not None:
      api.check_sigma(args.sigma, config, args.weights or name, args.task)
    if args.scale is not None:
      api.check_scale(args.scale, config, args.weights or name)
  except (FileNotFoundError, ValueError) as error:
    return fail(EXIT_ERROR, error)
  import tqdm  # pylint: disable=g-import-not-at-top
  failures = restored = 0
  # Progress on a terminal only: over the images of a folder, over the
  # tiles of a single image (a large one takes minutes).
  quiet = args.quiet or not sys.stderr.isatty()
  bar = tqdm.tqdm(plan.items(), unit="image", file=sys.stderr,
                  disable=quiet or len(plan) == 1)
  tiles = None if quiet or len(plan) > 1 else tqdm.tqdm(
      unit="tile", file=sys.stderr, desc="restoring")

  def tile_progress(done, total):
    tiles.total = total
    tiles.n = done
    tiles.refresh()

  source = None
  try:
    for source, target in bar:
      job = _Job(args, source, target, references[source], kernel)
      try:
        job.run(log=lambda message: bar.write(message, file=sys.stderr),
                progress=tile_progress if tiles is not None else None)
        restored += 1
      except (OSError, ValueError) as error:
        failures += 1
        message = str(error)
        fail(EXIT_ERROR, message if str(source) in message
             else f"{source}: {message}")
  except KeyboardInterrupt:
    bar.close()
    if tiles is not None:
      tiles.close()
    return fail(EXIT_INTERRUPTED,
                f"interrupted at {source}, which was not written; "
                f"{restored} restored before it.")
  if tiles is not None:
    tiles.close()
  if len(plan) > 1:
    print(f"rim-restore: {restored} restored, {failures} failed.",
          file=sys.stderr)
  return EXIT_ERROR if failures else 0


def run():
  """Console-script wrapper: exits with `main`'s code (130 and one line on
  Ctrl-C before the first image)."""
  try:
    code = main()
  except KeyboardInterrupt:
    print("rim-restore: error: interrupted.", file=sys.stderr)
    code = EXIT_INTERRUPTED
  sys.exit(code)
