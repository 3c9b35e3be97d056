"""The GPU half of the seqcore speed issue, as one script for a lent GPU machine.

1. Parity: seqcore LSTM/GRU (``use_cudnn="auto"``) on the GPU against the same layer
   on the CPU, same weights, forward and gradients, masked (right-padded) and not.
2. Portability: a model trained and exported on the GPU (``model.export``) is served by
   a fresh CPU-only process (``CUDA_VISIBLE_DEVICES=-1``) with the GPU's outputs.
3. Speed: ``benchmarks/rnn_speed.py --device gpu`` (seqcore against Keras's cuDNN LSTM
   and GRU); the acceptance ratio is >= 0.9x.

Run on the GPU machine:  python benchmarks/gpu_check.py [--repeats 5] [--skip-speed]
``--cpu-dry-run`` runs parts 1 and 2 on a CPU-only machine, with the layers made to
believe a GPU is visible (the cuDNN twins are built but never run): a smoke test of
this script, not a GPU measurement.
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHAPE = (16, 40, 8, 32)  # batch, steps, features, units
TOLERANCE = 1e-4  # cuDNN and the CPU loop sum in different orders


def build(layer, masked, seed=0):
    import keras

    import seqcore

    batch, steps, features, units = SHAPE
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((steps, features))
    hidden = keras.layers.Masking(0.0)(inputs) if masked else inputs
    hidden = getattr(seqcore, layer)(units, return_sequences=True)(hidden)
    return keras.Model(inputs, keras.layers.Dense(3)(hidden))


def data(seed=1):
    import numpy as np

    batch, steps, features, _ = SHAPE
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    lengths = rng.integers(steps // 2, steps + 1, size=batch)
    for row, length in enumerate(lengths):
        x[row, length:] = 0.0  # right padding, as cuDNN needs
    y = rng.normal(size=(batch, steps, 3)).astype("float32")
    return x, y


def outputs_and_gradients(model, x, device):
    import numpy as np
    import tensorflow as tf

    @tf.function
    def run(x):
        with tf.GradientTape() as tape:
            y = model(x, training=True)
            loss = tf.reduce_sum(y * y)
        return [y, *tape.gradient(loss, model.trainable_weights)]

    with tf.device(device):
        return [np.asarray(value) for value in run(tf.constant(x))]


def parity(gpu_device):
    import numpy as np

    x, _ = data()
    worst = {}
    for layer in ("LSTM", "GRU"):
        for masked in (False, True):
            model = build(layer, masked)
            on_gpu = outputs_and_gradients(model, x, gpu_device)
            on_cpu = outputs_and_gradients(model, x, "/CPU:0")
            error = max(float(np.max(np.abs(a - b))) for a, b in zip(on_gpu, on_cpu, strict=True))
            worst[f"{layer} masked={masked}"] = error
            print(f"parity {layer:4} masked={masked!s:5} max |gpu - cpu| = {error:.2e}")
    return all(error <= TOLERANCE for error in worst.values())


SERVE_ON_CPU = textwrap.dedent(
    """
    import sys, numpy as np, tensorflow as tf
    assert not tf.config.list_physical_devices("GPU"), "the CPU process sees a GPU"
    folder = sys.argv[1]
    loaded = tf.saved_model.load(folder + "/export")
    served = loaded.serve(np.load(folder + "/x.npy")).numpy()
    print(f"{float(np.max(np.abs(served - np.load(folder + '/y.npy')))):.3e}")
    """
)


def portability(gpu_device):
    import numpy as np
    import tensorflow as tf

    x, y = data()
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        np.save(folder / "x.npy", x)
        model = build("LSTM", masked=True)
        with tf.device(gpu_device):
            model.compile("adam", "mse")
            model.fit(x, y, epochs=2, batch_size=8, verbose=0)
            np.save(folder / "y.npy", np.asarray(model.predict(x, verbose=0)))
            model.export(str(folder / "export"), format="tf_saved_model", verbose=False)
        ops = saved_model_ops(folder / "export")
        result = subprocess.run(
            [sys.executable, "-c", SERVE_ON_CPU, str(folder)],
            env={**os.environ, "CUDA_VISIBLE_DEVICES": "-1", "TF_CPP_MIN_LOG_LEVEL": "3"},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            print("portability FAILED: the CPU-only process could not serve the export")
            print(result.stdout + result.stderr)
            return False
        error = float(result.stdout.split()[-1])
        ok = error <= TOLERANCE
        print(
            f"portability: export holds cuDNN ops: {'CudnnRNNV3' in ops}; served on CPU, "
            f"max |cpu - gpu| = {error:.2e}"
        )
    return ok


def saved_model_ops(path):
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((path / "saved_model.pb").read_bytes())
    ops = set()
    for graph in saved.meta_graphs:
        ops.update(node.op for node in graph.graph_def.node)
        for function in graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="rnn_speed.py repetitions")
    parser.add_argument("--skip-speed", action="store_true", help="parity and portability only")
    parser.add_argument("--cpu-dry-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    import tensorflow as tf

    if args.cpu_dry_run:
        from seqcore import base

        base._gpu_visible = lambda: True
        device = "/CPU:0"
    elif not tf.config.list_physical_devices("GPU"):
        print("Error: TensorFlow sees no GPU on this machine (see --help)", file=sys.stderr)
        return 2
    else:
        device = "/GPU:0"
    print(f"gpu_check on {device}, tensorflow {tf.__version__}")
    results = {"parity": parity(device), "portability": portability(device)}
    if not (args.skip_speed or args.cpu_dry_run):
        command = [sys.executable, str(REPO_ROOT / "benchmarks" / "rnn_speed.py")]
        command += ["--device", "gpu", "--cells", "lstm,gru", "--repeats", str(args.repeats)]
        print("$ " + " ".join(command[1:]), flush=True)
        results["speed"] = subprocess.run(command).returncode == 0
    print("summary " + ", ".join(f"{k}: {'ok' if v else 'FAILED'}" for k, v in results.items()))
    print(f"rerun: python benchmarks/gpu_check.py --repeats {args.repeats}")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
