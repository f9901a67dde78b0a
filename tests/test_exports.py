"""Exports of a RIM (rim_tf.export / rim-export) run in their own runtimes,
each loaded in a fresh process without rim_tf, and give the Keras model's
image; tests of a runtime that is not installed skip."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rim_tf.inference import deploy
from rim_tf.inference import export_cli
from synthetic import export_untrained_rim

SIZES = ((37, 29), (24, 40))  # Odd and even: H and W are dynamic.
KERNEL = np.outer([1, 2, 1], [1, 2, 1]) / 16.0

# Runs in a fresh process: loads an export with its runtime only and prints
# its restorations of the inputs (JSON lists).
RUNNERS = {
    "savedmodel": """
        import tensorflow as tf
        serve = tf.saved_model.load(PATH).signatures["serving_default"]
        run = lambda feeds: serve(**{k: tf.constant(v) for k, v in
                                     feeds.items()})["restored"].numpy()
    """,
    "onnx": """
        import onnxruntime
        session = onnxruntime.InferenceSession(PATH)
        run = lambda feeds: session.run(None, feeds)[0]
    """,
    "litert": """
        from ai_edge_litert.interpreter import Interpreter
        def run(feeds):
          interpreter = Interpreter(model_path=PATH)
          details = interpreter.get_input_details()
          def name(d):
            return next(k for k in feeds if k in d["name"])
          for d in details:
            interpreter.resize_tensor_input(d["index"], feeds[name(d)].shape)
          interpreter.allocate_tensors()
          for d in details:
            interpreter.set_tensor(d["index"], feeds[name(d)])
          interpreter.invoke()
          return interpreter.get_tensor(
              interpreter.get_output_details()[0]["index"])
    """,
}
MODULES = {"savedmodel": "tensorflow", "onnx": "onnxruntime",
           "litert": "ai_edge_litert"}
CONVERTERS = {"savedmodel": "tensorflow", "onnx": "tf2onnx",
              "litert": "tensorflow"}


def _needs(fmt):
  for module in {MODULES[fmt], CONVERTERS[fmt]}:
    if importlib.util.find_spec(module) is None:
      pytest.skip(f"{module} is not installed (pip install -e \".[export]\")")


def _output_name(fmt, stem):
  return {"savedmodel": stem, "onnx": f"{stem}.onnx",
          "litert": f"{stem}.tflite"}[fmt]


def _inputs(seed=0):
  rng = np.random.default_rng(seed)
  return [{"image": rng.random((1, h, w, 1)).astype(np.float32),
           "sigma": np.array([25 / 255], np.float32)} for h, w in SIZES]


def _run_export(fmt, path, feeds_list, tmp_path):
  script = textwrap.dedent(f"""
      import json, sys
      import numpy as np
      PATH = {str(path)!r}
      """) + textwrap.dedent(RUNNERS[fmt]) + textwrap.dedent(f"""
      feeds_list = [{{k: np.array(v, np.float32) for k, v in f.items()}}
                    for f in json.load(open({str(tmp_path / 'in.json')!r}))]
      print(json.dumps([run(f).tolist() for f in feeds_list]))
      assert "rim_tf" not in sys.modules
      """)
  (tmp_path / "in.json").write_text(json.dumps(
      [{k: v.tolist() for k, v in f.items()} for f in feeds_list]))
  result = subprocess.run(
      [sys.executable, "-c", script], capture_output=True, text=True,
      timeout=600, cwd=tmp_path,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert result.returncode == 0, result.stderr[-3000:]
  return [np.array(o, np.float32) for o in
          json.loads(result.stdout.strip().splitlines()[-1])]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
  folder = tmp_path_factory.mktemp("weights")
  return {task: export_untrained_rim(folder, task, steps=2)
          for task in ("denoise", "deblur", "superres")}


def _keras_denoise(path, feeds):
  from rim_tf import pretrained  # pylint: disable=g-import-not-at-top
  from rim_tf import operators  # pylint: disable=g-import-not-at-top
  model, config = pretrained.load(str(path))
  _, final = model(feeds["image"], operator=operators.Identity(
      (None, None, 1)), sigma=feeds["sigma"], steps=config.trainer.rim_steps)
  return final.numpy()


@pytest.mark.parametrize("fmt", deploy.FORMATS)
def test_an_exported_denoiser_gives_the_keras_image_at_any_size(
    fmt, weights, tmp_path):
  _needs(fmt)
  output = tmp_path / _output_name(fmt, "rim")
  assert deploy.export(str(weights["denoise"]), fmt, output) == output
  feeds_list = _inputs()
  got = _run_export(fmt, output, feeds_list, tmp_path)
  for feeds, out in zip(feeds_list, got):
    want = _keras_denoise(weights["denoise"], feeds)
    assert out.shape == want.shape
    assert np.abs(out - want).max() < 1 / 255


@pytest.mark.parametrize("fmt", deploy.FORMATS)
def test_an_exported_flagged_gray_denoiser_reads_the_flag_of_each_image(
    fmt, tmp_path):
  _needs(fmt)
  from rim_tf import pretrained  # pylint: disable=g-import-not-at-top
  from rim_tf import operators  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  path = export_untrained_rim(tmp_path, "denoise", steps=2, name="flag",
                              overrides={"task_args.quantize": 0.5,
                                         "task_args.quantization_flag": True})
  output = deploy.export(str(path), fmt, tmp_path / _output_name(fmt, "rim"))
  images = np.random.default_rng(4).random((2, 19, 23, 1)).astype(np.float32)
  images[0] = np.round(images[0] * 255) / np.float32(255)  # 8 bit
  feeds = {"image": images, "sigma": np.array([25 / 255] * 2, np.float32)}
  got, = _run_export(fmt, output, [feeds], tmp_path)
  model, _ = pretrained.load(str(path))
  _, want = model(images, operator=operators.Identity((None, None, 1)),
                  sigma=feeds["sigma"], steps=2,
                  condition=tf.constant([[1.0], [0.0]]))
  assert np.abs(got - want.numpy()).max() < 1 / 255


def test_an_exported_deblurrer_takes_the_kernel(weights, tmp_path):
  from rim_tf.data import kernels  # pylint: disable=g-import-not-at-top
  from rim_tf.inference import engine  # pylint: disable=g-import-not-at-top
  output = deploy.export(str(weights["deblur"]), "savedmodel",
                         tmp_path / "saved")
  feeds = _inputs()[1]
  feeds["kernel"] = kernels.embed(KERNEL, 31).astype(np.float32)
  got, = _run_export("savedmodel", output, [feeds], tmp_path)
  restorer, _ = engine.Restorer.from_weights(str(weights["deblur"]))
  want = restorer.deblur(feeds["image"][0], KERNEL, 25.0)
  assert np.abs(got[0] - want).max() < 1 / 255


@pytest.mark.parametrize("cell", ["plain", "context", "flag",
                                  "flag_no_context"])
@pytest.mark.parametrize("fmt", deploy.FORMATS)
def test_an_exported_opponent_space_denoiser_takes_and_gives_rgb(
    fmt, cell, tmp_path):
  _needs(fmt)
  from rim_tf.inference import engine  # pylint: disable=g-import-not-at-top
  overrides = {"task_args.space": "opponent",
               "task_args.context": cell in ("context", "flag")}
  if cell.startswith("flag"):
    overrides.update({"task_args.quantize": 0.5,
                      "task_args.quantization_flag": True})
  path = export_untrained_rim(tmp_path, "denoise_color", steps=2,
                              overrides=overrides, name="opponent")
  output = deploy.export(str(path), fmt, tmp_path / _output_name(fmt, "rim"))
  rng = np.random.default_rng(3)
  # Two images, one sigma for both; the second 8 bit (the flag model reads
  # that off each image inside the export).
  images = rng.random((2, 37, 29, 3)).astype(np.float32)
  images[1] = np.round(images[1] * 255) / np.float32(255)
  feeds = {"image": images, "sigma": np.array([25 / 255], np.float32)}
  got, = _run_export(fmt, output, [feeds], tmp_path)
  restorer, _ = engine.Restorer.from_weights(str(path))
  assert got.shape == (2, 37, 29, 3)
  for image, out in zip(feeds["image"], got):
    assert np.abs(out - restorer.denoise(image, 25.0)).max() < 1 / 255


def test_exports_are_refused_in_one_line_where_they_cannot_be(
    weights, tmp_path, capsys):
  with pytest.raises(ValueError, match=r"exports for one of the scales it "
                     r"was trained for, 2, 3, 4: give scale, got None"):
    deploy.export(str(weights["superres"]), "onnx", tmp_path / "sr.onnx")
  with pytest.raises(ValueError, match="scale applies to super-resolution "
                     "RIMs only"):
    deploy.export(str(weights["denoise"]), "onnx", tmp_path / "d.onnx",
                  scale=2)
  with pytest.raises(ValueError, match="format must be one of"):
    deploy.export(str(weights["denoise"]), "tfjs", tmp_path / "x")
  (tmp_path / "a_file").write_text("x")
  for argv, fragment in (
      ([str(weights["denoise"]), "--format", "onnx", "-o",
        str(tmp_path / "a_file" / "x.onnx")], "a_file is a file"),
      ([str(tmp_path / "none.weights.h5"), "--format", "onnx", "-o",
        str(tmp_path / "x.onnx")], "not found"),
      ([str(weights["denoise"]), "--format", "onnx", "-o",
        str(tmp_path / "x.onnx"), "--steps", "0"], "--steps must be >= 1")):
    assert export_cli.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rim-export: error: ")
    assert fragment in err[0], err
  assert not (tmp_path / "x.onnx").exists()


def test_rim_export_writes_and_says_where(weights, tmp_path, capsys):
  assert export_cli.main([str(weights["denoise"]), "--format", "savedmodel",
                          "-o", str(tmp_path / "out" / "saved"),
                          "--steps", "1"]) == 0
  assert capsys.readouterr().out.strip() == \
      f"wrote {tmp_path / 'out' / 'saved'}"
  assert (tmp_path / "out" / "saved" / "saved_model.pb").exists()


@pytest.mark.parametrize("imports", ["import rim_tf\nimport keras",
                                     "import rim_tf\nimport tensorflow",
                                     "import keras\nimport rim_tf"])
def test_a_keras_file_of_a_rim_loads_after_import_rim_tf_alone(
    imports, tmp_path):
  from rim_tf import model as rim_model  # pylint: disable=g-import-not-at-top
  rim = rim_model.build_rim("rim", channels=1, num_steps=2, features=8,
                            gru_features=8)
  rim.save(str(tmp_path / "rim.keras"))
  script = imports + textwrap.dedent(f"""
      import sys
      import keras
      assert "rim_tf.model" in sys.modules
      model = keras.saving.load_model({str(tmp_path / 'rim.keras')!r})
      print(type(model).__name__, model.num_steps, model.count_params())
      """)
  result = subprocess.run([sys.executable, "-c", script], capture_output=True,
                          text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.split() == ["RIM", "2", str(rim.count_params())]


def test_import_rim_tf_alone_loads_no_tensorflow():
  result = subprocess.run(
      [sys.executable, "-c", "import sys, rim_tf; "
       "print('tensorflow' in sys.modules, 'keras' in sys.modules)"],
      capture_output=True, text=True, timeout=120)
  assert result.stdout.split() == ["False", "False"], result.stderr


@pytest.mark.parametrize("fmt", ["onnx", "litert"])
def test_an_export_its_converter_cannot_make_is_refused_not_written(
    fmt, weights, tmp_path):
  # The deblurring RIM's FFT blur: tf2onnx would keep RFFT2D unconverted
  # (and write a model no runtime runs); LiteRT's converter fails.
  _needs(fmt)
  output = tmp_path / f"deblur.{fmt}"
  with pytest.raises(ValueError, match=f"cannot be exported as {fmt}"):
    deploy.export(str(weights["deblur"]), fmt, output)
  assert not output.exists()


@pytest.mark.parametrize("fmt", deploy.FORMATS)
def test_an_exported_super_resolution_rim_upscales_any_size(
    fmt, weights, tmp_path):
  _needs(fmt)
  from rim_tf.inference import engine  # pylint: disable=g-import-not-at-top
  output = tmp_path / _output_name(fmt, "sr")
  deploy.export(str(weights["superres"]), fmt, output, scale=3)
  feeds_list = [{"image": f["image"]} for f in _inputs(1)]
  got = _run_export(fmt, output, feeds_list, tmp_path)
  restorer, _ = engine.Restorer.from_weights(str(weights["superres"]))
  for feeds, out in zip(feeds_list, got):
    want = restorer.superres(feeds["image"][0], 3)
    assert out.shape == (1,) + want.shape
    assert np.abs(out[0] - want).max() < 1 / 255


def test_the_export_cli_names_the_formats_of_deploy():
  assert export_cli.FORMATS == deploy.FORMATS


def test_an_export_over_a_file_it_cannot_replace_is_one_line(
    weights, tmp_path, capsys):
  (tmp_path / "a_file").write_text("x")
  assert export_cli.main([str(weights["denoise"]), "--format", "savedmodel",
                          "-o", str(tmp_path / "a_file")]) == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert err == [f"rim-export: error: -o: {tmp_path / 'a_file'} is a file; a "
                 f"savedmodel is a folder."]
