"""Tests of `rim-restore` (rim_tf.inference.cli): files in, files out, one-line errors.

In-process calls of `cli.main` with tiny untrained RIMs; two subprocess
calls check the installed entry points.
"""

import fcntl
import os
import pathlib
import struct
import subprocess
import sys
import termios

import numpy as np
from PIL import Image
import pytest

import rim_tf
from rim_tf.inference import api
from rim_tf.inference import cli
from rim_tf.inference import image_files
from synthetic import export_untrained_rim
from synthetic import smooth_image


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
  folder = tmp_path_factory.mktemp("weights")
  return {task: str(export_untrained_rim(folder, task, steps=2))
          for task in ("denoise", "superres", "deblur")}


def _noisy(channels=1, size=(40, 36), seed=0, dtype=np.uint8):
  image = smooth_image(*size, channels, seed=seed)
  rng = np.random.default_rng(seed)
  noisy = np.clip(image + 25 * rng.standard_normal(image.shape), 0, 255)
  if dtype == np.uint16:
    return np.round(noisy * 257).astype(np.uint16)
  return np.round(noisy).astype(np.uint8)


def _run(capsys, *argv):
  code = cli.main([str(a) for a in argv])
  captured = capsys.readouterr()
  return code, captured.err


def _one_line_error(code, err, expected_code, fragment):
  assert code == expected_code, err
  lines = [line for line in err.splitlines() if line.strip()]
  assert len(lines) == 1 and lines[0].startswith("rim-restore: error: "), err
  assert fragment in lines[0], err


def test_denoise_writes_what_the_python_api_returns(tmp_path, capsys,
                                                    weights):
  noisy = _noisy()
  image_files.write_image(tmp_path / "in.png", noisy)
  code, err = _run(capsys, "denoise", tmp_path / "in.png", "-o",
                   tmp_path / "out.png", "--sigma", 25, "--weights",
                   weights["denoise"])
  assert code == 0, err
  out = image_files.read_image(tmp_path / "out.png")
  expected = rim_tf.restore(noisy, sigma=25, weights=weights["denoise"])
  np.testing.assert_array_equal(out, expected)


def test_16_bit_rgb_tiff_comes_back_16_bit_rgb(tmp_path, capsys, weights):
  image_files.write_image(tmp_path / "in.tif", _noisy(3, dtype=np.uint16))
  code, err = _run(capsys, "denoise", tmp_path / "in.tif", "-o",
                   tmp_path / "out.tif", "--sigma", 20, "--weights",
                   weights["denoise"])
  assert code == 0, err
  assert "channels one by one" in err
  out = image_files.read_image(tmp_path / "out.tif")
  assert out.dtype == np.uint16 and out.shape == (40, 36, 3)


def test_superres_upscales_by_the_scale(tmp_path, capsys, weights):
  image_files.write_image(tmp_path / "lr.jpg", _noisy(3, size=(20, 24)))
  code, err = _run(capsys, "superres", tmp_path / "lr.jpg", "-o",
                   tmp_path / "hr.png", "--scale", 3, "--weights",
                   weights["superres"], "--steps", 1)
  assert code == 0, err
  assert image_files.read_image(tmp_path / "hr.png").shape == (60, 72, 3)


def test_a_folder_restores_every_image_into_the_output_folder(
    tmp_path, capsys, weights):
  source = tmp_path / "in"
  source.mkdir()
  for i, suffix in enumerate([".png", ".jpg", ".tif"]):
    image_files.write_image(source / f"img{i}{suffix}", _noisy(seed=i))
  (source / "notes.txt").write_text("not an image")
  # A hidden file (a scratch file an interrupted write left) is no input.
  image_files.write_image(source / ".img0.png.tmp.png", _noisy())
  code, err = _run(capsys, "denoise", source, "-o", tmp_path / "out",
                   "--sigma", 25, "--weights", weights["denoise"])
  assert code == 0, err
  assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
      "img0.png", "img1.jpg", "img2.tif"]
  assert "3/3" not in err  # No progress bar without a terminal.
  assert err.rstrip().endswith("rim-restore: 3 restored, 0 failed.")


