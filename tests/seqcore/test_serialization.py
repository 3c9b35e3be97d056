"""Configs, `.keras` files and SavedModel exports of the seqcore cells and layers."""

import inspect
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqcore

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
CLASSES = [
    seqcore.SimpleRNNCell,
    seqcore.LSTMCell,
    seqcore.GRUCell,
    seqcore.SimpleRNN,
    seqcore.LSTM,
    seqcore.GRU,
]
TIME = 6
FEATURES = 3

# One value per constructor parameter, each different from the default.
NON_DEFAULT = {
    "units": 3,
    "activation": "relu",
    "recurrent_activation": "hard_sigmoid",
    "use_bias": False,
    "kernel_initializer": "ones",
    "recurrent_initializer": "ones",
    "bias_initializer": "ones",
    "unit_forget_bias": False,
    "kernel_regularizer": "l2",
    "recurrent_regularizer": "l2",
    "bias_regularizer": "l2",
    "activity_regularizer": "l2",
    "kernel_constraint": "non_neg",
    "recurrent_constraint": "non_neg",
    "bias_constraint": "non_neg",
    "dropout": 0.1,
    "recurrent_dropout": 0.2,
    "seed": 7,
    "return_sequences": True,
    "return_state": True,
    "go_backwards": True,
    "stateful": True,
    "unroll": True,
    "reset_after": False,
    "use_cudnn": False,
    "peephole": True,
    "layer_norm": True,
    "layer_norm_epsilon": 1e-3,
}


def constructor_parameters(cls):
    return [
        name
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and parameter.kind is not inspect.Parameter.VAR_KEYWORD
    ]


def expected_config_value(name, value):
    """How `get_config()` spells `value` (objects through `keras.*.serialize`)."""
    for suffix, module in (
        ("_initializer", keras.initializers),
        ("_regularizer", keras.regularizers),
        ("_constraint", keras.constraints),
        ("activation", keras.activations),
    ):
        if name.endswith(suffix):
            return module.serialize(module.get(value))
    return value


