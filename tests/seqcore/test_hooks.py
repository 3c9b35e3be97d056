"""Loop hooks: carried states and step perturbations, without replacing `inner_loop`."""

import doctest

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqcore
import seqcore.hooks
from seqcore.diagnostics import gradient_flow
from seqcore.hooks import HookedRNN, hookable, with_hookable_layers
from seqcore.training import TruncatedBPTT

BATCH, STEPS, FEATURES, UNITS = 2, 6, 3, 4


def _x(seed=0, steps=STEPS):
    return np.random.default_rng(seed).normal(size=(BATCH, steps, FEATURES)).astype("float32")


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_carried_states_continue_the_sequence(name):
    layer = getattr(seqcore, name)(UNITS, return_sequences=True)
    x = _x()
    whole = layer(x)
    with layer.carrying_states() as carry:
        first = layer(x[:, :2])
    assert len(carry.final) == (2 if name == "LSTM" else 1)
    with layer.carrying_states(carry.final):
        rest = layer(x[:, 2:])
    np.testing.assert_allclose(np.concatenate([first, rest], axis=1), whole, atol=1e-5)


def test_no_hook_replaces_a_method_on_the_instance():
    layer = seqcore.LSTM(UNITS)
    x = _x()
    with layer.carrying_states(), layer.perturbing_steps():
        assert "inner_loop" not in vars(layer)
        layer(x)
    assert layer.active_hooks == ()


def test_hooks_nest_and_each_sees_every_call():
    layer = seqcore.GRU(UNITS)
    x = _x()
    whole = layer(x)
    with layer.carrying_states() as outer:
        layer(x[:, :3])
        with layer.carrying_states(outer.final) as inner:
            y = layer(x[:, 3:])
            assert layer.active_hooks == (outer, inner)
        assert layer.active_hooks == (outer,)
    assert layer.active_hooks == ()
    # The inner block started from the outer's states: the whole sequence in two calls.
    np.testing.assert_allclose(y, whole, atol=1e-5)
    # Both hooks saw the inner call.
    np.testing.assert_allclose(inner.final[0], y, atol=1e-6)
    np.testing.assert_allclose(outer.final[0], y, atol=1e-6)


def test_a_hook_is_removed_even_when_the_block_raises():
    layer = seqcore.SimpleRNN(UNITS)
    with pytest.raises(RuntimeError), layer.carrying_states():
        raise RuntimeError("boom")
    assert layer.active_hooks == ()


def test_perturbations_are_zero_and_leave_the_outputs_unchanged():
    layer = seqcore.LSTM(UNITS, return_sequences=True)
    x = _x()
    plain = layer(x)
    with tf.GradientTape() as tape, layer.perturbing_steps(tape) as perturbation:
        perturbed = layer(x)
        loss = tf.reduce_sum(perturbed[:, -1])
    np.testing.assert_allclose(perturbed, plain, atol=1e-6)
    assert perturbation.inputs.shape == x.shape
    assert perturbation.hidden.shape == (BATCH, STEPS, UNITS)
    grad = tape.gradient(loss, perturbation.hidden)
    # The loss on the last output: dL/dh_T is all ones, earlier steps only through h_T.
    np.testing.assert_allclose(grad[:, -1], np.ones((BATCH, UNITS)), atol=1e-6)


def test_perturbed_masked_steps_keep_the_previous_state():
    layer = seqcore.GRU(UNITS, return_sequences=True)
    x = _x()
    mask = np.ones((BATCH, STEPS), bool)
    mask[0, 3:] = False
    plain = layer(x, mask=mask)
    with tf.GradientTape() as tape, layer.perturbing_steps(tape) as perturbation:
        perturbed = layer(x, mask=mask)
        loss = tf.reduce_sum(perturbed[:, -1])
    np.testing.assert_allclose(perturbed, plain, atol=1e-6)
    grad = tape.gradient(loss, perturbation.hidden).numpy()
    # Padded steps of row 0 do not touch h: no gradient reaches their perturbation.
    np.testing.assert_allclose(grad[0, 3:], 0.0)
    assert np.abs(grad[0, 2]).sum() > 0


def test_keras_layer_twin_shares_the_cell_and_matches():
    keras_layer = keras.layers.GRU(UNITS, return_sequences=True)
    x = _x()
    expected = keras_layer(x)
    twin = hookable(keras_layer)
    assert isinstance(twin, HookedRNN) and twin.cell is keras_layer.cell
    with twin.carrying_states() as carry:
        first = twin(x[:, :2])
    with twin.carrying_states(carry.final):
        rest = twin(x[:, 2:])
    np.testing.assert_allclose(np.concatenate([first, rest], axis=1), expected, atol=1e-5)
    assert hookable(twin) is twin


def test_gradient_flow_of_a_keras_layer_equals_the_seqcore_layer_with_its_weights():
    x = _x()
    y = np.zeros((BATCH, 1), "float32")
    keras_model = keras.Sequential(
        [keras.Input((STEPS, FEATURES)), keras.layers.LSTM(UNITS), keras.layers.Dense(1)]
    )
    ours = seqcore.convert.to_seqcore(keras_model)
    theirs = gradient_flow(keras_model, x, y)
    mine = gradient_flow(ours, x, y)
    np.testing.assert_allclose(theirs.dh_norms, mine.dh_norms, rtol=1e-4)
    np.testing.assert_allclose(theirs.dx_norms, mine.dx_norms, rtol=1e-4)
    # The user's model is left as it was: same layers, no twin inside.
    assert type(keras_model.layers[0]) is keras.layers.LSTM


def test_subclassed_model_with_a_keras_layer_gets_a_clear_error():
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.rnn = keras.layers.GRU(UNITS, return_sequences=True)

        def call(self, x):
            return self.rnn(x)

    model = Tiny()
    model(_x())
    with pytest.raises(ValueError, match=r"Sequential or Functional.*'gru.*\(GRU\) in Tiny"):
        with_hookable_layers(model, [model.rnn])
    with pytest.raises(ValueError, match="Sequential or Functional"):
        TruncatedBPTT(model, k1=2)


def test_docstring_examples_run():
    result = doctest.testmod(seqcore.hooks, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
