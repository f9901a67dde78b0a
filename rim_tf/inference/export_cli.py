"""`rim-export`: write a trained RIM as a SavedModel, ONNX or LiteRT model.

  rim-export denoise_gray --format onnx -o denoise_gray.onnx
  rim-export my_run.weights.h5 --format savedmodel -o exported/ --steps 5

The exported function and its inputs are described in
`rim_tf.inference.deploy`. Every failure is one line on stderr.
"""

import argparse
import os
import sys

from rim_tf import writable

FORMATS = ("savedmodel", "onnx", "litert")  # `rim_tf.inference.deploy.FORMATS`


def build_parser():
  parser = argparse.ArgumentParser(
      prog="rim-export",
      description="Export a RIM (a shipped name or a .weights.h5 file) for "
                  "runtimes without rim_tf: TF SavedModel, ONNX (onnxruntime) "
                  "or LiteRT (TFLite).")
  parser.add_argument("weights", metavar="NAME|PATH",
                      help="a shipped name (e.g. denoise_gray) or a "
                           ".weights.h5 file with its .json beside it")
  parser.add_argument("--format", required=True, choices=FORMATS,
                      help="savedmodel (a folder), onnx or litert (a file)")
  parser.add_argument("-o", "--output", required=True,
                      help="the folder (savedmodel) or file to write")
  parser.add_argument("--scale", type=int, default=None,
                      help="super-resolution RIMs: the factor of the export "
                           "(one the RIM was trained for)")
  parser.add_argument("--steps", type=int, default=None,
                      help="RIM steps T of the export; omitted: the weights' "
                           "own")
  return parser


def main(argv=None):
  args = build_parser().parse_args(argv)

  def fail(message):
    print(f"rim-export: error: {' '.join(str(message).split())}",
          file=sys.stderr)
    return 1

  if args.steps is not None and args.steps < 1:
    return fail(f"--steps must be >= 1, got {args.steps}.")
  output = os.path.expanduser(args.output)
  try:
    if args.format == "savedmodel":
      if os.path.isfile(output):
        raise ValueError(f"{output} is a file; a savedmodel is a folder.")
      writable.folder(os.path.dirname(os.path.abspath(output)))
    else:
      writable.file(output)
  except ValueError as error:
    return fail(f"-o: {error}")
  # TensorFlow only now, quietly: the checks above answer without it.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  from rim_tf.inference import cli  # pylint: disable=g-import-not-at-top
  cli.load_tensorflow_quietly()
  from rim_tf.inference import deploy  # pylint: disable=g-import-not-at-top
  try:
    path = deploy.export(args.weights, args.format, output, args.steps,
                         args.scale)
  except ImportError as error:
    return fail(f"the {args.format} converter is not installed ({error}); "
                f"pip install -e \".[export]\".")
  except (OSError, ValueError) as error:
    return fail(error)
  except Exception as error:  # pylint: disable=broad-except
    # A converter's or TensorFlow's own failure: its first line.
    first = str(error).strip().splitlines()[0][:200] if str(error) else ""
    return fail(f"the {args.format} export failed ({type(error).__name__}: "
                f"{first}).")
  print(f"wrote {path}")
  return 0


def run():
  sys.exit(main())
