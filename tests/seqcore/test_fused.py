"""The fused loops (seqcore/fused.py) beyond what the Keras-parity tests cover."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqcore
from seqcore import fused


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


# --- batch split into parallel loops -------------------------------------------------

KINDS = {
    "lstm": (fused.LSTM, 4, 0),
    "gru": (fused.GRU, 3, 1),
    "simple_rnn": (fused.SIMPLE_RNN, 1, 0),
}


def _loop_inputs(name, batch, steps=6, units=5, masked=False, seed=0):
    kind, gates, n_extras = KINDS[name]
    rng = np.random.default_rng(seed)
    projected = tf.constant(rng.normal(size=(steps, batch, gates * units)), tf.float32)
    states = [
        tf.constant(rng.normal(size=(batch, units)), tf.float32) for _ in range(kind.state_count)
    ]
    kernel = tf.constant(rng.normal(size=(units, gates * units)) * 0.5, tf.float32)
    extras = [tf.constant(rng.normal(size=(units,)), tf.float32) for _ in range(n_extras)]
    mask = None
    if masked:
        mask = tf.constant(rng.random((steps, batch, 1)) > 0.3, tf.float32)
    return kind, projected, states, kernel, extras, mask


def _run_with_grads(kind, projected, states, kernel, extras, mask, loops, **options):
    with tf.GradientTape() as tape:
        tape.watch([projected, kernel, *states, *extras])
        last, outputs, final = fused.run(
            kind, projected, states, kernel, extras=extras, mask=mask, loops=loops, **options
        )
        loss = tf.reduce_sum(outputs * outputs) + tf.reduce_sum(sum(tf.sin(s) for s in final))
    grads = tape.gradient(loss, [projected, kernel, *states, *extras])
    return [last, outputs, *final, *grads]


@pytest.mark.parametrize("name", list(KINDS))
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("training", [False, True])
def test_split_loops_equal_one_loop(name, masked, training):
    # 13 rows into 3 loops: uneven slices (5, 4, 4).
    args = _loop_inputs(name, batch=13, masked=masked)
    one = _run_with_grads(*args, loops=1, training=training)
    split = _run_with_grads(*args, loops=3, training=training)
    for a, b in zip(one, split, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-5)


def test_split_loops_with_unknown_batch_size_and_zero_output():
    kind, projected, states, kernel, extras, mask = _loop_inputs("lstm", batch=9, masked=True)

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, None, 20), tf.float32),
            tf.TensorSpec((None, 5), tf.float32),
            tf.TensorSpec((None, 5), tf.float32),
            tf.TensorSpec((None, None, 1), tf.float32),
        ]
    )
    def call(projected, h, c, mask):
        return fused.run(
            kind,
            projected,
            [h, c],
            kernel,
            mask=mask,
            zero_output_for_mask=True,
            return_sequences=False,
            training=False,
            loops=2,
        )

    last, outputs, final = call(projected, *states, mask)
    ref_last, ref_outputs, ref_final = fused.run(
        kind,
        projected,
        states,
        kernel,
        mask=mask,
        zero_output_for_mask=True,
        return_sequences=False,
        training=False,
        loops=1,
    )
    assert outputs.shape == (1, 9, 5)
    for a, b in zip([ref_last, ref_outputs, *ref_final], [last, outputs, *final], strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)


def test_batch_slices():
    assert fused._batch_slices(13, 3) == [5, 4, 4]
    assert fused._batch_slices(64, 2) == [32, 32]
    # Slices below MIN_ROWS_PER_LOOP rows are not worth a loop of their own.
    assert fused._batch_slices(7, 2) is None
    assert fused._batch_slices(9, 4) == [5, 4]
    sizes = fused._batch_slices(tf.constant(10), 4)
    assert sizes.numpy().tolist() == [3, 3, 2, 2]


def test_parallel_loops_setting(monkeypatch):
    monkeypatch.setenv("SEQCORE_PARALLEL_LOOPS", "3")
    assert fused.parallel_loops() == 3
    monkeypatch.setenv("SEQCORE_PARALLEL_LOOPS", "0")
    with pytest.raises(ValueError, match="SEQCORE_PARALLEL_LOOPS must be a positive integer"):
        fused.parallel_loops()
    monkeypatch.delenv("SEQCORE_PARALLEL_LOOPS")
    assert 1 <= fused.parallel_loops() <= fused.MAX_PARALLEL_LOOPS


@pytest.mark.parametrize("layer", ["LSTM", "GRU", "SimpleRNN"])
def test_layer_output_does_not_depend_on_the_number_of_loops(layer, monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(10, 7, 3)).astype("float32")
    x[:3, 4:] = 0.0
    results = []
    for loops in ("1", "2"):
        monkeypatch.setenv("SEQCORE_PARALLEL_LOOPS", loops)
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((7, 3)),
                keras.layers.Masking(0.0),
                getattr(seqcore, layer)(6, return_sequences=True),
            ]
        )
        with tf.GradientTape() as tape:
            y = model(x, training=True)
            loss = tf.reduce_sum(y * y)
        grads = tape.gradient(loss, model.trainable_weights)
        results.append([y, *grads])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)
