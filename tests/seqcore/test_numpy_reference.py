"""seqcore's layers against NumPy loops written from the papers' equations.

The references below are independent of seqcore's code: one function per cell
step, in float64, and a loop over time that applies Keras's masking rule (a
masked step keeps the previous states and repeats the previous output; the
output before the first step is zeros). Gate order follows Keras: LSTM i, f, c,
o; GRU z, r, h.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqcore

BATCH, TIME, FEATURES, UNITS = 3, 6, 4, 5
ATOL = 1e-5
EPSILON = 1e-5

HOLES = np.array([[1, 0, 1, 1, 0, 1], [0, 0, 0, 0, 0, 0], [0, 1, 1, 0, 1, 0]], dtype=bool)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def normalise(x, gamma, beta=0.0, epsilon=EPSILON):
    """Layer normalisation (Ba et al. 2016) over the last axis, population variance."""
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def blocks(matrix, count):
    """The `count` gate blocks of the last axis of `matrix`."""
    return np.split(matrix, count, axis=-1)


def simple_rnn_step(w, x, states, epsilon):
    (h,) = states
    h = np.tanh(x @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"])
    return h, [h]


def lstm_step(w, x, states, epsilon):
    """LSTM (Hochreiter & Schmidhuber 1997) with the forget gate (Gers et al. 2000),
    optional peepholes (Gers & Schmidhuber 2000) and optional layer normalisation
    (Ba et al. 2016) of each gate block of x W and of h U and of c_t before tanh."""
    h_prev, c_prev = states
    x_blocks = blocks(x @ w["kernel"], 4)
    h_blocks = blocks(h_prev @ w["recurrent_kernel"], 4)
    b_i, b_f, b_c, b_o = blocks(w["bias"], 4)
    if "input_norm_gamma" in w:
        g_x, g_h = blocks(w["input_norm_gamma"], 4), blocks(w["recurrent_norm_gamma"], 4)
        x_blocks = [normalise(v, g, epsilon=epsilon) for v, g in zip(x_blocks, g_x, strict=True)]
        h_blocks = [normalise(v, g, epsilon=epsilon) for v, g in zip(h_blocks, g_h, strict=True)]
    (x_i, x_f, x_c, x_o), (h_i, h_f, h_c, h_o) = x_blocks, h_blocks
    p_i = w.get("input_gate_peephole_weights", 0.0)
    p_f = w.get("forget_gate_peephole_weights", 0.0)
    p_o = w.get("output_gate_peephole_weights", 0.0)
    i = sigmoid(x_i + h_i + p_i * c_prev + b_i)
    f = sigmoid(x_f + h_f + p_f * c_prev + b_f)
    c = f * c_prev + i * np.tanh(x_c + h_c + b_c)
    o = sigmoid(x_o + h_o + p_o * c + b_o)
    if "cell_norm_gamma" in w:
        h = o * np.tanh(normalise(c, w["cell_norm_gamma"], w["cell_norm_beta"], epsilon))
    else:
        h = o * np.tanh(c)
    return h, [h, c]


def gru_step(w, x, states, epsilon):
    """GRU (Cho et al. 2014); reset_after=True applies r after the recurrent matmul
    (with a separate recurrent bias), reset_after=False before it. With layer
    normalisation each gate block of the projections is normalised before the
    biases are added."""
    (h_prev,) = states
    u_z, u_r, u_h = blocks(w["recurrent_kernel"], 3)
    layer_norm = "input_norm_gamma" in w
    g_x = blocks(w["input_norm_gamma"], 3) if layer_norm else [1.0] * 3
    g_h = blocks(w["recurrent_norm_gamma"], 3) if layer_norm else [1.0] * 3

    def norm(value, gamma):
        return normalise(value, gamma, epsilon=epsilon) if layer_norm else value

    x_z, x_r, x_h = (norm(v, g) for v, g in zip(blocks(x @ w["kernel"], 3), g_x, strict=True))
    reset_after = w["bias"].ndim == 2
    if reset_after:
        (b_z, b_r, b_h), (rb_z, rb_r, rb_h) = blocks(w["bias"][0], 3), blocks(w["bias"][1], 3)
        z = sigmoid(x_z + b_z + norm(h_prev @ u_z, g_h[0]) + rb_z)
        r = sigmoid(x_r + b_r + norm(h_prev @ u_r, g_h[1]) + rb_r)
        candidate = np.tanh(x_h + b_h + r * (norm(h_prev @ u_h, g_h[2]) + rb_h))
    else:
        b_z, b_r, b_h = blocks(w["bias"], 3)
        z = sigmoid(x_z + b_z + norm(h_prev @ u_z, g_h[0]))
        r = sigmoid(x_r + b_r + norm(h_prev @ u_r, g_h[1]))
        candidate = np.tanh(x_h + b_h + norm((r * h_prev) @ u_h, g_h[2]))
    h = z * h_prev + (1 - z) * candidate
    return h, [h]


def run_reference(step, weights, inputs, mask=None, go_backwards=False, epsilon=EPSILON):
    """Runs `step` over time; returns outputs in processing order and final states."""
    inputs = inputs.astype("float64")
    w = {name: value.astype("float64") for name, value in weights.items()}
    batch, time = inputs.shape[:2]
    state_count = 2 if step is lstm_step else 1
    states = [np.zeros((batch, UNITS)) for _ in range(state_count)]
    output = np.zeros((batch, UNITS))
    if mask is None:
        mask = np.ones((batch, time), dtype=bool)
    order = range(time - 1, -1, -1) if go_backwards else range(time)
    outputs = []
    for t in order:
        new_output, new_states = step(w, inputs[:, t], states, epsilon)
        keep = mask[:, t, None]
        output = np.where(keep, new_output, output)
        states = [np.where(keep, new, old) for new, old in zip(new_states, states, strict=True)]
        outputs.append(output)
    return np.stack(outputs, axis=1), states


# name -> (seqcore class, constructor arguments, reference step)
VARIANTS = {
    "simple_rnn": (seqcore.SimpleRNN, {}, simple_rnn_step),
    "lstm": (seqcore.LSTM, {}, lstm_step),
    "lstm_peephole": (seqcore.LSTM, {"peephole": True}, lstm_step),
    "lstm_layer_norm": (seqcore.LSTM, {"layer_norm": True}, lstm_step),
    "lstm_peephole_layer_norm": (seqcore.LSTM, {"peephole": True, "layer_norm": True}, lstm_step),
    "gru": (seqcore.GRU, {"reset_after": True}, gru_step),
    "gru_reset_before": (seqcore.GRU, {"reset_after": False}, gru_step),
    "gru_layer_norm": (seqcore.GRU, {"reset_after": True, "layer_norm": True}, gru_step),
    "gru_reset_before_layer_norm": (
        seqcore.GRU,
        {"reset_after": False, "layer_norm": True},
        gru_step,
    ),
}


def random_value(name, shape, rng):
    """Non-trivial values: gains around 1, everything else around 0, no exact zeros."""
    if name.endswith("gamma"):
        return 1.0 + rng.normal(scale=0.4, size=shape)
    return rng.normal(scale=0.5, size=shape)


def build_variant(variant, seed=0, **kwargs):
    """A built seqcore layer with random weights and those weights by name."""
    layer_class, arguments, _ = VARIANTS[variant]
    layer = layer_class(UNITS, return_sequences=True, return_state=True, **arguments, **kwargs)
    layer.build((BATCH, TIME, FEATURES))
    rng = np.random.RandomState(seed)
    for weight in layer.weights:
        name = weight.path.split("/")[-1]
        weight.assign(random_value(name, tuple(weight.shape), rng).astype("float32"))
    return layer, weights_by_name(layer)


def weights_by_name(layer):
    """The weights of a layer (or of `keras.layers.RNN`) by name; a zero bias stands in
    for `use_bias=False`."""
    weights = {w.path.split("/")[-1]: np.asarray(w.numpy()) for w in layer.weights}
    cell = layer.cell
    if not cell.use_bias:
        width = weights["kernel"].shape[1]
        shape = (2, width) if getattr(cell, "reset_after", False) else (width,)
        weights["bias"] = np.zeros(shape, "float32")
    return weights


def random_inputs(seed=1):
    rng = np.random.RandomState(seed)
    return rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")


def run_layer(layer, inputs, mask=None):
    outputs = layer(tf.constant(inputs), mask=None if mask is None else tf.constant(mask))
    return np.asarray(outputs[0]), [np.asarray(state) for state in outputs[1:]]


def assert_matches_reference(layer, weights, variant, inputs, mask=None, epsilon=EPSILON):
    step = VARIANTS[variant][2]
    expected_sequence, expected_states = run_reference(
        step, weights, inputs, mask, layer.go_backwards, epsilon
    )
    sequence, states = run_layer(layer, inputs, mask)
    np.testing.assert_allclose(sequence, expected_sequence, rtol=0, atol=ATOL)
    assert len(states) == len(expected_states)
    for state, expected in zip(states, expected_states, strict=True):
        np.testing.assert_allclose(state, expected, rtol=0, atol=ATOL)


def test_variants_have_the_documented_extra_weights():
    names = {variant: list(build_variant(variant)[1]) for variant in VARIANTS}
    base = ["kernel", "recurrent_kernel", "bias"]
    peepholes = [
        "input_gate_peephole_weights",
        "forget_gate_peephole_weights",
        "output_gate_peephole_weights",
    ]
    norms = ["input_norm_gamma", "recurrent_norm_gamma"]
    assert names["lstm_peephole"] == base + peepholes
    assert names["lstm_layer_norm"] == base + norms + ["cell_norm_gamma", "cell_norm_beta"]
    assert names["gru_layer_norm"] == base + norms
    assert names["gru_reset_before_layer_norm"] == base + norms
    shapes = {
        w.path.split("/")[-1]: tuple(w.shape) for w in build_variant("lstm_layer_norm")[0].weights
    }
    assert shapes["input_norm_gamma"] == shapes["recurrent_norm_gamma"] == (4 * UNITS,)
    assert shapes["cell_norm_gamma"] == shapes["cell_norm_beta"] == (UNITS,)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_layer_matches_numpy_reference(variant, go_backwards):
    layer, weights = build_variant(variant, go_backwards=go_backwards)
    assert_matches_reference(layer, weights, variant, random_inputs())


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_layer_without_bias_matches_numpy_reference(variant):
    layer, weights = build_variant(variant, use_bias=False)
    assert "bias" not in [w.path.split("/")[-1] for w in layer.weights]
    assert_matches_reference(layer, weights, variant, random_inputs(), HOLES)


def test_extra_weights_start_as_documented():
    lstm = seqcore.LSTM(UNITS, peephole=True, layer_norm=True)
    gru = seqcore.GRU(UNITS, layer_norm=True)
    lstm.build((BATCH, TIME, FEATURES))
    gru.build((BATCH, TIME, FEATURES))
    lstm_weights, gru_weights = weights_by_name(lstm), weights_by_name(gru)
    for gate in ("input", "forget", "output"):
        np.testing.assert_array_equal(lstm_weights[f"{gate}_gate_peephole_weights"], 0.0)
    for weights in (lstm_weights, gru_weights):
        np.testing.assert_array_equal(weights["input_norm_gamma"], 1.0)
        np.testing.assert_array_equal(weights["recurrent_norm_gamma"], 1.0)
    np.testing.assert_array_equal(lstm_weights["cell_norm_gamma"], 1.0)
    np.testing.assert_array_equal(lstm_weights["cell_norm_beta"], 0.0)
    assert gru_weights["input_norm_gamma"].shape == (3 * UNITS,)
    assert gru_weights["recurrent_norm_gamma"].shape == (3 * UNITS,)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_masked_steps_keep_previous_state_and_output(variant, go_backwards):
    layer, weights = build_variant(variant, go_backwards=go_backwards)
    inputs = random_inputs()
    assert_matches_reference(layer, weights, variant, inputs, HOLES)

    # The rule itself, read off the layer's outputs (processing order).
    sequence, states = run_layer(layer, inputs, HOLES)
    mask = HOLES[:, ::-1] if go_backwards else HOLES
    for row in range(BATCH):
        previous = np.zeros(UNITS)
        for t in range(TIME):
            if not mask[row, t]:
                np.testing.assert_array_equal(sequence[row, t], previous)
            previous = sequence[row, t]
        last_valid = np.flatnonzero(mask[row])
        expected_h = sequence[row, last_valid[-1]] if last_valid.size else np.zeros(UNITS)
        np.testing.assert_allclose(states[0][row], expected_h, rtol=0, atol=ATOL)
    # A fully masked row keeps the zero initial states.
    for state in states:
        np.testing.assert_array_equal(state[1], np.zeros(UNITS))


@pytest.mark.parametrize(
    "variant", ["lstm_layer_norm", "gru_layer_norm", "gru_reset_before_layer_norm"]
)
def test_layer_norm_epsilon_is_used(variant):
    layer, weights = build_variant(variant, layer_norm_epsilon=0.5)
    inputs = random_inputs()
    assert_matches_reference(layer, weights, variant, inputs, epsilon=0.5)
    default_layer, _ = build_variant(variant)
    assert not np.allclose(run_layer(layer, inputs)[0], run_layer(default_layer, inputs)[0])


CELLS = {
    seqcore.SimpleRNN: seqcore.SimpleRNNCell,
    seqcore.LSTM: seqcore.LSTMCell,
    seqcore.GRU: seqcore.GRUCell,
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cell_in_keras_rnn_matches_numpy_reference(variant):
    layer_class, arguments, step = VARIANTS[variant]
    rnn = keras.layers.RNN(CELLS[layer_class](UNITS, **arguments), return_sequences=True)
    rnn.build((BATCH, TIME, FEATURES))
    rng = np.random.RandomState(3)
    for weight in rnn.weights:
        name = weight.path.split("/")[-1]
        weight.assign(random_value(name, tuple(weight.shape), rng).astype("float32"))
    inputs = random_inputs()
    expected, _ = run_reference(step, weights_by_name(rnn), inputs, HOLES)
    actual = np.asarray(rnn(tf.constant(inputs), mask=tf.constant(HOLES)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=ATOL)


def test_peephole_weights_change_the_output():
    inputs = random_inputs()
    layer, weights = build_variant("lstm_peephole")
    with_peepholes, _ = run_layer(layer, inputs)

    plain, _ = build_variant("lstm")
    plain.set_weights([weights["kernel"], weights["recurrent_kernel"], weights["bias"]])
    without, _ = run_layer(plain, inputs)
    assert np.abs(with_peepholes - without).max() > 1e-2

    zeros = {**weights}
    for name in ("input", "forget", "output"):
        zeros[f"{name}_gate_peephole_weights"] = np.zeros(UNITS, "float32")
    layer.set_weights(list(zeros.values()))
    zero_peepholes, _ = run_layer(layer, inputs)
    np.testing.assert_allclose(zero_peepholes, without, rtol=0, atol=ATOL)


@pytest.mark.parametrize("gate", ["input", "forget", "output"])
def test_each_peephole_vector_matters(gate):
    inputs = random_inputs()
    layer, weights = build_variant("lstm_peephole")
    values = {**weights}
    for name in ("input", "forget", "output"):
        values[f"{name}_gate_peephole_weights"] = np.zeros(UNITS, "float32")
    layer.set_weights(list(values.values()))
    baseline, _ = run_layer(layer, inputs)
    values[f"{gate}_gate_peephole_weights"] = weights[f"{gate}_gate_peephole_weights"]
    layer.set_weights(list(values.values()))
    changed, _ = run_layer(layer, inputs)
    assert np.abs(changed - baseline).max() > 1e-2
    assert_matches_reference(layer, values, "lstm_peephole", inputs)