def test_omitted_sigma_is_estimated_and_reported(tmp_path, capsys, weights):
  image_files.write_image(tmp_path / "in.png", _noisy())
  code, err = _run(capsys, "denoise", tmp_path / "in.png", "-o",
                   tmp_path / "out.png", "--weights", weights["denoise"])
  assert code == 0, err
  assert "estimated noise sigma" in err


def test_gray_converts_rgb_and_color_refuses_gray(tmp_path, capsys, weights):
  image_files.write_image(tmp_path / "rgb.png", _noisy(3))
  code, err = _run(capsys, "denoise", tmp_path / "rgb.png", "-o",
                   tmp_path / "g.png", "--sigma", 25, "--gray", "--weights",
                   weights["denoise"])
  assert code == 0, err
  assert image_files.read_image(tmp_path / "g.png").shape == (40, 36, 1)
  image_files.write_image(tmp_path / "gray.png", _noisy(1))
  code, err = _run(capsys, "denoise", tmp_path / "gray.png", "-o",
                   tmp_path / "c.png", "--sigma", 25, "--color", "--weights",
                   weights["denoise"])
  _one_line_error(code, err, 1, "--color needs an RGB image")


def test_compare_writes_the_baseline_and_a_panel_with_psnrs(tmp_path, capsys,
                                                            weights):
  clean = smooth_image(40, 36, 1)
  image_files.write_image(tmp_path / "clean.png", clean)
  image_files.write_image(tmp_path / "in.png", _noisy())
  code, err = _run(capsys, "denoise", tmp_path / "in.png", "-o",
                   tmp_path / "out.png", "--sigma", 25, "--weights",
                   weights["denoise"], "--compare", "--reference",
                   tmp_path / "clean.png")
  assert code == 0, err
  assert image_files.read_image(tmp_path / "out_bm3d.png").shape == clean.shape
  panel = Image.open(tmp_path / "out_compare.png")
  assert panel.size[0] > 3 * panel.size[1]  # four panels side by side


def test_compare_superres_writes_bicubic(tmp_path, capsys, weights):
  image_files.write_image(tmp_path / "lr.png", _noisy(size=(16, 16)))
  code, err = _run(capsys, "superres", tmp_path / "lr.png", "-o",
                   tmp_path / "hr.png", "--scale", 2, "--weights",
                   weights["superres"], "--compare")
  assert code == 0, err
  assert image_files.read_image(tmp_path / "hr_bicubic.png").shape == (
      32, 32, 1)
  assert (tmp_path / "hr_compare.png").is_file()


def test_the_shipped_weights_are_the_default(tmp_path, capsys):
  image_files.write_image(tmp_path / "in.png", _noisy(size=(24, 24)))
  code, err = _run(capsys, "denoise", tmp_path / "in.png", "-o",
                   tmp_path / "out.png", "--sigma", 25)
  assert code == 0, err
  assert image_files.read_image(tmp_path / "out.png").shape == (24, 24, 1)


# -- bad input: one line, non-zero exit, existing output untouched ------------


@pytest.fixture
def existing_output(tmp_path):
  path = tmp_path / "out.png"
  image_files.write_image(path, np.full((8, 8, 1), 7, np.uint8))
  return path


