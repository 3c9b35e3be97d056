"""seqcore layers inside the rest of Keras: wrappers, masking, model APIs,
graph and XLA compilation, mixed precision, dropout and training."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqcore

UNITS = 5
FEATURES = 3
TIME = 6
BATCH = 3

# name -> (seqcore class, extra constructor arguments, Keras twin or None)
VARIANTS = {
    "lstm": (seqcore.LSTM, {}, keras.layers.LSTM),
    "gru": (seqcore.GRU, {}, keras.layers.GRU),
    "simple_rnn": (seqcore.SimpleRNN, {}, keras.layers.SimpleRNN),
    "lstm_peephole_layer_norm": (seqcore.LSTM, {"peephole": True, "layer_norm": True}, None),
    "gru_layer_norm": (seqcore.GRU, {"layer_norm": True}, None),
}
PLAIN = [name for name, (_, _, twin) in VARIANTS.items() if twin is not None]
POLICIES = ["mixed_float16", "mixed_bfloat16"]
# Loose bounds for the gap between a mixed-precision and a float32 forward pass.
POLICY_ATOL = {"mixed_float16": 1e-2, "mixed_bfloat16": 4e-2}


@pytest.fixture(params=list(VARIANTS))
def variant(request):
    return request.param


@pytest.fixture(params=PLAIN)
def plain_variant(request):
    return request.param


@pytest.fixture(autouse=True)
def float32_policy():
    keras.mixed_precision.set_dtype_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def make_layer(name, units=UNITS, **kwargs):
    cls, extra, _ = VARIANTS[name]
    return cls(units, **extra, **kwargs)


def randomize(layer_or_model, seed=0, scale=0.5):
    """Random weights, so that peephole weights and layer-norm gains matter."""
    rng = np.random.default_rng(seed)
    layer_or_model.set_weights(
        [(rng.normal(size=w.shape) * scale).astype(w.dtype) for w in layer_or_model.get_weights()]
    )


def to_numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def random_inputs(seed=1, shape=(BATCH, TIME, FEATURES)):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def right_padding_mask(lengths, time=TIME):
    return np.arange(time)[None, :] < np.asarray(lengths)[:, None]


def recurrent_model(name, batch_size=None, dense_dtype=None, **kwargs):
    inputs = keras.Input((TIME, FEATURES), batch_size=batch_size)
    hidden = make_layer(name, **kwargs)(inputs)
    outputs = keras.layers.Dense(1, dtype=dense_dtype)(hidden)
    return keras.Model(inputs, outputs)


def targets(x):
    return np.tanh(x[:, :, :1].sum(axis=1))


# --- Bidirectional ----------------------------------------------------------


@pytest.mark.parametrize("with_mask", [False, True])
def test_bidirectional_matches_keras_bidirectional(plain_variant, with_mask):
    cls, _, keras_cls = VARIANTS[plain_variant]
    x = random_inputs()
    mask = right_padding_mask([6, 4, 2]) if with_mask else None
    reference = keras.layers.Bidirectional(keras_cls(UNITS, return_sequences=True))
    ours = keras.layers.Bidirectional(cls(UNITS, return_sequences=True))
    reference.build(x.shape)
    ours.build(x.shape)
    randomize(reference)
    ours.set_weights(reference.get_weights())

    expected = to_numpy(reference(x, mask=mask))
    actual = to_numpy(ours(x, mask=mask))

    assert actual.shape == (BATCH, TIME, 2 * UNITS)
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_bidirectional_is_forward_and_reversed_backward(variant):
    x = random_inputs()
    bidirectional = keras.layers.Bidirectional(make_layer(variant, return_sequences=True))
    bidirectional.build(x.shape)
    randomize(bidirectional)
    forward = make_layer(variant, return_sequences=True)
    backward = make_layer(variant, return_sequences=True)
    forward.build(x.shape)
    backward.build(x.shape)
    forward.set_weights(bidirectional.forward_layer.get_weights())
    backward.set_weights(bidirectional.backward_layer.get_weights())

    expected = np.concatenate(
        [
            to_numpy(forward(x)),
            to_numpy(backward(x[:, ::-1]))[:, ::-1],
        ],
        axis=-1,
    )
    actual = to_numpy(bidirectional(x))

    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_bidirectional_padded_row_equals_unpadded_row(variant):
    lengths = [6, 4, 2]
    x = random_inputs() * right_padding_mask(lengths)[:, :, None]
    inputs = keras.Input((None, FEATURES))
    masked = keras.layers.Masking(0.0)(inputs)
    outputs = keras.layers.Bidirectional(make_layer(variant))(masked)
    model = keras.Model(inputs, outputs)
    randomize(model)

    padded = to_numpy(model(x))
    for row, length in enumerate(lengths):
        alone = to_numpy(model(x[row : row + 1, :length]))
        np.testing.assert_allclose(padded[row], alone[0], atol=1e-5)


# --- masking ----------------------------------------------------------------


def check_padded_rows(model, padded_inputs, lengths):
    """Whole-sequence and last outputs of each padded row equal those of the row alone."""
    sequences, last = map(to_numpy, model(padded_inputs))
    assert sequences.shape == (len(lengths), TIME, UNITS)
    for row, length in enumerate(lengths):
        alone_sequences, alone_last = map(to_numpy, model(padded_inputs[row : row + 1, :length]))
        np.testing.assert_allclose(last[row], alone_last[0], atol=1e-5)
        np.testing.assert_allclose(sequences[row, :length], alone_sequences[0], atol=1e-5)


def test_embedding_mask_zero_padded_equals_unpadded(variant):
    lengths = [6, 4, 2]
    tokens = np.random.default_rng(2).integers(1, 10, size=(3, TIME))
    tokens = tokens * right_padding_mask(lengths)
    inputs = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, FEATURES, mask_zero=True)(inputs)
    sequences = make_layer(variant, return_sequences=True)(embedded)
    last = make_layer(variant)(embedded)
    model = keras.Model(inputs, [sequences, last])
    randomize(model)

    check_padded_rows(model, tokens, lengths)


def test_masking_layer_padded_equals_unpadded(variant):
    lengths = [6, 5, 3]
    x = random_inputs() * right_padding_mask(lengths)[:, :, None]
    inputs = keras.Input((None, FEATURES))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    sequences = make_layer(variant, return_sequences=True)(masked)
    last = make_layer(variant)(masked)
    model = keras.Model(inputs, [sequences, last])
    randomize(model)

    check_padded_rows(model, x, lengths)


# --- model APIs ---------------------------------------------------------------


def test_sequential_and_functional_models_agree(variant):
    x = random_inputs()
    sequential = keras.Sequential(
        [
            keras.Input((TIME, FEATURES)),
            make_layer(variant, return_sequences=True),
            make_layer(variant, units=4),
            keras.layers.Dense(2),
        ]
    )
    inputs = keras.Input((TIME, FEATURES))
    hidden = make_layer(variant, return_sequences=True)(inputs)
    hidden = make_layer(variant, units=4)(hidden)
    functional = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    randomize(sequential)
    functional.set_weights(sequential.get_weights())

    expected = x
    for layer in sequential.layers:
        expected = layer(expected)
    sequential_out = sequential.predict(x, verbose=0)

    assert sequential_out.shape == (BATCH, 2)
    np.testing.assert_allclose(sequential_out, to_numpy(expected), atol=1e-5)
    np.testing.assert_allclose(to_numpy(functional(x)), sequential_out, atol=1e-5)


def test_functional_return_state_feeds_initial_state(variant):
    x = random_inputs()
    inputs = keras.Input((TIME, FEATURES))
    encoder_out, *states = make_layer(variant, return_state=True)(inputs)
    decoded = make_layer(variant, return_sequences=True)(inputs, initial_state=states)
    model = keras.Model(inputs, [encoder_out, decoded])
    randomize(model)

    encoder_value, decoded_value = map(to_numpy, model(x))
    cold_start = make_layer(variant, return_sequences=True)
    cold_start.build(x.shape)
    cold_start.set_weights(model.layers[2].get_weights())

    assert encoder_value.shape == (BATCH, UNITS)
    assert decoded_value.shape == (BATCH, TIME, UNITS)
    # Starting from the encoder's state must differ from starting from zeros.
    assert not np.allclose(decoded_value, to_numpy(cold_start(x)), atol=1e-3)


# --- compilation ---------------------------------------------------------------


def test_tf_function_matches_eager(variant):
    x = random_inputs()
    mask = right_padding_mask([6, 3, 5])
    layer = make_layer(variant, return_sequences=True, go_backwards=True)
    layer.build(x.shape)
    randomize(layer)

    eager = to_numpy(layer(x, mask=mask))
    traced = tf.function(lambda inputs, mask: layer(inputs, mask=mask))
    graph = traced(x, mask)

    assert traced.experimental_get_tracing_count() == 1
    np.testing.assert_allclose(graph.numpy(), eager, atol=1e-6)


def test_jit_compile_fit_and_predict_match_non_jit(variant):
    keras.utils.set_random_seed(0)
    x = random_inputs(shape=(4, TIME, FEATURES))
    jit_model = recurrent_model(variant)
    jit_model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    randomize(jit_model)
    before = jit_model.get_weights()

    history = jit_model.fit(x, targets(x), batch_size=4, epochs=1, verbose=0)
    reference = recurrent_model(variant)
    reference.set_weights(jit_model.get_weights())

    assert jit_model.jit_compile is True
    assert np.isfinite(history.history["loss"][0])
    assert any(
        not np.array_equal(a, b) for a, b in zip(before, jit_model.get_weights(), strict=True)
    )
    np.testing.assert_allclose(jit_model.predict(x, verbose=0), to_numpy(reference(x)), atol=1e-5)


# --- mixed precision --------------------------------------------------------------


@pytest.mark.parametrize("policy", POLICIES)
def test_mixed_precision_forward_and_training(variant, policy):
    x = random_inputs()
    full = recurrent_model(variant)
    randomize(full)
    expected = to_numpy(full(x))

    keras.mixed_precision.set_dtype_policy(policy)
    layer = make_layer(variant, return_sequences=True)
    mixed = recurrent_model(variant, dense_dtype="float32")
    mixed.set_weights(full.get_weights())
    layer.build(x.shape)
    compute_dtype = keras.mixed_precision.dtype_policy().compute_dtype
    sequences = layer(x)
    actual = to_numpy(mixed(x))
    mixed.compile(optimizer="adam", loss="mse", run_eagerly=True)
    loss = mixed.train_on_batch(x, targets(x))

    assert layer.compute_dtype == compute_dtype
    assert keras.backend.standardize_dtype(sequences.dtype) == compute_dtype
    assert all(w.dtype == "float32" for w in layer.weights)
    assert np.isfinite(to_numpy(keras.ops.cast(sequences, "float32"))).all()
    np.testing.assert_allclose(actual, expected, atol=POLICY_ATOL[policy])
    assert np.isfinite(loss)


@pytest.mark.parametrize("policy", POLICIES)
def test_mixed_precision_stateful_fit_predict_reset(variant, policy):
    # keras-team/keras#20605: stateful RNNs used to fail under mixed precision.
    keras.mixed_precision.set_dtype_policy(policy)
    x = random_inputs(shape=(4, TIME, FEATURES))
    model = recurrent_model(variant, batch_size=4, dense_dtype="float32", stateful=True)
    randomize(model)
    layer = model.layers[1]
    model.compile(optimizer="adam", loss="mse")

    history = model.fit(x, targets(x), batch_size=4, epochs=1, shuffle=False, verbose=0)
    layer.reset_state()
    first = model.predict(x, batch_size=4, verbose=0)
    carried = model.predict(x, batch_size=4, verbose=0)
    carried_states = [to_numpy(s) for s in layer.states]
    layer.reset_state()
    reset_states = [to_numpy(s) for s in layer.states]
    again = model.predict(x, batch_size=4, verbose=0)

    assert np.isfinite(history.history["loss"][0])
    assert np.isfinite(first).all() and np.isfinite(carried).all()
    assert all(np.isfinite(s).all() and np.abs(s).max() > 0 for s in carried_states)
    assert all(not s.any() for s in reset_states)
    assert not np.allclose(carried, first, atol=1e-3)
    np.testing.assert_allclose(again, first, atol=1e-6)


# --- dropout ----------------------------------------------------------------------


def test_dropout_inference_is_deterministic_and_equals_no_dropout(variant):
    x = random_inputs()
    plain = make_layer(variant, return_sequences=True)
    dropped = make_layer(variant, return_sequences=True, dropout=0.5, recurrent_dropout=0.5, seed=3)
    plain.build(x.shape)
    dropped.build(x.shape)
    randomize(plain)
    dropped.set_weights(plain.get_weights())

    first = to_numpy(dropped(x, training=False))
    second = to_numpy(dropped(x, training=False))

    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, to_numpy(plain(x)), atol=1e-6)


@pytest.mark.parametrize("rates", [(0.5, 0.0), (0.0, 0.5)], ids=["dropout", "recurrent"])
def test_dropout_training_differs_from_inference(variant, rates):
    x = random_inputs()
    dropout, recurrent_dropout = rates
    layer = make_layer(
        variant,
        return_sequences=True,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        seed=3,
    )
    layer.build(x.shape)
    randomize(layer)

    inference = to_numpy(layer(x, training=False))
    training = to_numpy(layer(x, training=True))

    assert np.isfinite(training).all()
    assert not np.allclose(training, inference, atol=1e-3)


def test_training_output_equals_inference_on_inputs_times_one_mask(variant):
    """Input dropout draws one `(batch, features)` mask for the whole sequence: the
    training output equals the inference output on `x * mask` broadcast over time."""
    x = random_inputs()
    layer = make_layer(variant, return_sequences=True, dropout=0.5, seed=5)
    layer.build(x.shape)
    randomize(layer)
    drawn = []
    draw = layer.cell.get_dropout_mask

    def recording_get_dropout_mask(step_input):
        mask = draw(step_input)
        drawn.append(mask)
        return mask

    layer.cell.get_dropout_mask = recording_get_dropout_mask
    training = to_numpy(layer(x, training=True))
    assert drawn, "the layer never asked its cell for the dropout mask"
    masks = [to_numpy(m) for m in drawn]
    mask = masks[0]
    replay = to_numpy(layer(x * mask[:, None, :], training=False))

    assert mask.shape == (BATCH, FEATURES)
    assert all(np.array_equal(m, mask) for m in masks)
    assert set(np.unique(mask)) == {0.0, 2.0}
    np.testing.assert_allclose(training, replay, atol=1e-5)


def test_simple_rnn_input_dropout_mask_is_constant_over_time():
    # Identity input kernel, no recurrence, linear: output_t = x_t * mask.
    layer = seqcore.SimpleRNN(
        8,
        activation="linear",
        use_bias=False,
        kernel_initializer="identity",
        recurrent_initializer="zeros",
        dropout=0.5,
        return_sequences=True,
        seed=11,
    )
    x = np.ones((4, TIME, 8), "float32")

    out = to_numpy(layer(x, training=True))

    assert set(np.unique(out)) == {0.0, 2.0}
    np.testing.assert_array_equal(out, np.repeat(out[:, :1], TIME, axis=1))


def test_simple_rnn_recurrent_dropout_mask_is_constant_over_time():
    # Identity kernels, linear: h_t = 1 + m * h_{t-1} with m in {0, 2} per unit.
    # A fixed mask gives 1, 1, 1, ... (m=0) or 1, 3, 7, 15, ... (m=2).
    layer = seqcore.SimpleRNN(
        8,
        activation="linear",
        use_bias=False,
        kernel_initializer="identity",
        recurrent_initializer="identity",
        recurrent_dropout=0.5,
        return_sequences=True,
        seed=11,
    )
    x = np.ones((4, TIME, 8), "float32")

    out = to_numpy(layer(x, training=True))

    kept = 2.0 ** np.arange(1, TIME + 1) - 1
    is_kept = np.all(out == kept[None, :, None], axis=1)
    is_dropped = np.all(out == 1.0, axis=1)
    assert np.all(is_kept | is_dropped)
    assert is_kept.any() and is_dropped.any()


# --- training ---------------------------------------------------------------------


def test_one_training_step_decreases_loss(variant):
    keras.utils.set_random_seed(0)
    x = random_inputs(seed=4, shape=(16, TIME, FEATURES))
    y = targets(x)
    model = recurrent_model(variant)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=True)

    before = model.evaluate(x, y, batch_size=16, verbose=0)
    model.train_on_batch(x, y)
    after = model.evaluate(x, y, batch_size=16, verbose=0)

    assert np.isfinite(after)
    assert after < before
