"""LSTM/GRU device dispatch: cuDNN on GPU, the portable loop elsewhere, one graph.

This machine has no GPU, so the tests make the layers believe one is visible
(`seqcore.base._gpu_visible`). The graph then holds the cuDNN twin as a registered
function tagged for GPU while the call itself runs the portable loop, which is
what a CPU-only machine does with a graph or SavedModel traced on a GPU.
"""

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
from seqcore import base

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
TIME, FEATURES, UNITS = 7, 3, 5


@pytest.fixture
def gpu_visible(monkeypatch):
    monkeypatch.setattr(base, "_gpu_visible", lambda: True)


def inputs(seed=0):
    x = np.random.default_rng(seed).normal(size=(6, TIME, FEATURES)).astype("float32")
    x[:2, 5:] = 0.0  # right padding
    x[2, 1] = 0.0  # a gap: not right-padded, cuDNN would fall back
    return x


def build(layer, masked=True, seed=0, **options):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((TIME, FEATURES))]
    if masked:
        layers.append(keras.layers.Masking(0.0))
    layers.append(getattr(seqcore, layer)(UNITS, **options))
    return keras.Sequential(layers)


def outputs_and_gradients(model, x, training=True):
    @tf.function
    def run(x):
        with tf.GradientTape() as tape:
            y = model(x, training=training)
            loss = tf.reduce_sum(y * y)
        return [y, *tape.gradient(loss, model.trainable_weights)]

    results = run(x)
    return [r.numpy() for r in results], run.get_concrete_function(x).graph


def library(graph):
    return {f.signature.name: f for f in graph.as_graph_def().library.function}


def tagged(functions, device):
    return {
        name: f
        for name, f in functions.items()
        if "api_preferred_device" in f.attr and f.attr["api_preferred_device"].s == device
    }


@pytest.mark.parametrize("layer", ["LSTM", "GRU"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"return_sequences": True},
        {"return_sequences": True, "go_backwards": True},
        {"return_sequences": True, "dropout": 0.3, "seed": 7},
    ],
)
@pytest.mark.parametrize("masked", [False, True])
def test_dispatch_runs_the_portable_loop_on_cpu(layer, options, masked, monkeypatch):
    x = inputs()
    expected, graph = outputs_and_gradients(build(layer, masked, **options), x)
    assert not tagged(library(graph), b"GPU")

    monkeypatch.setattr(base, "_gpu_visible", lambda: True)
    actual, graph = outputs_and_gradients(build(layer, masked, **options), x)

    functions = library(graph)
    gpu = tagged(functions, b"GPU")
    cpu = tagged(functions, b"CPU")
    assert gpu and cpu
    # The cuDNN twin implements the same API as the portable function it replaces.
    names = {f.attr["api_implements"].s for f in gpu.values()}
    assert names == {f.attr["api_implements"].s for f in cpu.values()}
    # (masked, the cuDNN kernel sits in a cond branch of the twin: a function of its own)
    assert any(node.op == "CudnnRNNV3" for f in functions.values() for node in f.node_def)
    assert not any(node.op.startswith("Cudnn") for f in cpu.values() for node in f.node_def)
    for a, b in zip(expected, actual, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "layer, options",
    [
        ("LSTM", {"use_cudnn": False}),
        ("LSTM", {"peephole": True}),
        ("GRU", {"layer_norm": True}),
        ("GRU", {"reset_after": False}),
        ("LSTM", {"activation": "relu"}),
        ("GRU", {"use_bias": False}),
        ("SimpleRNN", {}),
    ],
)
def test_no_cudnn_twin_where_cudnn_differs(layer, options, gpu_visible):
    _, graph = outputs_and_gradients(build(layer, **options), inputs())
    assert not tagged(library(graph), b"GPU")


def test_training_with_recurrent_dropout_keeps_the_generic_loop(gpu_visible):
    model = build("LSTM", recurrent_dropout=0.2)
    _, graph = outputs_and_gradients(model, inputs(), training=True)
    assert not tagged(library(graph), b"GPU")


def test_fit_and_predict_with_the_dispatch(gpu_visible):
    model = build("GRU", return_sequences=False)
    model.compile("adam", "mse")
    x = inputs()
    y = np.zeros((6, UNITS), "float32")
    history = model.fit(x, y, epochs=3, batch_size=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    np.testing.assert_allclose(model.predict(x, verbose=0), model(x), atol=1e-6)


LOAD_ON_CPU = textwrap.dedent(
    """
    import sys, numpy as np, tensorflow as tf
    assert not tf.config.list_physical_devices("GPU")
    folder = sys.argv[1]
    loaded = tf.saved_model.load(folder + "/export")  # keep: it owns the variables
    served = loaded.serve(np.load(folder + "/x.npy"))
    np.testing.assert_allclose(served.numpy(), np.load(folder + "/y.npy"), atol=1e-6)
    print("served on cpu")
    """
)


def test_export_traced_for_gpu_runs_on_a_cpu_only_machine(tmp_path, gpu_visible):
    # As if exported on a GPU machine: the SavedModel carries the cuDNN twins, yet a
    # CPU-only process (no seqcore import, CUDA hidden) serves it with the same outputs.
    from tests.seqcore.test_serialization import saved_model_op_types

    inputs_ = keras.Input((TIME, FEATURES))
    hidden = keras.layers.Masking(0.0)(inputs_)
    hidden = seqcore.LSTM(UNITS, return_sequences=True)(hidden)
    hidden = keras.layers.Bidirectional(seqcore.GRU(UNITS))(hidden)
    model = keras.Model(inputs_, keras.layers.Dense(2)(hidden))
    x = inputs()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", keras.ops.convert_to_numpy(model(x)))
    model.export(str(tmp_path / "export"), format="tf_saved_model", verbose=False)
    assert "CudnnRNNV3" in saved_model_op_types(tmp_path / "export")

    result = subprocess.run(
        [sys.executable, "-c", LOAD_ON_CPU, str(tmp_path)],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "-1", "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "served on cpu" in result.stdout


def test_gpu_check_script_dry_run_on_cpu():
    # benchmarks/gpu_check.py is run once on a lent GPU machine; its CPU dry run
    # (layers made to believe a GPU is visible) keeps it from rotting in between.
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "gpu_check.py"), "--cpu-dry-run"],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "summary parity: ok, portability: ok" in result.stdout
    assert "export holds cuDNN ops: True" in result.stdout