def _bad_inputs(tmp_path):
  truncated = tmp_path / "truncated.png"
  image_files.write_image(truncated, _noisy())
  truncated.write_bytes(truncated.read_bytes()[:200])
  Image.new("RGBA", (16, 16)).save(tmp_path / "rgba.png")
  Image.new("L", (1, 1)).save(tmp_path / "tiny.png")
  (tmp_path / "garbage.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
  return {"missing": (tmp_path / "missing.png", "no such file"),
          "truncated": (truncated, "cannot decode"),
          "garbage": (tmp_path / "garbage.jpg", "cannot decode"),
          "rgba": (tmp_path / "rgba.png", "has 4 channels"),
          "tiny": (tmp_path / "tiny.png", "at least 8x8")}


@pytest.mark.parametrize("case", ["missing", "truncated", "garbage", "rgba",
                                  "tiny"])
def test_bad_images_fail_in_one_line(tmp_path, capsys, weights,
                                     existing_output, case):
  path, fragment = _bad_inputs(tmp_path)[case]
  before = existing_output.read_bytes()
  code, err = _run(capsys, "denoise", path, "-o", existing_output, "--sigma",
                   25, "--weights", weights["denoise"])
  _one_line_error(code, err, 1, fragment)
  assert existing_output.read_bytes() == before


@pytest.mark.parametrize("argv,code,fragment", [
    (["--sigma", "0"], 2, "--sigma: sigma must be a finite number > 0"),
    (["--sigma", "-5"], 2, "--sigma: sigma must be a finite number > 0"),
    (["--sigma", "inf"], 2, "--sigma: sigma must be a finite number > 0"),
    (["--scale", "2"], 2, "--scale applies to superres only"),
    (["--steps", "0"], 2, "--steps must be >= 1"),
    (["--tile", "32", "--overlap", "16"], 2, "more than twice"),
    (["--reference", "x.png"], 2, "add --compare"),
    (["--weights", "nowhere.weights.h5"], 1, "not found"),
])
def test_bad_options_fail_in_one_line(tmp_path, capsys, existing_output, argv,
                                      code, fragment):
  image_files.write_image(tmp_path / "in.png", _noisy())
  before = existing_output.read_bytes()
  result, err = _run(capsys, "denoise", tmp_path / "in.png", "-o",
                     existing_output, *argv)
  _one_line_error(result, err, code, fragment)
  assert existing_output.read_bytes() == before


def test_weights_for_another_task_fail_and_keep_the_output(
    tmp_path, capsys, weights, existing_output):
  image_files.write_image(tmp_path / "in.png", _noisy())
  before = existing_output.read_bytes()
  code, err = _run(capsys, "denoise", tmp_path / "in.png", "-o",
                   existing_output, "--sigma", 25, "--weights",
                   weights["superres"])
  _one_line_error(code, err, 1, "trained for 'superres', not for 'denoise'")
  assert existing_output.read_bytes() == before


def test_superres_without_scale_and_16_bit_jpeg_output_fail(tmp_path, capsys,
                                                            weights):
  image_files.write_image(tmp_path / "in.png", _noisy())
  code, err = _run(capsys, "superres", tmp_path / "in.png", "-o",
                   tmp_path / "o.png")
  _one_line_error(code, err, 2, "needs --scale")
  image_files.write_image(tmp_path / "deep.png", _noisy(dtype=np.uint16))
  code, err = _run(capsys, "denoise", tmp_path / "deep.png", "-o",
                   tmp_path / "o.jpg", "--sigma", 25, "--weights",
                   weights["denoise"])
  _one_line_error(code, err, 1, "JPEG holds 8 bits")
  assert not (tmp_path / "o.jpg").exists()


def test_the_input_is_never_the_output(tmp_path, capsys):
  image_files.write_image(tmp_path / "in.png", _noisy())
  code, err = _run(capsys, "denoise", tmp_path / "in.png", "-o",
                   tmp_path / "in.png", "--sigma", 25)
  _one_line_error(code, err, 2, "is the input itself")


def test_one_bad_file_among_several_fails_the_run_but_not_the_others(
    tmp_path, capsys, weights):
  source = tmp_path / "in"
  source.mkdir()
  image_files.write_image(source / "good.png", _noisy())
  Image.new("RGBA", (16, 16)).save(source / "rgba.png")
  code, err = _run(capsys, "denoise", source, "-o", tmp_path / "out",
                   "--sigma", 25, "--weights", weights["denoise"])
  assert code == 1 and "rgba.png: has 4 channels" in err
  assert [p.name for p in (tmp_path / "out").iterdir()] == ["good.png"]
  assert "rim-restore: 1 restored, 1 failed." in err


def test_a_too_small_image_in_a_folder_is_named(tmp_path, capsys, weights):
  source = tmp_path / "in"
  source.mkdir()
  image_files.write_image(source / "good.png", _noisy())
  image_files.write_image(source / "tiny.png", _noisy(size=(4, 4)))
  code, err = _run(capsys, "denoise", source, "-o", tmp_path / "out",
                   "--sigma", 25, "--weights", weights["denoise"])
  assert code == 1
  errors = [l for l in err.splitlines() if "error:" in l]
  assert len(errors) == 1 and f"{source / 'tiny.png'}: image is 4x4" in \
      errors[0]


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, capsys,
                                                          weights):
  source = tmp_path / "in"
  source.mkdir()
  image_files.write_image(source / "a.png", _noisy())
  (tmp_path / "file").write_text("a regular file")
  code, err = _run(capsys, "denoise", source, "-o", tmp_path / "file" / "out",
                   "--sigma", 25, "--weights", weights["denoise"])
  _one_line_error(code, err, 1, "cannot create the folder")


