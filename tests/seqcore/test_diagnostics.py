"""Gradient-flow diagnostics against hand-computed and finite-difference references."""

import doctest

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqcore
import seqcore.diagnostics
from seqcore.diagnostics import gradient_flow

BATCH, STEPS, FEATURES, UNITS = 3, 6, 2, 4


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype("float32")
    y = rng.normal(size=(BATCH, 1)).astype("float32")
    return x, y


def _model(layer):
    return keras.Sequential([keras.Input((STEPS, FEATURES)), layer, keras.layers.Dense(1)])


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_simple_rnn_matches_hand_written_bptt():
    x, y = _data()
    model = _model(seqcore.SimpleRNN(UNITS))
    kernel, recurrent, bias, dense_kernel, dense_bias = (
        w.astype("float64") for w in model.get_weights()
    )
    h = np.zeros((BATCH, UNITS))
    history = []
    for t in range(STEPS):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent + bias)
        history.append(h)
    prediction = h @ dense_kernel + dense_bias
    # loss = sum over examples of mean squared error over the one output
    grad = 2.0 * (prediction - y) @ dense_kernel.T  # dL/dh_T
    expected = [None] * STEPS
    grad_x = [None] * STEPS
    for t in reversed(range(STEPS)):
        expected[t] = np.linalg.norm(grad, axis=-1).mean()
        dz = grad * (1.0 - history[t] ** 2)
        grad_x[t] = np.linalg.norm(dz @ kernel.T, axis=-1).mean()
        grad = dz @ recurrent.T

    flow = gradient_flow(model, x, y)

    np.testing.assert_allclose(flow.dh_norms, expected, rtol=1e-4)
    np.testing.assert_allclose(flow.dx_norms, grad_x, rtol=1e-4)
    assert flow.first_last_ratio == pytest.approx(expected[0] / expected[-1], rel=1e-4)
    assert flow.loss == pytest.approx(float(np.sum((prediction - y) ** 2)), rel=1e-5)


