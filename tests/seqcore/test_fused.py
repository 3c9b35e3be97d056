"""The fused loops (seqcore/fused.py) beyond what the Keras-parity tests cover."""

import keras
import numpy as np

import seqcore


def test_long_sequence_trains_for_several_steps():
    # Regression: with large per-step tensors and long loops, a loop-invariant term
    # in the backward loop made grappler emit a temporary variable that TF 2.21
    # leaked, so the second train step failed with AlreadyExistsError.
    batch, steps, features, units = 32, 500, 4, 512
    model = keras.Sequential(
        [keras.Input(batch_shape=(batch, steps, features)), seqcore.SimpleRNN(units)]
    )
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    y = np.zeros((batch, units), "float32")

    losses = [model.train_on_batch(x, y) for _ in range(3)]

    assert np.all(np.isfinite(losses))
    assert losses[2] < losses[0]