def test_ctrl_c_keeps_the_finished_outputs_and_writes_no_other(
    tmp_path, capsys, weights, monkeypatch):
  source = tmp_path / "in"
  source.mkdir()
  for name in ("a.png", "b.png", "c.png"):
    image_files.write_image(source / name, _noisy())
  run = cli._Job.run  # pylint: disable=protected-access
  done = []

  def interrupted_at_b(self, log, progress=None):
    if self.source.name == "b.png":
      raise KeyboardInterrupt
    done.append(self.source.name)
    return run(self, log, progress)

  monkeypatch.setattr(cli._Job, "run", interrupted_at_b)  # pylint: disable=protected-access
  code, err = _run(capsys, "denoise", source, "-o", tmp_path / "out",
                   "--sigma", 25, "--weights", weights["denoise"])
  assert code == 130
  errors = [l for l in err.splitlines() if "error:" in l]
  assert len(errors) == 1 and "interrupted at" in errors[0]
  assert "b.png, which was not written; 1 restored before it" in errors[0]
  assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]


# -- the installed commands ---------------------------------------------------


def test_help_lists_every_option_with_its_default():
  result = subprocess.run(["rim-restore", "--help"], capture_output=True,
                          text=True, timeout=60, check=True)
  text = " ".join(result.stdout.split())
  for option in ("--output", "--sigma", "--scale", "--steps", "--weights",
                 "--color", "--gray", "--compare", "--reference", "--tile",
                 "--overlap"):
    assert option in text, option
  assert "(default: 512)" in text and "(default: 32)" in text
  # No default where there is nothing to read (a switch, an unset option).
  assert "(default: None)" not in text and "(default: True)" not in text


def test_python_dash_m_is_the_same_command(tmp_path):
  result = subprocess.run(
      [sys.executable, "-m", "rim_tf", "inpaint", "x.png", "-o", "y.png"],
      capture_output=True, text=True, timeout=60,
      cwd=pathlib.Path(__file__).parent)
  assert result.returncode == 2
  assert "invalid choice: 'inpaint'" in result.stderr


def test_a_single_image_shows_its_tiles_on_a_terminal(tmp_path, weights):
  image_files.write_image(tmp_path / "in.png", _noisy(size=(90, 80)))
  controller, terminal = os.openpty()
  # A terminal of 24 rows and 100 columns (a new pty reports 0 x 0).
  fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0,
                                                        0))
  argv = ["rim-restore", "denoise", str(tmp_path / "in.png"), "-o",
          str(tmp_path / "out.png"), "--sigma", "25", "--weights",
          weights["denoise"], "--tile", "40", "--overlap", "8"]
  for extra, shown in (([], True), (["--quiet"], False)):
    process = subprocess.Popen(argv + extra, stderr=terminal,
                               stdout=subprocess.DEVNULL)
    process.wait(timeout=300)
    os.set_blocking(controller, False)
    try:
      text = os.read(controller, 1 << 16).decode(errors="replace")
    except BlockingIOError:
      text = ""
    assert process.returncode == 0, text
    assert ("restoring" in text and "tile" in text) == shown, text
  os.close(controller)
  os.close(terminal)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs a folder no "
                    "one can write into (Linux /proc)")
def test_an_unwritable_output_folder_fails_before_restoring(
    tmp_path, capsys, weights, monkeypatch):
  image_files.write_image(tmp_path / "in.png", _noisy())
  restored = []
  monkeypatch.setattr(rim_tf.inference.api, "restore",
                      lambda *a, **k: restored.append(1))
  code, err = _run(capsys, "denoise", tmp_path / "in.png", "-o",
                   "/proc/out.png", "--sigma", 25, "--weights",
                   weights["denoise"])
  _one_line_error(code, err, 1, "/proc/out.png: cannot write into /proc")
  assert not restored  # Found before any work was done.


