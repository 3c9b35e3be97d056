"""`seqcore.convert`: Keras's recurrent layers to seqcore's and back, weights included."""

import keras
import numpy as np
import pytest

import seqcore
from seqcore import convert

TIME = 6
FEATURES = 3
KERAS_CLASSES = (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)
SEQCORE_CLASSES = (seqcore.LSTM, seqcore.GRU, seqcore.SimpleRNN)
TWINS = dict(zip(KERAS_CLASSES, SEQCORE_CLASSES, strict=True))


def to_numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def randomize(model, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    model.set_weights(
        [(rng.normal(size=w.shape) * scale).astype(w.dtype) for w in model.get_weights()]
    )


def inputs(seed=1):
    x = np.random.default_rng(seed).normal(size=(3, TIME, FEATURES)).astype("float32")
    x[1, 4:] = 0.0  # padding for the Masking layer
    return x


def walk(layer):
    """The layer and every layer inside it (nested models, Bidirectional halves)."""
    yield layer
    if isinstance(layer, keras.layers.Bidirectional):
        yield from walk(layer.forward_layer)
        yield from walk(layer.backward_layer)
    for inner in getattr(layer, "layers", []):
        yield from walk(inner)


def recurrent_types(model):
    return [
        type(layer)
        for layer in walk(model)
        if isinstance(layer, keras.layers.RNN) and not isinstance(layer, keras.Model)
    ]


def sequential_model():
    return keras.Sequential(
        [
            keras.Input((TIME, FEATURES)),
            keras.layers.Masking(0.0),
            keras.layers.LSTM(4, return_sequences=True, unit_forget_bias=False),
            keras.layers.GRU(4, return_sequences=True, reset_after=False),
            keras.layers.SimpleRNN(3, return_sequences=True, go_backwards=True),
            keras.layers.Bidirectional(keras.layers.LSTM(2)),
            keras.layers.Dense(2),
        ]
    )


def functional_model():
    sub_inputs = keras.Input((TIME, FEATURES))
    sub_hidden = keras.layers.LSTM(3, return_sequences=True)(sub_inputs)
    sub_model = keras.Model(sub_inputs, keras.layers.GRU(3)(sub_hidden), name="sub_model")
    nested_sequential = keras.Sequential(
        [keras.Input((TIME, FEATURES)), keras.layers.SimpleRNN(2)], name="nested_sequential"
    )

    x = keras.Input((TIME, FEATURES))
    bidirectional = keras.layers.Bidirectional(
        keras.layers.GRU(2, return_sequences=True), merge_mode="sum"
    )(x)
    lstm_out, h, c = keras.layers.LSTM(2, return_state=True)(bidirectional)
    simple = keras.layers.SimpleRNN(2)(x, initial_state=[h])
    merged = keras.layers.Concatenate()([lstm_out, c, simple, sub_model(x), nested_sequential(x)])
    return keras.Model(x, keras.layers.Dense(2)(merged))


MODELS = {"sequential": sequential_model, "functional": functional_model}


@pytest.fixture(params=list(MODELS))
def keras_model(request):
    model = MODELS[request.param]()
    randomize(model)
    return model


def test_to_seqcore_swaps_every_recurrent_layer_with_identical_outputs(keras_model):
    x = inputs()
    expected = to_numpy(keras_model(x))
    original_types = recurrent_types(keras_model)

    converted = convert.to_seqcore(keras_model)
    types = recurrent_types(converted)

    assert len(original_types) >= 5
    assert all(t in KERAS_CLASSES for t in original_types)
    assert types == [TWINS[t] for t in original_types]
    assert recurrent_types(keras_model) == original_types  # the original is untouched
    np.testing.assert_allclose(to_numpy(converted(x)), expected, atol=1e-5)


def test_to_keras_restores_keras_layers_with_identical_outputs(keras_model):
    x = inputs()
    expected = to_numpy(keras_model(x))
    converted = convert.to_seqcore(keras_model)

    back = convert.to_keras(converted)

    assert recurrent_types(back) == recurrent_types(keras_model)
    np.testing.assert_allclose(to_numpy(back(x)), expected, atol=1e-5)


def test_conversion_keeps_layer_configs():
    model = sequential_model()

    converted = convert.to_seqcore(model)

    for original, swapped in zip(walk(model), walk(converted), strict=True):
        if type(original) in KERAS_CLASSES:
            config = swapped.get_config()
            for key, value in original.get_config().items():
                if key != "name":
                    assert config[key] == value, (original.name, key)


@pytest.mark.parametrize("keras_cls", KERAS_CLASSES, ids=lambda cls: cls.__name__)
def test_single_built_layer_converts_with_weights(keras_cls):
    x = inputs()
    layer = keras_cls(4, return_sequences=True)
    layer.build(x.shape)
    randomize(layer)

    ours = convert.to_seqcore(layer)
    back = convert.to_keras(ours)

    assert type(ours) is TWINS[keras_cls]
    assert type(back) is keras_cls
    assert ours.built and back.built
    for converted in (ours, back):
        for a, b in zip(converted.get_weights(), layer.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(to_numpy(converted(x)), to_numpy(layer(x)), atol=1e-5)


@pytest.mark.parametrize("keras_cls", KERAS_CLASSES, ids=lambda cls: cls.__name__)
def test_stateful_model_converts_and_carries_state_alike(keras_cls):
    x = inputs()
    model = keras.Sequential(
        [keras.Input(batch_shape=x.shape), keras_cls(4, stateful=True), keras.layers.Dense(1)]
    )
    randomize(model)

    ours = convert.to_seqcore(model)
    outputs = {}
    for name, candidate in (("keras", model), ("seqcore", ours)):
        candidate.layers[0].reset_state()
        outputs[name] = [to_numpy(candidate(x)) for _ in range(2)]

    assert type(ours.layers[0]) is TWINS[keras_cls] and ours.layers[0].stateful
    assert not np.allclose(outputs["keras"][0], outputs["keras"][1], atol=1e-4)
    for expected, actual in zip(outputs["keras"], outputs["seqcore"], strict=True):
        np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_single_stateful_layer_keeps_its_batch_size():
    x = inputs()
    layer = keras.layers.GRU(4, stateful=True)
    layer.build(x.shape)
    randomize(layer)

    ours = convert.to_seqcore(layer)

    assert ours.stateful
    assert [tuple(s.shape) for s in ours.states] == [(3, 4)]
    np.testing.assert_allclose(to_numpy(ours(x)), to_numpy(layer(x)), atol=1e-5)


def test_single_unbuilt_layer_converts_config_only():
    layer = keras.layers.LSTM(5, go_backwards=True, dropout=0.25)

    ours = convert.to_seqcore(layer)

    assert type(ours) is seqcore.LSTM
    assert not ours.built
    assert (ours.units, ours.go_backwards, ours.dropout) == (5, True, 0.25)


@pytest.mark.parametrize(
    "layer, option",
    [
        (seqcore.LSTM(3, peephole=True), "peephole"),
        (seqcore.LSTM(3, layer_norm=True), "layer_norm"),
        (seqcore.GRU(3, layer_norm=True), "layer_norm"),
    ],
    ids=["lstm_peephole", "lstm_layer_norm", "gru_layer_norm"],
)
def test_to_keras_rejects_seqcore_only_options(layer, option):
    with pytest.raises(ValueError, match=rf"`{option}`.*Received: {option}=True"):
        convert.to_keras(layer)


def test_to_keras_rejects_option_inside_bidirectional_model():
    model = keras.Sequential(
        [
            keras.Input((TIME, FEATURES)),
            keras.layers.Bidirectional(seqcore.GRU(3, layer_norm=True)),
        ]
    )

    with pytest.raises(ValueError, match="layer_norm"):
        convert.to_keras(model)


@pytest.mark.parametrize(
    "obj",
    [np.zeros((2, 3)), "lstm", keras.layers.LSTMCell(3), keras.layers.Dense(3)],
    ids=["array", "string", "cell", "dense"],
)
@pytest.mark.parametrize("direction", [convert.to_seqcore, convert.to_keras])
def test_converting_something_else_raises(obj, direction):
    with pytest.raises(ValueError, match="Expected a keras.Model"):
        direction(obj)