def randomize(model, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    model.set_weights(
        [(rng.normal(size=w.shape) * scale).astype(w.dtype) for w in model.get_weights()]
    )


# --- get_config / from_config ------------------------------------------------------


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_constructor_parameter_round_trips_through_config(cls):
    names = constructor_parameters(cls)
    missing_values = sorted(set(names) - set(NON_DEFAULT))
    assert not missing_values, f"pick a non-default value for {missing_values}"
    kwargs = {name: NON_DEFAULT[name] for name in names}
    default_config = cls(units=4).get_config()

    config = cls(**kwargs).get_config()
    restored = cls.from_config(config)
    restored_config = restored.get_config()

    assert type(restored) is cls
    for name in names:
        expected = expected_config_value(name, kwargs[name])
        assert name in config, f"{cls.__name__}.get_config() lacks `{name}`"
        assert config[name] == expected, name
        assert default_config[name] != expected, f"{name}: test value is the default"
        assert restored_config[name] == expected, name
    assert restored_config == config


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_plain_attributes_survive_from_config(cls):
    names = [
        name
        for name in constructor_parameters(cls)
        if isinstance(NON_DEFAULT[name], (bool, int, float))
    ]
    original = cls(**{name: NON_DEFAULT[name] for name in names})

    restored = cls.from_config(original.get_config())

    for name in names:
        assert getattr(restored, name) == NON_DEFAULT[name], name


# --- .keras files in a fresh process --------------------------------------------------


def keras_file_models():
    """Name -> model covering every seqcore class and option that changes weights."""
    models = {}
    models["sequential_stack"] = keras.Sequential(
        [
            keras.Input((TIME, FEATURES)),
            seqcore.LSTM(4, return_sequences=True),
            seqcore.GRU(4, return_sequences=True, reset_after=False),
            seqcore.SimpleRNN(3),
        ]
    )
    inputs = keras.Input((TIME, FEATURES))
    masked = keras.layers.Masking(0.0)(inputs)
    left = keras.layers.Bidirectional(
        seqcore.LSTM(3, peephole=True, layer_norm=True, return_sequences=True)
    )(masked)
    left = seqcore.GRU(4, layer_norm=True)(left)
    right = keras.layers.RNN(seqcore.LSTMCell(3, peephole=True))(masked)
    right_gru = keras.layers.RNN(seqcore.GRUCell(2, layer_norm=True))(masked)
    right_simple = keras.layers.RNN(seqcore.SimpleRNNCell(2))(masked)
    merged = keras.layers.Concatenate()([left, right, right_gru, right_simple])
    models["functional_variants"] = keras.Model(inputs, merged)
    models["stateful"] = keras.Sequential(
        [keras.Input(batch_shape=(3, TIME, FEATURES)), seqcore.GRU(3, stateful=True)]
    )
    models["mixed_float16"] = keras.Sequential(
        [
            keras.Input((TIME, FEATURES)),
            seqcore.LSTM(3, layer_norm=True, dtype="mixed_float16"),
            keras.layers.Dense(2, dtype="float32"),
        ]
    )
    for seed, model in enumerate(models.values()):
        randomize(model, seed=seed)
    return models


LOAD_AND_COMPARE = textwrap.dedent(
    """
    import pathlib
    import sys

    import keras
    import numpy as np

    folder = pathlib.Path(sys.argv[1])
    paths = sorted(folder.glob("*.keras"))
    try:
        keras.saving.load_model(paths[0])
    except Exception:
        print("needs-seqcore")

    import seqcore

    x = np.load(folder / "x.npy")
    for path in paths:
        model = keras.saving.load_model(path)
        modules = [type(layer).__module__ for layer in model.layers]
        assert any(module.startswith("seqcore.") for module in modules), (path.name, modules)
        expected = np.load(folder / (path.stem + ".npy"))
        actual = keras.ops.convert_to_numpy(model(x))
        np.testing.assert_allclose(actual, expected, atol=1e-6, err_msg=path.name)
        print("ok", path.name)
    """
)


def test_keras_file_loads_in_fresh_process_with_identical_outputs(tmp_path):
    x = np.random.default_rng(0).normal(size=(3, TIME, FEATURES)).astype("float32")
    x[1, 4:] = 0.0  # padding, seen by the Masking layer
    np.save(tmp_path / "x.npy", x)
    models = keras_file_models()
    for name, model in models.items():
        model.save(tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}.npy", keras.ops.convert_to_numpy(model(x)))
    assert models["mixed_float16"].layers[0].compute_dtype == "float16"

    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_COMPARE, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [
        "needs-seqcore",  # without `import seqcore` the file does not load
        *(word for name in sorted(models) for word in ("ok", f"{name}.keras")),
    ]


# --- SavedModel export ----------------------------------------------------------------


def export_models():
    plain = keras.Sequential(
        [
            keras.Input((TIME, FEATURES)),
            seqcore.LSTM(4, return_sequences=True),
            seqcore.GRU(4, return_sequences=True),
            seqcore.SimpleRNN(3),
        ]
    )
    inputs = keras.Input((TIME, FEATURES))
    masked = keras.layers.Masking(0.0)(inputs)
    hidden = keras.layers.Bidirectional(
        seqcore.LSTM(3, peephole=True, layer_norm=True, return_sequences=True)
    )(masked)
    hidden = keras.layers.Bidirectional(seqcore.GRU(3, layer_norm=True))(hidden)
    variants = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    return {"plain": plain, "bidirectional_variants": variants}


@pytest.mark.parametrize("name", ["plain", "bidirectional_variants"])
def test_tf_saved_model_export_serves_identical_outputs(tmp_path, name):
    model = export_models()[name]
    randomize(model)
    x = np.random.default_rng(1).normal(size=(3, TIME, FEATURES)).astype("float32")
    x[2, 3:] = 0.0
    expected = keras.ops.convert_to_numpy(model(x))

    model.export(str(tmp_path / name), format="tf_saved_model", verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / name))  # keep: it owns the variables
    served = reloaded.serve(tf.constant(x))

    np.testing.assert_allclose(served.numpy(), expected, atol=1e-6)


def saved_model_op_types(path):
    """Every op type in a SavedModel's graph, its function library included."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((pathlib.Path(path) / "saved_model.pb").read_bytes())
    types = set()
    for meta_graph in saved.meta_graphs:
        types.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            types.update(node.op for node in function.node_def)
    return types


def test_export_has_no_device_specific_ops(tmp_path):
    # Keras bakes cuDNN kernels into exports made on a GPU (keras-team/keras#18504);
    # seqcore's default loop is plain TensorFlow ops, so an export runs on any device.
    model = export_models()["plain"]
    model.export(str(tmp_path / "plain"), format="tf_saved_model", verbose=False)

    types = saved_model_op_types(tmp_path / "plain")

    assert "While" in types or "StatelessWhile" in types
    assert not {t for t in types if "Cudnn" in t or t.startswith("_Xla")}