def test_parameters_the_default_model_cannot_use_fail_before_any_image(
    tmp_path, capsys, monkeypatch):
  source = tmp_path / "in"
  source.mkdir()
  for name in ("a.png", "b.png"):
    image_files.write_image(source / name, _noisy())

  def no_restoring(*args, **kwargs):
    raise AssertionError("an image was restored")

  monkeypatch.setattr(api, "restore", no_restoring)
  code, err = _run(capsys, "denoise", source, "-o", tmp_path / "out",
                   "--sigma", 1000)
  _one_line_error(code, err, 1, "sigma 1000 is more than denoise_gray can "
                  "use: it was trained on noise of sigma")
  code, err = _run(capsys, "superres", source, "-o", tmp_path / "out",
                   "--scale", 5)
  _one_line_error(code, err, 1, "scale 5 is not one superres was trained for "
                  "(2, 3, 4)")
  assert not list((tmp_path / "out").iterdir())


def _kernel_files(folder):
  kernel = np.zeros((5, 5))
  kernel[2, 1:4] = 1 / 3  # A short horizontal motion.
  np.save(folder / "k.npy", kernel)
  image_files.write_image(folder / "k.png",
                          np.round(kernel * 3 * 255).astype(np.uint8)[..., None])
  return kernel


@pytest.mark.parametrize("kernel_file", ["k.npy", "k.png"])
@pytest.mark.parametrize("boundary", ["circular", "replicate"])
def test_deblur_writes_what_the_python_api_returns(tmp_path, capsys, weights,
                                                   kernel_file, boundary):
  kernel = _kernel_files(tmp_path)
  blurred = _noisy()
  image_files.write_image(tmp_path / "in.png", blurred)
  code, err = _run(capsys, "deblur", tmp_path / "in.png", "-o",
                   tmp_path / "out.png", "--kernel", tmp_path / kernel_file,
                   "--sigma", 5, "--boundary", boundary, "--weights",
                   weights["deblur"])
  assert code == 0, err
  want = rim_tf.restore(blurred, task="deblur", kernel=kernel, sigma=5,
                        boundary=boundary, weights=weights["deblur"])
  np.testing.assert_array_equal(image_files.read_image(tmp_path / "out.png"),
                                want)


def test_deblur_compare_says_bm3d_blurs_circularly(tmp_path, capsys,
                                                   weights):
  _kernel_files(tmp_path)
  image_files.write_image(tmp_path / "in.png", _noisy())
  for boundary in ("circular", "replicate"):
    code, err = _run(capsys, "deblur", tmp_path / "in.png", "-o",
                     tmp_path / f"{boundary}.png", "--kernel",
                     tmp_path / "k.npy", "--sigma", 0, "--boundary",
                     boundary, "--compare", "--weights", weights["deblur"])
    assert code == 0, err
    assert (tmp_path / f"{boundary}_bm3d.png").is_file()
    noted = "BM3D-deblurring blurs circularly" in err
    assert noted == (boundary == "replicate"), err


@pytest.mark.parametrize("make,fragment", [
    (lambda d: np.save(d / "bad.npy", np.ones((4, 4)) / 16),
     "bad.npy: kernel must have odd sides of at most 31"),
    (lambda d: np.save(d / "bad.npy", np.ones((3, 3, 3)) / 27),
     "bad.npy: kernel must be 2-D"),
    (lambda d: np.save(d / "bad.npy", -np.ones((3, 3)) / 9),
     "bad.npy: kernel has negative entries"),
    (lambda d: np.save(d / "bad.npy", np.array(["a", "b"])),
     "bad.npy: the kernel must be a real numeric array"),
    (lambda d: (d / "bad.npy").write_bytes(b"not numpy"),
     "bad.npy: not a readable .npy array"),
    (lambda d: image_files.write_image(d / "bad.png", np.zeros((3, 3, 1),
                                                               np.uint8)),
     "bad.png: the kernel image is all black"),
    (lambda d: image_files.write_image(d / "bad.png", np.ones((3, 3, 3),
                                                              np.uint8)),
     "bad.png: a kernel image must be gray"),
    (lambda d: (d / "bad.txt").write_text("1"),
     "bad.txt: unsupported kernel file '.txt'"),
    (lambda d: None, "bad.npy: no such kernel file"),
])
def test_a_bad_kernel_file_is_one_line_before_any_image(
    tmp_path, capsys, weights, monkeypatch, make, fragment):
  make(tmp_path)
  name = fragment.split(":")[0]
  image_files.write_image(tmp_path / "in.png", _noisy())
  monkeypatch.setattr(api, "restore", lambda *a, **k: 1 / 0)
  code, err = _run(capsys, "deblur", tmp_path / "in.png", "-o",
                   tmp_path / "out.png", "--kernel", tmp_path / name,
                   "--sigma", 5, "--weights", weights["deblur"])
  _one_line_error(code, err, 1, fragment)
  assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("argv,fragment", [
    (["deblur", "--sigma", "5"], "deblur needs --kernel"),
    (["denoise", "--kernel", "k.npy"], "--kernel and --boundary apply to "
     "deblur only"),
    (["denoise", "--boundary", "replicate"], "--kernel and --boundary apply "
     "to deblur only"),
    (["deblur", "--kernel", "k.npy", "--scale", "2"], "--scale applies to "
     "superres only"),
])
def test_deblur_usage_mistakes_are_one_line(tmp_path, capsys, argv, fragment):
  image_files.write_image(tmp_path / "in.png", _noisy())
  code, err = _run(capsys, argv[0], tmp_path / "in.png", "-o",
                   tmp_path / "out.png", *argv[1:])
  _one_line_error(code, err, 2, fragment)


