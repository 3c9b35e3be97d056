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


def _loop_inputs(name, batch, steps=7, units=5, features=3, masked=False, seed=0):
    kind, gates, n_extras = KINDS[name]
    rng = np.random.default_rng(seed)

    def tensor(*shape, scale=1.0):
        return tf.constant(rng.normal(size=shape) * scale, tf.float32)

    inputs = tensor(batch, steps, features)
    kernel = tensor(features, gates * units, scale=0.5)
    bias = tensor(gates * units)
    states = [tensor(batch, units) for _ in range(kind.state_count)]
    recurrent = tensor(units, gates * units, scale=0.5)
    extras = [tensor(units) for _ in range(n_extras)]
    mask = None
    if masked:
        mask = tf.constant(rng.random((steps, batch, 1)) > 0.3, tf.float32)
    return kind, inputs, kernel, bias, states, recurrent, extras, mask


def _run_with_grads(kind, inputs, kernel, bias, states, recurrent, extras, mask, **options):
    watched = [inputs, kernel, bias, recurrent, *states, *extras]
    with tf.GradientTape() as tape:
        tape.watch(watched)
        last, outputs, final = fused.run(
            kind, inputs, kernel, bias, states, recurrent, extras=extras, mask=mask, **options
        )
        loss = tf.reduce_sum(outputs * outputs) + tf.reduce_sum(sum(tf.sin(s) for s in final))
    return [last, outputs, *final, *tape.gradient(loss, watched)]


def _assert_all_close(expected, actual, tolerance=1e-5):
    for a, b in zip(expected, actual, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("name", list(KINDS))
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("training", [False, True])
def test_split_loops_equal_one_loop(name, masked, training):
    # 13 rows into 3 loops: uneven slices (5, 4, 4).
    args = _loop_inputs(name, batch=13, masked=masked)
    one = _run_with_grads(*args, loops=1, training=training)
    split = _run_with_grads(*args, loops=3, training=training)
    _assert_all_close(one, split)


@pytest.mark.parametrize("name", list(KINDS))
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("zero_output", [False, True])
@pytest.mark.parametrize("chunk", [1, 3, 7, 16])
def test_training_loop_equals_autodiff_of_the_lean_loop(
    name, masked, return_sequences, zero_output, chunk
):
    # The hand-written chunked BPTT against TF's autodiff of the inference loop, with
    # chunks that divide the 7 steps, leave a remainder, span them all or exceed them.
    args = _loop_inputs(name, batch=4, masked=masked)
    options = dict(loops=1, return_sequences=return_sequences, zero_output_for_mask=zero_output)
    reference = _run_with_grads(*args, training=False, **options)
    actual = _run_with_grads(*args, training=True, chunk=chunk, **options)
    _assert_all_close(reference, actual)


def test_split_loops_with_unknown_batch_size_and_zero_output():
    kind, inputs, kernel, bias, states, recurrent, _, mask = _loop_inputs(
        "lstm", batch=9, masked=True
    )

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, None, 3), tf.float32),
            tf.TensorSpec((None, 5), tf.float32),
            tf.TensorSpec((None, 5), tf.float32),
            tf.TensorSpec((None, None, 1), tf.float32),
        ]
    )
    def call(inputs, h, c, mask):
        return fused.run(
            kind,
            inputs,
            kernel,
            bias,
            [h, c],
            recurrent,
            mask=mask,
            zero_output_for_mask=True,
            return_sequences=False,
            training=False,
            loops=2,
        )

    last, outputs, final = call(inputs, *states, mask)
    ref_last, ref_outputs, ref_final = fused.run(
        kind,
        inputs,
        kernel,
        bias,
        states,
        recurrent,
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
    cores = fused.parallel_loops()
    assert 1 <= cores <= fused.MAX_PARALLEL_LOOPS
    # Small per-step matmuls keep one loop: 8 rows of LSTM(64), 64 rows of LSTM(32).
    assert fused.parallel_loops(8, 64 * 256) == 1
    assert fused.parallel_loops(64, 32 * 128) == 1
    assert fused.parallel_loops(64, 128 * 512) == cores
    # An unknown batch size counts as ASSUMED_BATCH rows.
    assert fused.parallel_loops(None, 64 * 256) == min(cores, 2)


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


@pytest.mark.parametrize("layer", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("masked", [False, True])
def test_train_on_batch_with_a_static_batch_size(layer, masked):
    # Regression: popped activations lost the static batch size, so a graph-mode
    # backward loop failed with "enters the loop with shape (8, 6), but has shape
    # (None, 6) after one iteration".
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 40, 3)).astype("float32")
    x[:3, 30:] = 0.0
    inputs = keras.Input(batch_shape=(8, 40, 3))
    hidden = keras.layers.Masking(0.0)(inputs) if masked else inputs
    model = keras.Model(inputs, getattr(seqcore, layer)(6)(hidden))
    model.compile("sgd", "mse")
    losses = [model.train_on_batch(x, np.ones((8, 6), "float32")) for _ in range(3)]
    assert np.all(np.isfinite(losses))
    assert losses[2] < losses[0]
