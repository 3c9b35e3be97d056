"""Gradient clipping, the gradient-norm logger and truncated BPTT."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqcore
from seqcore.training import DEFAULT_CLIP_NORM, GradientNormLogger, clipped_optimizer


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
    model.compile(keras.optimizers.SGD(0.1), "mse")
    expected = _hand_norm(model, x, y)
    history = model.fit(
        x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[GradientNormLogger()]
    )
    assert history.history["grad_norm"][0] == pytest.approx(expected, rel=1e-5)


def test_grad_norm_is_logged_before_clipping():
    x, y = _data()
    model = _lstm_model()
    model.compile(keras.optimizers.Adam(0.01, global_clipnorm=1e-3), "mse")
    expected = _hand_norm(model, x, y)
    assert expected > 0.1  # far above the clipping threshold
    history = model.fit(
        x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[GradientNormLogger()]
    )
    assert history.history["grad_norm"][0] == pytest.approx(expected, rel=1e-5)


def test_grad_norm_is_the_mean_over_the_epochs_batches():
    x, y = _data(batch=8)
    model = _lstm_model()
    model.compile(keras.optimizers.SGD(0.0), "mse")  # weights stay put
    expected = np.mean([_hand_norm(model, x[:4], y[:4]), _hand_norm(model, x[4:], y[4:])])
    history = model.fit(
        x, y, batch_size=4, epochs=2, verbose=0, shuffle=False, callbacks=[GradientNormLogger()]
    )
    np.testing.assert_allclose(history.history["grad_norm"], [expected, expected], rtol=1e-5)


def test_grad_norm_after_an_earlier_fit_and_the_optimizer_is_restored():
    x, y = _data()
    model = _lstm_model()
    optimizer = keras.optimizers.SGD(0.1)
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
    model.compile(keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1)), "mse")
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


def test_docstring_examples_run():
    import doctest

    import seqcore.training

    result = doctest.testmod(seqcore.training)
    assert result.attempted > 0
    assert result.failed == 0
