"""seqcore's layers and cells against Keras's own, with identical weights.

Every test builds a Keras layer and the seqcore layer with the same arguments,
gives the Keras layer seeded random weights (biases included), copies them
with `set_weights` and compares outputs, states or gradients.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqcore

BATCH, TIME, FEATURES, UNITS = 3, 6, 4, 5
OUTPUT_ATOL = 1e-5
GRADIENT_ATOL = 1e-4

# kind -> (class name in both `keras.layers` and `seqcore`, extra constructor arguments)
LAYERS = {
    "lstm": ("LSTM", {}),
    "gru": ("GRU", {"reset_after": True}),
    "gru_reset_before": ("GRU", {"reset_after": False}),
    "simple_rnn": ("SimpleRNN", {}),
}
CELLS = {
    "lstm": ("LSTMCell", {}),
    "gru": ("GRUCell", {"reset_after": True}),
    "gru_reset_before": ("GRUCell", {"reset_after": False}),
    "simple_rnn": ("SimpleRNNCell", {}),
}
MASKS = {
    "none": None,
    "right_padded": np.array(
        [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]], dtype=bool
    ),
    "holes": np.array([[1, 0, 1, 1, 0, 1], [0, 1, 1, 0, 1, 1], [1, 1, 0, 0, 1, 0]], dtype=bool),
    "fully_masked_row": np.array(
        [[1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0], [1, 0, 1, 1, 1, 0]], dtype=bool
    ),
}


def random_inputs(seed=0, batch=BATCH):
    rng = np.random.RandomState(seed)
    return tf.constant(rng.normal(size=(batch, TIME, FEATURES)).astype("float32"))


def random_initial_state(kind, seed=1):
    rng = np.random.RandomState(seed)
    count = 2 if kind == "lstm" else 1
    return [
        tf.constant(rng.normal(scale=0.5, size=(BATCH, UNITS)).astype("float32"))
        for _ in range(count)
    ]


def randomise(layer, seed):
    """Sets every weight of `layer` to seeded normal values (no zeros, no ones)."""
    rng = np.random.RandomState(seed)
    layer.set_weights(
        [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()]
    )


def make_pair(kind, seed=0, batch_size=BATCH, **kwargs):
    """A built Keras layer and a built seqcore layer with the same random weights."""
    class_name, extra = LAYERS[kind]
    arguments = {"units": UNITS, **extra, **kwargs}
    reference = getattr(keras.layers, class_name)(name="rnn", **arguments)
    ours = getattr(seqcore, class_name)(name="rnn", **arguments)
    reference.build((batch_size, TIME, FEATURES))
    ours.build((batch_size, TIME, FEATURES))
    randomise(reference, seed)
    ours.set_weights(reference.get_weights())
    return reference, ours


def as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def assert_outputs_close(actual, expected, atol=OUTPUT_ATOL):
    actual, expected = as_list(actual), as_list(expected)
    assert len(actual) == len(expected)
    for ours, reference in zip(actual, expected, strict=True):
        ours, reference = np.asarray(ours), np.asarray(reference)
        assert ours.shape == reference.shape
        np.testing.assert_allclose(ours, reference, rtol=0, atol=atol)


def mask_tensor(mask_name):
    mask = MASKS[mask_name]
    return None if mask is None else tf.constant(mask)


@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_state", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_outputs_match_keras(kind, return_sequences, return_state, go_backwards, mask_name):
    reference, ours = make_pair(
        kind,
        return_sequences=return_sequences,
        return_state=return_state,
        go_backwards=go_backwards,
    )
    inputs, mask = random_inputs(), mask_tensor(mask_name)
    assert_outputs_close(ours(inputs, mask=mask), reference(inputs, mask=mask))


@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_initial_state_matches_keras(kind, go_backwards, mask_name):
    reference, ours = make_pair(
        kind, return_sequences=True, return_state=True, go_backwards=go_backwards
    )
    inputs, mask = random_inputs(), mask_tensor(mask_name)
    state = random_initial_state(kind)
    expected = reference(inputs, initial_state=state, mask=mask)
    assert_outputs_close(ours(inputs, initial_state=state, mask=mask), expected)
    # The initial state must matter, or this test would not test it.
    zero_state_output = reference(inputs, mask=mask)
    assert not np.allclose(np.asarray(expected[0]), np.asarray(zero_state_output[0]))


@pytest.mark.parametrize("mask_name", ["none", "holes"])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_stateful_matches_keras(kind, mask_name):
    reference, ours = make_pair(kind, return_sequences=True, stateful=True)
    first, second = random_inputs(seed=2), random_inputs(seed=3)
    mask = mask_tensor(mask_name)

    def states(layer):
        return [np.array(state.numpy()) for state in layer.states]

    first_expected = reference(first, mask=mask)
    first_ours = ours(first, mask=mask)
    assert_outputs_close(first_ours, first_expected)
    assert_outputs_close(states(ours), states(reference))

    second_expected = reference(second, mask=mask)
    assert_outputs_close(ours(second, mask=mask), second_expected)
    assert_outputs_close(states(ours), states(reference))

    # Feeding `first` again continues from the carried state, so it differs.
    carried = ours(first, mask=mask)
    assert not np.allclose(np.asarray(carried), np.asarray(first_ours), atol=1e-3)
    reference(first, mask=mask)

    reference.reset_state()
    ours.reset_state()
    for state in states(ours):
        np.testing.assert_array_equal(state, np.zeros((BATCH, UNITS), "float32"))
    after_reset = ours(first, mask=mask)
    assert_outputs_close(after_reset, reference(first, mask=mask))
    assert_outputs_close(after_reset, first_ours)
    assert_outputs_close(states(ours), states(reference))


@pytest.mark.parametrize("options", [{}, {"use_bias": False}, {"stateful": True}])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_weight_names_and_shapes_match_keras(kind, options):
    reference, ours = make_pair(kind, **options)

    def describe(layer):
        return [(w.path, tuple(w.shape), w.trainable) for w in layer.weights]

    assert describe(ours) == describe(reference)
    assert [w.path.split("/")[-1] for w in ours.weights] == [
        w.path.split("/")[-1] for w in reference.weights
    ]


@pytest.mark.parametrize(
    "kind, options",
    [
        ("lstm", {}),
        ("lstm", {"unit_forget_bias": False}),
        ("lstm", {"bias_initializer": "ones"}),
        ("gru", {"bias_initializer": "ones"}),
        ("gru_reset_before", {"bias_initializer": "ones"}),
        ("simple_rnn", {"bias_initializer": "ones"}),
    ],
)
def test_initial_bias_matches_keras(kind, options):
    class_name, extra = LAYERS[kind]
    reference = getattr(keras.layers, class_name)(UNITS, **extra, **options)
    ours = getattr(seqcore, class_name)(UNITS, **extra, **options)
    reference.build((BATCH, TIME, FEATURES))
    ours.build((BATCH, TIME, FEATURES))
    assert_outputs_close(ours.get_weights()[2], reference.get_weights()[2], atol=0)


# training=True runs seqcore's fused loop with hand-written BPTT (for the default
# activations); training=False its lean loop differentiated by autodiff.
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("kind", list(LAYERS))
def test_gradients_match_keras(kind, mask_name, go_backwards, return_sequences, training):
    reference, ours = make_pair(
        kind, return_sequences=return_sequences, return_state=True, go_backwards=go_backwards
    )
    inputs, mask = random_inputs(), mask_tensor(mask_name)
    state = [tf.constant(s) for s in random_initial_state(kind)]

    def gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch([inputs, *state])
            outputs = layer(inputs, initial_state=state, mask=mask, training=training)
            # Different weights per output, so each output's gradient path counts.
            loss = sum(
                (i + 1) * tf.reduce_sum(tf.square(output)) for i, output in enumerate(outputs)
            )
        return tape.gradient(loss, [inputs, *state, *layer.trainable_weights])

    assert [w.path for w in ours.trainable_weights] == [w.path for w in reference.trainable_weights]
    expected = gradients(reference)
    actual = gradients(ours)
    assert all(gradient is not None for gradient in actual)
    assert_outputs_close(actual, expected, atol=GRADIENT_ATOL)


@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_bidirectional_zero_output_gradients_match_keras(kind, mask_name):
    # Bidirectional(return_sequences=True) sets zero_output_for_mask on both layers.
    layers = []
    for module in (keras.layers, seqcore):
        layer = keras.layers.Bidirectional(
            getattr(module, kind)(UNITS, return_sequences=True), merge_mode="concat"
        )
        layer.build((BATCH, TIME, FEATURES))
        layers.append(layer)
    reference, ours = layers
    randomise(reference, seed=3)
    ours.set_weights(reference.get_weights())
    inputs, mask = random_inputs(), mask_tensor(mask_name)

    def gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_sum(tf.square(layer(inputs, mask=mask, training=True)))
        return tape.gradient(loss, [inputs, *layer.trainable_weights])

    assert ours.forward_layer.zero_output_for_mask
    assert_outputs_close(gradients(ours), gradients(reference), atol=GRADIENT_ATOL)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("kind", list(LAYERS))
def test_unroll_matches_keras(kind, mask_name, go_backwards):
    reference, ours = make_pair(
        kind, return_sequences=True, return_state=True, go_backwards=go_backwards, unroll=True
    )
    inputs, mask = random_inputs(), mask_tensor(mask_name)
    assert_outputs_close(ours(inputs, mask=mask), reference(inputs, mask=mask))


@pytest.mark.parametrize("mask_name", ["none", "holes"])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_training_without_dropout_matches_keras(kind, mask_name):
    reference, ours = make_pair(kind, return_sequences=True, return_state=True)
    inputs, mask = random_inputs(), mask_tensor(mask_name)
    expected = reference(inputs, mask=mask, training=True)
    assert_outputs_close(ours(inputs, mask=mask, training=True), expected)
    assert_outputs_close(ours(inputs, mask=mask, training=False), expected)


@pytest.mark.parametrize(
    "kind, options",
    [
        ("lstm", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
        ("lstm", {"activation": "softsign", "recurrent_activation": "sigmoid"}),
        ("lstm", {"activation": "tanh", "recurrent_activation": "hard_sigmoid"}),
        ("gru", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
        ("gru", {"activation": "softsign", "recurrent_activation": "sigmoid"}),
        ("gru_reset_before", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
        ("simple_rnn", {"activation": "relu"}),
        ("simple_rnn", {"activation": None}),
    ],
)
def test_other_activations_match_keras(kind, options):
    reference, ours = make_pair(kind, return_sequences=True, return_state=True, **options)
    inputs, mask = random_inputs(), mask_tensor("holes")
    expected = reference(inputs, mask=mask)
    assert_outputs_close(ours(inputs, mask=mask), expected)
    default, _ = make_pair(kind, return_sequences=True, return_state=True)
    assert not np.allclose(np.asarray(expected[0]), np.asarray(default(inputs, mask=mask)[0]))


@pytest.mark.parametrize("mask_name", ["none", "holes"])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_without_bias_matches_keras(kind, mask_name):
    reference, ours = make_pair(kind, return_sequences=True, return_state=True, use_bias=False)
    assert len(ours.get_weights()) == 2
    inputs, mask = random_inputs(), mask_tensor(mask_name)
    assert_outputs_close(ours(inputs, mask=mask), reference(inputs, mask=mask))


@pytest.mark.parametrize("kind", list(LAYERS))
def test_graph_mode_matches_keras(kind):
    reference, ours = make_pair(kind, return_sequences=True, return_state=True)
    inputs, mask = random_inputs(), mask_tensor("holes")
    expected = tf.function(lambda x, m: reference(x, mask=m))(inputs, mask)
    assert_outputs_close(tf.function(lambda x, m: ours(x, mask=m))(inputs, mask), expected)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_mask_propagated_from_masking_layer_matches_keras(kind):
    reference, ours = make_pair(kind, return_sequences=True)
    values = np.array(random_inputs())
    values[~MASKS["holes"]] = 0.0
    expected = keras.Sequential([keras.layers.Masking(0.0), reference])(values)
    actual = keras.Sequential([keras.layers.Masking(0.0), ours])(values)
    assert_outputs_close(actual, expected)
    # The mask must reach the layer: unmasked, the zeroed steps change the result.
    assert not np.allclose(np.asarray(reference(values)), np.asarray(expected))


@pytest.mark.parametrize("mask_name", ["none", "holes"])
@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_in_keras_rnn_matches_keras_cell(kind, mask_name):
    class_name, extra = CELLS[kind]
    rnn_arguments = {"return_sequences": True, "return_state": True}
    reference = keras.layers.RNN(getattr(keras.layers, class_name)(UNITS, **extra), **rnn_arguments)
    ours = keras.layers.RNN(getattr(seqcore, class_name)(UNITS, **extra), **rnn_arguments)
    reference.build((BATCH, TIME, FEATURES))
    ours.build((BATCH, TIME, FEATURES))
    randomise(reference, seed=4)
    ours.set_weights(reference.get_weights())
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in reference.weights]
    inputs, mask = random_inputs(), mask_tensor(mask_name)
    assert_outputs_close(ours(inputs, mask=mask), reference(inputs, mask=mask))


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_single_step_matches_keras_cell(kind):
    class_name, extra = CELLS[kind]
    reference = getattr(keras.layers, class_name)(UNITS, **extra)
    ours = getattr(seqcore, class_name)(UNITS, **extra)
    reference.build((BATCH, FEATURES))
    ours.build((BATCH, FEATURES))
    randomise(reference, seed=5)
    ours.set_weights(reference.get_weights())
    inputs = random_inputs()[:, 0, :]
    states = random_initial_state(kind)
    expected_output, expected_states = reference(inputs, states)
    output, new_states = ours(inputs, states)
    assert_outputs_close(output, expected_output)
    assert_outputs_close(new_states, expected_states)


@pytest.mark.parametrize(
    "class_name", ["LSTM", "GRU", "SimpleRNN", "LSTMCell", "GRUCell", "SimpleRNNCell"]
)
def test_constructor_and_call_arguments_include_keras(class_name):
    # A drop-in replacement accepts every argument of the layer it replaces, with the
    # same defaults.
    import inspect

    theirs = getattr(keras.layers, class_name)
    ours = getattr(seqcore, class_name)
    for method in ("__init__", "call"):
        keras_parameters = dict(inspect.signature(getattr(theirs, method)).parameters)
        our_parameters = dict(inspect.signature(getattr(ours, method)).parameters)
        if method == "call":
            # The data argument is positional; Keras's own cells name it differently
            # (`inputs`, `sequence`, `sequences`).
            keras_parameters.pop(list(keras_parameters)[1])
            our_parameters.pop(list(our_parameters)[1])
        missing = set(keras_parameters) - set(our_parameters)
        assert not missing, f"{class_name}.{method} lacks {sorted(missing)}"
        for name, parameter in keras_parameters.items():
            if parameter.default is not inspect.Parameter.empty:
                assert our_parameters[name].default == parameter.default, (class_name, name)
