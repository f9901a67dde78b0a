"""Shared pytest set-up: quiet TF logs, locate real data, a tiny RIM."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # pylint: disable=g-import-not-at-top


@pytest.fixture
def bsds_dir():
  """The folder holding BSDS300 from RIM_DATA_DIR; skips the test without it."""
  data_dir = os.environ.get("RIM_DATA_DIR")
  if not data_dir or not (
      os.path.isdir(os.path.join(data_dir, "BSDS300")) or
      os.path.isfile(os.path.join(data_dir, "iids_train.txt"))):
    pytest.skip("real-data test: set RIM_DATA_DIR to the folder holding "
                "BSDS300/ to run it")
  return data_dir


@pytest.fixture(scope="module")
def tiny_rim():
  """A gray RIM of 8 features unrolled 2 steps, seeded (untrained)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from rim_tf import model as rim_model  # pylint: disable=g-import-not-at-top
  tf.keras.utils.set_random_seed(1)
  return rim_model.build_rim("rim", 1, features=8, gru_features=8,
                             num_steps=2)
