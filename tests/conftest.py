"""Shared test settings: quiet TensorFlow logs and a fixed random seed for every test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402  (the environment above must be set first)
import pytest  # noqa: E402

SEED = 1337


@pytest.fixture(autouse=True)
def _fixed_seed():
    """Seeds Python, NumPy and the backend before each test."""
    keras.utils.set_random_seed(SEED)