def _numpy_lstm_loss(weights, x, y, step=None, unit=None, eps=0.0):
    """LSTM + Dense + summed MSE in float64, with `eps` added to h at (`step`, `unit`)."""
    kernel, recurrent, bias, dense_kernel, dense_bias = (w.astype("float64") for w in weights)
    h = np.zeros((x.shape[0], UNITS))
    c = np.zeros_like(h)
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = np.split(z, 4, axis=-1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        if t == step:
            h = h.copy()
            h[:, unit] += eps
    prediction = h @ dense_kernel + dense_bias
    return ((prediction - y) ** 2).sum(axis=-1)  # per example


def test_lstm_matches_finite_differences():
    x, y = _data(seed=1)
    model = _model(seqcore.LSTM(UNITS))
    weights = model.get_weights()
    eps = 1e-6
    expected = []
    for t in range(STEPS):
        grad = np.zeros((BATCH, UNITS))
        for unit in range(UNITS):
            up = _numpy_lstm_loss(weights, x, y, t, unit, eps)
            down = _numpy_lstm_loss(weights, x, y, t, unit, -eps)
            grad[:, unit] = (up - down) / (2 * eps)
        expected.append(np.linalg.norm(grad, axis=-1).mean())

    flow = gradient_flow(model, x, y)

    np.testing.assert_allclose(flow.dh_norms, expected, rtol=1e-4)
    assert flow.dh_norms[0] < flow.dh_norms[-1]


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_dx_matches_autodiff_of_the_unmodified_model(name):
    x, y = _data(seed=2)
    model = _model(getattr(seqcore, name)(UNITS))
    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = tf.reduce_sum(keras.losses.mean_squared_error(y, model(inputs)))
    expected = np.linalg.norm(tape.gradient(loss, inputs).numpy(), axis=-1).mean(axis=0)

    flow = gradient_flow(model, x, y)

    np.testing.assert_allclose(flow.dx_norms, expected, rtol=1e-4)
    assert flow.loss == pytest.approx(float(loss), rel=1e-5)


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_keras_layers_give_the_same_flow(name):
    x, y = _data(seed=3)
    ours = _model(getattr(seqcore, name)(UNITS))
    theirs = _model(getattr(keras.layers, name)(UNITS))
    theirs.set_weights(ours.get_weights())

    a, b = gradient_flow(ours, x, y), gradient_flow(theirs, x, y)

    np.testing.assert_allclose(a.dh_norms, b.dh_norms, rtol=1e-4)
    np.testing.assert_allclose(a.dx_norms, b.dx_norms, rtol=1e-4)


def test_without_targets_the_output_sum_is_the_loss():
    x, _ = _data()
    layer = seqcore.GRU(UNITS)
    flow = gradient_flow(layer, x)
    assert flow.dh_norms[-1] == pytest.approx(np.sqrt(UNITS), rel=1e-6)  # dL/dh_T = ones
    assert flow.loss == pytest.approx(float(np.sum(layer(x).numpy())), rel=1e-5)
    assert flow.layer == layer.name


def test_per_step_loss_and_a_chosen_layer_of_a_stack():
    x, _ = _data()
    model = keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            seqcore.LSTM(UNITS, return_sequences=True, name="lower"),
            seqcore.GRU(UNITS, return_sequences=True, name="upper"),
            keras.layers.Dense(1),
        ]
    )
    targets = np.zeros((BATCH, STEPS, 1), "float32")
    lower = gradient_flow(model, x, targets, loss="mae", layer="lower")
    upper = gradient_flow(model, x, targets, loss="mae", layer=model.layers[1])
    assert (lower.layer, upper.layer) == ("lower", "upper")
    assert lower.dh_norms.shape == upper.dh_norms.shape == (STEPS,)
    # With a loss at every step, every step gets a direct gradient: nothing vanishes.
    assert np.all(lower.dh_norms > 0) and np.all(upper.dh_norms > 0)
    assert lower.loss == pytest.approx(upper.loss)


def test_masked_trailing_steps_get_no_input_gradient():
    x, y = _data()
    x[:, -2:] = 0.0
    model = keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            keras.layers.Masking(0.0),
            seqcore.LSTM(UNITS),
            keras.layers.Dense(1),
        ]
    )
    flow = gradient_flow(model, x, y)
    np.testing.assert_array_equal(flow.dx_norms[-2:], 0.0)
    assert np.all(flow.dx_norms[:-2] > 0)


def test_to_dict_is_json_ready():
    x, y = _data()
    record = gradient_flow(_model(seqcore.SimpleRNN(UNITS)), x, y).to_dict()
    assert set(record) == {"dh_norms", "dx_norms", "first_last_ratio", "loss", "layer"}
    assert len(record["dh_norms"]) == STEPS
    assert all(isinstance(v, float) for v in record["dh_norms"])


def test_refuses_bidirectional_and_non_recurrent_layers():
    x, y = _data()
    bidirectional = _model(keras.layers.Bidirectional(seqcore.LSTM(UNITS), name="bi"))
    with pytest.raises(ValueError, match="'bi'.*Bidirectional"):
        gradient_flow(bidirectional, x, y)
    with pytest.raises(ValueError, match="recurrent layer"):
        gradient_flow(_model(seqcore.LSTM(UNITS)), x, y, layer=keras.layers.Dense(1))
    with pytest.raises(ValueError, match="layer='nope'"):
        gradient_flow(_model(seqcore.LSTM(UNITS)), x, y, layer="nope")
    dense_only = keras.Sequential([keras.Input((STEPS, FEATURES)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="needs a model with a recurrent layer"):
        gradient_flow(dense_only, x, y)


def test_docstring_examples_run():
    result = doctest.testmod(seqcore.diagnostics)
    assert result.attempted > 0
    assert result.failed == 0
