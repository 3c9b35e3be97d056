"""Invalid arguments fail early with a `ValueError` naming the argument and the value."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqcore

CELLS = [seqcore.SimpleRNNCell, seqcore.LSTMCell, seqcore.GRUCell]
LAYERS = [seqcore.SimpleRNN, seqcore.LSTM, seqcore.GRU]
CUDNN_LAYERS = [seqcore.LSTM, seqcore.GRU]
LAYER_NORM_CLASSES = [seqcore.LSTMCell, seqcore.GRUCell, seqcore.LSTM, seqcore.GRU]

# (argument, invalid value, classes that take the argument)
INVALID = [
    ("units", 0, CELLS + LAYERS),
    ("units", -1, CELLS + LAYERS),
    ("units", 2.5, CELLS + LAYERS),
    ("dropout", 1.5, CELLS + LAYERS),
    ("dropout", -0.1, CELLS + LAYERS),
    ("recurrent_dropout", 1.0, CELLS + LAYERS),
    ("seed", "x", CELLS + LAYERS),
    ("return_sequences", "no", LAYERS),
    ("use_cudnn", "yes", CUDNN_LAYERS),
    ("layer_norm_epsilon", 0, LAYER_NORM_CLASSES),
]
CASES = [
    pytest.param(cls, name, value, id=f"{cls.__name__}-{name}={value!r}")
    for name, value, classes in INVALID
    for cls in classes
]
# 1.0 == True in Python: only the exact values "auto", True, False are use_cudnn values.
CASES += [
    pytest.param(cls, "use_cudnn", value, id=f"{cls.__name__}-use_cudnn={value!r}")
    for value in (1.0, 0.0)
    for cls in CUDNN_LAYERS
]


def names_argument_and_value(message, name, value):
    """Keras's convention: the message ends `Received: units=-1` (repr or str of the value)."""
    return any(f"Received: {name}={shown}" in message for shown in (repr(value), str(value)))


@pytest.mark.parametrize("cls, name, value", CASES)
def test_invalid_argument_raises_value_error_naming_it(cls, name, value):
    kwargs = {"units": 3, name: value}

    with pytest.raises(ValueError) as info:
        cls(**kwargs)

    assert names_argument_and_value(str(info.value), name, value), str(info.value)


@pytest.mark.parametrize("cls", CELLS + LAYERS, ids=lambda cls: cls.__name__)
def test_boundary_values_are_accepted(cls):
    # The valid side of each boundary used above.
    layer = cls(1, dropout=0.0, recurrent_dropout=0.999, seed=0)

    assert (layer.units, layer.dropout, layer.recurrent_dropout, layer.seed) == (1, 0.0, 0.999, 0)


@pytest.mark.parametrize("cls", LAYERS, ids=lambda cls: cls.__name__)
def test_numpy_scalars_are_accepted_like_python_ones(cls):
    # Keras accepts NumPy scalars (e.g. from a hyper-parameter grid); so must a drop-in.
    layer = cls(np.int64(3), dropout=np.float32(0.25), return_sequences=np.True_)

    assert (layer.units, layer.dropout, layer.return_sequences) == (3, 0.25, True)
    assert type(layer.units) is int and type(layer.return_sequences) is bool


@pytest.mark.parametrize("cls", CUDNN_LAYERS, ids=lambda cls: cls.__name__)
def test_use_cudnn_true_without_cudnn_fails_at_call_time(cls):
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("cuDNN may be available on this machine")
    layer = cls(3, use_cudnn=True)  # construction succeeds
    x = np.zeros((2, 5, 4), "float32")

    with pytest.raises(ValueError, match=r"use_cudnn.*Received: use_cudnn=True"):
        layer(x)


@pytest.mark.parametrize("cls", CUDNN_LAYERS, ids=lambda cls: cls.__name__)
def test_use_cudnn_numpy_true_behaves_like_true(cls):
    # Keras treats np.True_ as True; seqcore must either do the same or reject it.
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("cuDNN may be available on this machine")
    x = np.zeros((2, 5, 4), "float32")

    with pytest.raises(ValueError, match="use_cudnn"):
        cls(3, use_cudnn=np.True_)(x)


@pytest.mark.parametrize(
    "layer",
    [
        seqcore.LSTM(3, use_cudnn=True, peephole=True),
        seqcore.LSTM(3, use_cudnn=True, layer_norm=True),
        seqcore.GRU(3, use_cudnn=True, layer_norm=True),
        seqcore.GRU(3, use_cudnn=True, recurrent_dropout=0.5),
    ],
    ids=["lstm_peephole", "lstm_layer_norm", "gru_layer_norm", "gru_recurrent_dropout"],
)
def test_use_cudnn_true_with_unsupported_options_fails_on_any_machine(layer):
    x = np.zeros((2, 5, 4), "float32")

    with pytest.raises(ValueError, match=r"use_cudnn.*Received: use_cudnn=True"):
        layer(x, training=True)


@pytest.mark.parametrize("cls", CUDNN_LAYERS, ids=lambda cls: cls.__name__)
def test_use_cudnn_false_and_auto_run_everywhere(cls):
    x = np.ones((2, 5, 4), "float32")
    outputs = [
        keras.ops.convert_to_numpy(
            cls(3, use_cudnn=choice, kernel_initializer="ones", recurrent_initializer="ones")(x)
        )
        for choice in ("auto", False)
    ]

    assert outputs[0].shape == (2, 3)
    assert np.all(outputs[0] != 0)
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-6)
