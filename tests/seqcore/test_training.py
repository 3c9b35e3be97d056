"""Gradient clipping, the gradient-norm logger and truncated BPTT."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqcore
from seqcore.training import (
    DEFAULT_CLIP_NORM,
    GradientNormLogger,
    GradientNormTracker,
    TruncatedBPTT,
    clipped_optimizer,
)


def _data(batch=8, steps=5, features=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, features)).astype("float32")
    y = rng.standard_normal((batch, 1)).astype("float32")
    return x, y


def _lstm_model():
    return keras.Sequential([keras.Input((5, 2)), seqcore.LSTM(3), keras.layers.Dense(1)])


def _hand_norm(model, x, y):
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_weights)
    return float(np.sqrt(sum(np.sum(np.square(g.numpy())) for g in grads)))


# clipped_optimizer


def test_default_clip_norm_is_one():
    assert DEFAULT_CLIP_NORM == 1.0
    assert clipped_optimizer().global_clipnorm == 1.0


@pytest.mark.parametrize("name, cls", [("adam", "Adam"), ("sgd", "SGD"), ("rmsprop", "RMSprop")])
def test_clipped_optimizer_by_name(name, cls):
    optimizer = clipped_optimizer(name, learning_rate=0.05, clip_norm=2.0)
    assert type(optimizer).__name__ == cls
    assert optimizer.global_clipnorm == 2.0
    assert optimizer.clipnorm is None
    assert float(optimizer.learning_rate) == pytest.approx(0.05)


def test_clipped_optimizer_from_instance_keeps_its_settings():
    base = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.5, clipnorm=3.0)
    optimizer = clipped_optimizer(base, clip_norm=0.25)
    assert optimizer is not base
    assert optimizer.beta_1 == 0.5
    assert float(optimizer.learning_rate) == pytest.approx(0.02)
    assert optimizer.global_clipnorm == 0.25
    assert optimizer.clipnorm is None


def test_clipped_optimizer_none_disables_clipping():
    optimizer = clipped_optimizer("adam", clip_norm=None)
    assert optimizer.global_clipnorm is None


def test_clipped_optimizer_clips_the_update():
    variable = keras.Variable(np.zeros(2, "float32"))
    optimizer = clipped_optimizer("sgd", learning_rate=1.0, clip_norm=1.0)
    optimizer.apply([tf.constant([30.0, 40.0])], [variable])
    np.testing.assert_allclose(variable.numpy(), [-0.6, -0.8], atol=1e-6)


@pytest.mark.parametrize("clip_norm", [0, -1.0, "1", True])
def test_clipped_optimizer_rejects_bad_clip_norm(clip_norm):
    with pytest.raises(ValueError, match="clip_norm"):
        clipped_optimizer("adam", clip_norm=clip_norm)


def test_clipped_optimizer_rejects_unknown_name():
    with pytest.raises(ValueError, match="name_or_optimizer"):
        clipped_optimizer("not_an_optimizer")


# GradientNormLogger


def test_grad_norm_equals_hand_computed_norm_for_one_batch_epoch():
    x, y = _data()
    model = _lstm_model()
    model.compile(GradientNormTracker(keras.optimizers.SGD(0.1)), "mse")
    expected = _hand_norm(model, x, y)
    history = model.fit(
        x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[GradientNormLogger()]
    )
    assert history.history["grad_norm"][0] == pytest.approx(expected, rel=1e-5)


def test_grad_norm_is_logged_before_clipping():
    x, y = _data()
    model = _lstm_model()
    model.compile(GradientNormTracker(keras.optimizers.Adam(0.01, global_clipnorm=1e-3)), "mse")
    expected = _hand_norm(model, x, y)
    assert expected > 0.1  # far above the clipping threshold
    history = model.fit(
        x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[GradientNormLogger()]
    )
    assert history.history["grad_norm"][0] == pytest.approx(expected, rel=1e-5)


def test_grad_norm_is_the_mean_over_the_epochs_batches():
    x, y = _data(batch=8)
    model = _lstm_model()
    model.compile(GradientNormTracker(keras.optimizers.SGD(0.0)), "mse")  # weights stay put
    expected = np.mean([_hand_norm(model, x[:4], y[:4]), _hand_norm(model, x[4:], y[4:])])
    history = model.fit(
        x, y, batch_size=4, epochs=2, verbose=0, shuffle=False, callbacks=[GradientNormLogger()]
    )
    np.testing.assert_allclose(history.history["grad_norm"], [expected, expected], rtol=1e-5)


def test_grad_norm_after_an_earlier_fit_and_the_optimizer_is_restored():
    x, y = _data()
    model = _lstm_model()
    optimizer = GradientNormTracker(keras.optimizers.SGD(0.1))
    model.compile(optimizer, "mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # train function already traced
    expected = _hand_norm(model, x, y)
    history = model.fit(
        x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[GradientNormLogger()]
    )
    assert history.history["grad_norm"][0] == pytest.approx(expected, rel=1e-5)
    assert "apply" not in vars(optimizer)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert "grad_norm" not in history.history


def test_grad_norm_with_loss_scaling_is_unscaled():
    x, y = _data()
    model = _lstm_model()
    model.compile(
        GradientNormTracker(keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1))), "mse"
    )
    expected = _hand_norm(model, x, y)
    history = model.fit(
        x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[GradientNormLogger()]
    )
    assert history.history["grad_norm"][0] == pytest.approx(expected, rel=1e-4)


def test_grad_norm_logger_needs_a_compiled_model():
    logger = GradientNormLogger()
    logger.set_model(_lstm_model())
    with pytest.raises(ValueError, match="compiled model"):
        logger.on_train_begin()


@pytest.mark.parametrize("module", ["seqcore.training", "seqcore.tbptt"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0
    assert result.failed == 0


# TruncatedBPTT


def _stack(return_sequences=True, features=2):
    return keras.Sequential(
        [
            keras.Input((None, features)),
            seqcore.GRU(3, return_sequences=True),
            seqcore.LSTM(4, return_sequences=return_sequences),
            keras.layers.Dense(1),
        ]
    )


def _sequences(batch=4, steps=12, features=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, features)).astype("float32")
    y = rng.standard_normal((batch, steps, 1)).astype("float32")
    return x, y


def _max_weight_diff(a, b):
    return max(
        float(np.max(np.abs(u - v))) for u, v in zip(a.get_weights(), b.get_weights(), strict=True)
    )


@pytest.mark.parametrize("per_step", [True, False], ids=["per_step", "final"])
@pytest.mark.parametrize("k1, k2", [(12, 12), (5, 12), (4, 30)])
def test_tbptt_equals_full_bptt_when_k2_covers_the_sequence(per_step, k1, k2):
    x, y = _sequences()
    if not per_step:
        y = y[:, -1]
    full, truncated = _stack(per_step), _stack(per_step)
    truncated.set_weights(full.get_weights())
    full.compile(keras.optimizers.SGD(0.5), "mse")
    full.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    trainer = TruncatedBPTT(truncated, k1=k1, k2=k2)
    trainer.compile(keras.optimizers.SGD(0.5), "mse")
    trainer.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    assert int(trainer.optimizer.iterations) == 1
    assert _max_weight_diff(full, truncated) < 1e-5
    assert _max_weight_diff(full, _stack(per_step)) > 1e-3  # the update did something


def _reference_tbptt(model, x, y, k, learning_rate):
    """Chunked TBPTT by hand: the layers' cells in `keras.layers.RNN` wrappers that return
    their states, SGD, the states carried across chunks with the gradient stopped."""
    rnns = [
        keras.layers.RNN(layer.cell, return_sequences=True, return_state=True)
        for layer in model.layers[:2]
    ]
    dense = model.layers[2]
    states = [None, None]
    for start in range(0, x.shape[1], k):
        chunk = x[:, start : start + k]
        with tf.GradientTape() as tape:
            h = chunk
            for i, rnn in enumerate(rnns):
                initial = None if states[i] is None else [tf.stop_gradient(s) for s in states[i]]
                h, *states[i] = rnn(h, initial_state=initial)
            loss = tf.reduce_mean(tf.square(dense(h) - y[:, start : start + k]))
        grads = tape.gradient(loss, model.trainable_weights)
        for variable, grad in zip(model.trainable_weights, grads, strict=True):
            variable.assign_sub(learning_rate * grad)


@pytest.mark.parametrize("k", [5])  # two full chunks and a 2-step remainder
def test_tbptt_chunks_match_a_hand_written_reference(k):
    x, y = _sequences(steps=12)
    ours, reference = _stack(), _stack()
    reference.set_weights(ours.get_weights())
    trainer = TruncatedBPTT(ours, k1=k)
    trainer.compile(keras.optimizers.SGD(0.5), "mse")
    trainer.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    _reference_tbptt(reference, x, y, k, 0.5)
    assert int(trainer.optimizer.iterations) == -(-12 // k)
    assert _max_weight_diff(ours, reference) < 1e-5


@pytest.mark.parametrize(
    "steps, k1, k2, updates", [(20, 5, 5, 4), (20, 6, 6, 4), (20, 4, 8, 4), (20, 3, 7, 6)]
)
def test_tbptt_updates_every_k1_steps(steps, k1, k2, updates):
    x, y = _sequences(steps=steps)
    model = keras.Sequential(
        [keras.Input((None, 2)), seqcore.SimpleRNN(2, return_sequences=True), keras.layers.Dense(1)]
    )
    trainer = TruncatedBPTT(model, k1=k1, k2=k2)
    trainer.compile(keras.optimizers.SGD(0.1), "mse", metrics=["mae"])
    history = trainer.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert int(trainer.optimizer.iterations) == updates
    assert set(history.history) == {"loss", "mae"}
    assert np.isfinite(history.history["loss"][0])


def test_tbptt_final_targets_update_once_per_batch():
    x, y = _sequences(steps=20)
    trainer = TruncatedBPTT(_stack(return_sequences=False), k1=5)
    trainer.compile(keras.optimizers.SGD(0.1), "mse")
    trainer.fit(x, y[:, -1], batch_size=2, epochs=1, verbose=0)
    assert int(trainer.optimizer.iterations) == 2


def _delay_task(n=64, steps=16, delay=2, seed=0):
    """Per-step target: the input `delay` steps earlier (0 before that)."""
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(n, steps, 1)).astype("float32")
    y = np.zeros_like(x)
    y[:, delay:] = x[:, :-delay]
    return x, y


@pytest.mark.parametrize("carry_states", [True, False])
def test_tbptt_carries_the_states_across_chunks(carry_states):
    # Chunks of 4 steps, target = input 2 steps earlier: in every chunk after the first,
    # the targets of the first 2 steps are inputs of the previous chunk. With the states
    # carried the task is learned; with them reset, those targets are coin flips
    # (MSE >= 1 on 2 of every 4 steps of 3 of the 4 chunks: loss >= 0.375).
    x, y = _delay_task()
    model = keras.Sequential(
        [keras.Input((None, 1)), seqcore.SimpleRNN(8, return_sequences=True), keras.layers.Dense(1)]
    )
    trainer = TruncatedBPTT(model, k1=4, carry_states=carry_states)
    trainer.compile(keras.optimizers.Adam(0.03), "mse")
    history = trainer.fit(x, y, batch_size=16, epochs=12, verbose=0)
    final = history.history["loss"][-1]
    if carry_states:
        assert final < 0.05
        assert float(np.mean((model.predict(x, verbose=0) - y) ** 2)) < 0.05
    else:
        assert final > 0.3


def test_tbptt_carries_lstm_and_keras_layer_states():
    x, y = _delay_task(n=32)
    model = keras.Sequential(
        [
            keras.Input((None, 1)),
            seqcore.LSTM(4, return_sequences=True),
            keras.layers.GRU(4, return_sequences=True),
            keras.layers.Dense(1),
        ]
    )
    reference = keras.models.clone_model(model)
    reference.set_weights(model.get_weights())
    trainer = TruncatedBPTT(model, k1=4)
    trainer.compile(keras.optimizers.SGD(0.5), "mse")
    trainer.fit(x[:4], y[:4], batch_size=4, epochs=1, verbose=0, shuffle=False)
    # The same updates by hand: run each chunk from the previous chunk's final states.
    lstm = keras.layers.RNN(reference.layers[0].cell, return_sequences=True, return_state=True)
    gru, dense = reference.layers[1], reference.layers[2]
    gru_ref = keras.layers.GRU(4, return_sequences=True, return_state=True)
    gru_ref.build((None, None, 4))
    gru_ref.set_weights(gru.get_weights())
    weights = [
        *reference.layers[0].trainable_weights,
        *gru_ref.trainable_weights,
        *dense.trainable_weights,
    ]
    states = None
    for start in range(0, 16, 4):
        with tf.GradientTape() as tape:
            init = None if states is None else [tf.stop_gradient(s) for s in states[0]]
            h, hs, cs = lstm(x[:4, start : start + 4], initial_state=init)
            init = None if states is None else tf.stop_gradient(states[1])
            g, gs = gru_ref(h, initial_state=init)
            loss = tf.reduce_mean(tf.square(dense(g) - y[:4, start : start + 4]))
        states = ([hs, cs], gs)
        for variable, grad in zip(weights, tape.gradient(loss, weights), strict=True):
            variable.assign_sub(0.5 * grad)
    np.testing.assert_allclose(
        model.layers[0].get_weights()[1], reference.layers[0].get_weights()[1], atol=1e-5
    )
    np.testing.assert_allclose(
        model.layers[1].get_weights()[1], gru_ref.get_weights()[1], atol=1e-5
    )


def test_tbptt_functional_model_with_fixed_length_input():
    inputs = keras.Input((12, 2))
    hidden = seqcore.LSTM(3, return_sequences=True)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    before = model.get_weights()
    x, y = _sequences()
    trainer = TruncatedBPTT(model, k1=4)
    trainer.compile(keras.optimizers.SGD(0.1), "mse")
    trainer.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert int(trainer.optimizer.iterations) == 3
    assert any(np.max(np.abs(a - b)) > 0 for a, b in zip(before, model.get_weights(), strict=True))
    assert trainer.predict(x, verbose=0).shape == (4, 12, 1)


def test_tbptt_refuses_bidirectional():
    model = keras.Sequential(
        [
            keras.Input((None, 2)),
            keras.layers.Bidirectional(seqcore.LSTM(3, return_sequences=True), name="bi"),
            keras.layers.Dense(1),
        ]
    )
    with pytest.raises(ValueError, match="bidirectional.*'bi'"):
        TruncatedBPTT(model, k1=4)


def test_tbptt_refuses_backwards_and_stateful_layers():
    backwards = keras.Sequential([keras.Input((None, 2)), seqcore.GRU(3, go_backwards=True)])
    with pytest.raises(ValueError, match="go_backwards=True"):
        TruncatedBPTT(backwards, k1=4)
    stateful = keras.Sequential([keras.Input(batch_shape=(2, 5, 2)), seqcore.GRU(3, stateful=True)])
    with pytest.raises(ValueError, match="stateful=True"):
        TruncatedBPTT(stateful, k1=4)


def test_tbptt_refuses_a_model_without_recurrent_layers():
    with pytest.raises(ValueError, match="at least one recurrent layer"):
        TruncatedBPTT(keras.Sequential([keras.Input((None, 2)), keras.layers.Dense(1)]), k1=4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k1": 0}, "k1"),
        ({"k1": 2.5}, "k1"),
        ({"k1": 4, "k2": 3}, "k2"),
        ({"k1": 4, "targets": "every"}, "targets"),
        ({"k1": 4, "carry_states": 1}, "carry_states"),
    ],
)
def test_tbptt_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TruncatedBPTT(_stack(), **kwargs)


def test_tbptt_rejects_per_step_targets_of_the_wrong_length():
    x, y = _sequences()
    trainer = TruncatedBPTT(_stack(), k1=4, targets="per_step")
    trainer.compile(keras.optimizers.SGD(0.1), "mse")
    with pytest.raises(ValueError, match=r"targets of shape \(batch, 12"):
        trainer.fit(x, y[:, :5], batch_size=4, epochs=1, verbose=0)


def test_tbptt_logs_grad_norm_with_the_logger():
    x, y = _sequences()
    model = keras.Sequential(
        [keras.Input((None, 2)), seqcore.SimpleRNN(2, return_sequences=True), keras.layers.Dense(1)]
    )
    trainer = TruncatedBPTT(model, k1=4)
    trainer.compile(GradientNormTracker(clipped_optimizer("sgd", 0.1)), "mse")
    history = trainer.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[GradientNormLogger()])
    assert len(history.history["grad_norm"]) == 2
    assert all(value > 0 for value in history.history["grad_norm"])


def test_tbptt_config_round_trip():
    trainer = TruncatedBPTT(_stack(), k1=4, k2=8, targets="per_step", carry_states=False)
    restored = TruncatedBPTT.from_config(trainer.get_config())
    assert (restored.k1, restored.k2, restored.targets, restored.carry_states) == (
        4,
        8,
        "per_step",
        False,
    )
    assert len(restored.model.layers) == 3


_MIRRORED_SCRIPT = """
import numpy as np, keras, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import seqcore
from seqcore.training import GradientNormLogger, GradientNormTracker
rng = np.random.default_rng(0)
x = rng.standard_normal((8, 5, 2)).astype("float32")
y = rng.standard_normal((8, 1)).astype("float32")
with tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"]).scope():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5, 2)), seqcore.LSTM(3), keras.layers.Dense(1)])
    model.compile(GradientNormTracker(keras.optimizers.SGD(0.1)), "mse")
