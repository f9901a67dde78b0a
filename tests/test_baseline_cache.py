"""Baselines kept on disk return what they computed, for exactly its input."""

import time

import numpy as np

from rim_tf.evaluation import baseline_cache
from rim_tf.evaluation import protocols


def _slow_blur(calls):
  def blur(noisy, sigma):
    calls.append(sigma)
    time.sleep(0.05)
    return np.clip(noisy * 0.5 + 0.25 + sigma / 1000.0, 0, 1)
  return blur


def test_a_second_call_returns_the_stored_estimate_and_its_time(tmp_path):
  calls = []
  method = baseline_cache.CachedBaseline("blur", _slow_blur(calls), tmp_path)
  image = np.random.default_rng(0).random((6, 5, 1)).astype(np.float32)
  first = method(image, 25.0)
  computed = method.last_seconds
  again = method(image.copy(), 25.0)
  np.testing.assert_array_equal(first, again)
  assert calls == [25.0] and (method.hits, method.misses) == (1, 1)
  assert computed >= 0.05 and method.last_seconds == computed
  # Another input, another noise level, another dtype: computed anew.
  method(image + 1e-7, 25.0)
  method(image, 15.0)
  method(image.astype(np.float64), 25.0)
  assert calls == [25.0, 25.0, 15.0, 25.0] and method.misses == 4
  # A damaged entry is computed again, not trusted.
  for entry in (tmp_path / "blur").glob("*.npz"):
    entry.write_bytes(entry.read_bytes()[:20])
  method(image, 25.0)
  assert len(calls) == 5
  assert not list((tmp_path / "blur").glob("*.tmp"))


def test_another_method_of_the_same_name_does_not_share_entries(tmp_path):
  image = np.zeros((4, 4, 1), np.float32)
  first = baseline_cache.CachedBaseline("m", lambda x, s: x + 0.1, tmp_path)
  second = baseline_cache.CachedBaseline("m", lambda x, s: x + 0.2, tmp_path)
  assert first.key(image, 1.0) != second.key(image, 1.0)
  np.testing.assert_allclose(second(image, 1.0), image + 0.2)


def test_an_evaluation_again_reuses_the_baseline_and_reports_its_time(
    tmp_path):
  calls = []
  images = {str(i): (np.random.default_rng(i).random((12, 12, 1)) * 255
                     ).astype(np.uint8) for i in range(3)}
  runs = []
  for _ in range(2):
    methods = baseline_cache.cached({"blur": _slow_blur(calls)}, tmp_path)
    runs.append(protocols.evaluate_denoising(
        images, methods, sigmas=(25,), quantized=(False,), progress=False))
  assert len(calls) == 3  # The second run computed nothing.
  assert runs[0][0] == runs[1][0]
  assert runs[1][1]["blur"] == runs[0][1]["blur"] >= 0.05
  assert baseline_cache.cached({"x": len}, None)["x"] is len