def test_a_kernel_larger_than_an_image_names_the_image(tmp_path, capsys,
                                                       weights):
  np.save(tmp_path / "k.npy", np.ones((21, 21)) / 441)
  image_files.write_image(tmp_path / "small.png", _noisy(size=(16, 40)))
  code, err = _run(capsys, "deblur", tmp_path / "small.png", "-o",
                   tmp_path / "out.png", "--kernel", tmp_path / "k.npy",
                   "--sigma", 5, "--weights", weights["deblur"])
  _one_line_error(code, err, 1, f"{tmp_path / 'small.png'}: the kernel "
                  "(21x21) is larger than the image (16x40)")


@pytest.mark.parametrize("make,fragment", [
    (lambda p: p.write_bytes(b""), "not a readable .npy array"),
    (lambda p: np.savez(p.with_suffix(""), a=np.ones(3), b=np.ones(3))
     or p.with_suffix(".npz").rename(p), "holds several arrays"),
])
def test_an_empty_or_npz_kernel_file_is_one_line(tmp_path, capsys, weights,
                                                  make, fragment):
  make(tmp_path / "k.npy")
  image_files.write_image(tmp_path / "in.png", _noisy())
  code, err = _run(capsys, "deblur", tmp_path / "in.png", "-o",
                   tmp_path / "out.png", "--kernel", tmp_path / "k.npy",
                   "--sigma", 5, "--weights", weights["deblur"])
  _one_line_error(code, err, 1, f"{tmp_path / 'k.npy'}: {fragment}")


def test_the_demo_restores_every_shipped_model_better_than_its_input(
    tmp_path, capsys):
  from rim_tf import pretrained  # pylint: disable=g-import-not-at-top
  from rim_tf.inference import demo  # pylint: disable=g-import-not-at-top
  path = tmp_path / "demo.png"
  assert cli.main(["demo", "-o", str(path)]) == 0
  lines = capsys.readouterr().out.splitlines()
  shown = [case.model for case in demo.CASES
           if case.model in pretrained.shipped()]
  assert len(shown) >= 4 and lines[-1] == f"wrote {path}"
  for model, line in zip(shown, lines):
    before, after = [float(x) for x in line.split()[-5::3][:2]]
    assert line.startswith(model) and after > before + 0.3, line
  with Image.open(path) as image:
    # A row of three crops per model.
    assert image.size[0] * len(shown) == 3 * image.size[1]


@pytest.mark.parametrize("output,fragment", [
    ("demo.jpg", "ending in .png"), ("missing/dir/file/x.png", None)])
def test_the_demo_refuses_an_output_it_cannot_write_in_one_line(
    tmp_path, capsys, output, fragment):
  (tmp_path / "missing").write_text("a file, not a folder")
  assert cli.main(["demo", "-o", str(tmp_path / output)]) == 1
  err = capsys.readouterr().err.strip()
  assert err.startswith("rim-restore: error:") and "\n" not in err
  assert fragment is None or fragment in err
