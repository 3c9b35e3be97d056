"""Swap Keras's recurrent layers for seqcore's in a model, weights included, and back.

Example:

>>> import keras, numpy as np, seqcore
>>> model = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4)])
>>> ours = seqcore.convert.to_seqcore(model)
>>> type(ours.layers[0]).__name__
'LSTM'
>>> x = np.ones((2, 5, 3), "float32")
>>> bool(np.allclose(model.predict(x, verbose=0), ours.predict(x, verbose=0), atol=1e-5))
True
"""

import keras

from seqcore.gru import GRU
from seqcore.lstm import LSTM
from seqcore.simple_rnn import SimpleRNN

# (Keras class, seqcore class) pairs; the configs of a pair share every key
# except the seqcore-only options listed in _SEQCORE_ONLY.
_PAIRS = (
    (keras.layers.LSTM, LSTM),
    (keras.layers.GRU, GRU),
    (keras.layers.SimpleRNN, SimpleRNN),
)
_SEQCORE_ONLY = {"peephole": False, "layer_norm": False, "layer_norm_epsilon": None}


def _to_seqcore_layer(layer):
    for keras_class, seqcore_class in _PAIRS:
        if type(layer) is keras_class:
            return seqcore_class.from_config(layer.get_config())
    return None


def _to_keras_layer(layer):
    for keras_class, seqcore_class in _PAIRS:
        if type(layer) is seqcore_class:
            config = layer.get_config()
            for key, plain in _SEQCORE_ONLY.items():
                value = config.pop(key, plain)
                if plain is not None and value != plain:
                    raise ValueError(
                        f"Layer {layer.name!r} uses `{key}`, which Keras's "
                        f"{keras_class.__name__} does not have, so it cannot be converted. "
                        f"Received: {key}={value!r}"
                    )
            return keras_class.from_config(config)
    return None


def _swap(layer, convert_one):
    if isinstance(layer, keras.layers.Bidirectional):
        forward = convert_one(layer.forward_layer)
        if forward is not None:
            backward = convert_one(layer.backward_layer)
            return keras.layers.Bidirectional(
                forward, merge_mode=layer.merge_mode, backward_layer=backward, name=layer.name
            )
    swapped = convert_one(layer)
    if swapped is not None:
        return swapped
    return layer.__class__.from_config(layer.get_config())


def _convert(obj, convert_one):
    if isinstance(obj, keras.Model):
        clone = keras.models.clone_model(
            obj, clone_function=lambda layer: _swap(layer, convert_one), recursive=True
        )
        clone.set_weights(obj.get_weights())
        return clone
    if isinstance(obj, keras.layers.Layer):
        swapped = convert_one(obj)
        if swapped is None:
            raise ValueError(
                "Expected a keras.Model, or an LSTM, GRU or SimpleRNN layer to convert. "
                f"Received: {type(obj).__name__} {obj.name!r}"
            )
        if obj.built:
            batch = obj.states[0].shape[0] if obj.stateful else None
            swapped.build((batch, None, obj.cell.kernel.shape[0]))
            swapped.set_weights(obj.get_weights())
        return swapped
    raise ValueError(
        f"Expected a keras.Model or keras.layers.Layer to convert. Received: {type(obj).__name__}"
    )


def to_seqcore(obj):
    """Returns a copy of a Keras model (Sequential or functional) in which every
    `keras.layers.LSTM`, `GRU` and `SimpleRNN` (also inside `Bidirectional`
    and nested models) is the seqcore layer with the same config and weights.
    A single recurrent layer is converted too (built and with its weights if the
    original was built)."""
    return _convert(obj, _to_seqcore_layer)


def to_keras(obj):
    """The inverse of `to_seqcore`: seqcore layers become Keras's own. Raises
    `ValueError` for layers that use options Keras lacks (`peephole`, `layer_norm`)."""
    return _convert(obj, _to_keras_layer)