with tf.GradientTape() as tape:
    loss = keras.losses.MeanSquaredError()(y, model(x))
expected = float(tf.linalg.global_norm(tape.gradient(loss, model.trainable_weights)))
history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False,
                    callbacks=[GradientNormLogger()])
print("NORMS", expected, history.history["grad_norm"][0])
"""


def test_grad_norm_under_a_two_replica_strategy_is_the_whole_batch_norm():
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _MIRRORED_SCRIPT], capture_output=True, text=True, check=True
    )
    line = next(line for line in proc.stdout.splitlines() if line.startswith("NORMS"))
    expected, logged = (float(v) for v in line.split()[1:])
    assert logged == pytest.approx(expected, rel=1e-5)


# GradientNormTracker


def test_grad_norm_logger_names_the_tracker_it_needs():
    x, y = _data()
    model = _lstm_model()
    model.compile(keras.optimizers.SGD(0.1), "mse")
    with pytest.raises(
        ValueError, match=r"GradientNormTracker\(optimizer\).*Received: optimizer SGD"
    ):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[GradientNormLogger()])


def test_tracker_applies_the_same_updates_as_its_inner_optimizer():
    x, y = _data()
    plain, tracked = _lstm_model(), _lstm_model()
    tracked.set_weights(plain.get_weights())
    plain.compile(keras.optimizers.Adam(0.01, global_clipnorm=0.5), "mse")
    tracked.compile(GradientNormTracker(keras.optimizers.Adam(0.01, global_clipnorm=0.5)), "mse")
    for model in (plain, tracked):
        model.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(plain.get_weights(), tracked.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert int(tracked.optimizer.iterations) == int(plain.optimizer.iterations) == 4
    assert tracked.optimizer.updates_counted == 4


def test_tracker_is_found_inside_keras_mixed_precision_wrapper():
    from seqcore.training import find_tracker

    tracker = GradientNormTracker("sgd")
    wrapped = keras.optimizers.LossScaleOptimizer(tracker)
    assert find_tracker(wrapped) is tracker
    assert find_tracker(keras.optimizers.SGD()) is None


def test_tracked_model_saves_and_loads_with_its_optimizer(tmp_path):
    x, y = _data()
    model = _lstm_model()
    model.compile(GradientNormTracker(clipped_optimizer("adam", 0.01)), "mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.optimizer, GradientNormTracker)
    assert loaded.optimizer.inner_optimizer.global_clipnorm == DEFAULT_CLIP_NORM
    history = loaded.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[GradientNormLogger()])
    assert history.history["grad_norm"][0] > 0


def test_tracker_rejects_options_meant_for_the_inner_optimizer():
    with pytest.raises(ValueError, match="clipnorm"):
        GradientNormTracker("adam", clipnorm=1.0)
    with pytest.raises(ValueError, match="inner_optimizer"):
        GradientNormTracker(3)
