"""Speed and memory of seqcore's recurrent layers against Keras's, in one run.

For every (cell, shape, masking) row this builds three models with the same
weights and times them alternately, repetition by repetition:

* ``keras``: ``keras.layers.<Cell>`` compiled with Keras's defaults (``jit_compile``
  left at ``"auto"``; what it resolves to is printed in the ``jit`` column).
* ``keras-xla``: the same layer with ``compile(jit_compile=True)`` and an XLA
  forward function. LSTM and GRU get ``use_cudnn=False`` here, because a cuDNN
  kernel cannot be compiled by XLA.
* ``seqcore``: ``seqcore.<Cell>`` compiled with Keras's defaults.

Each model is ``Input(batch_shape=(B, T, F)) -> [Masking(0.0)] -> RNN(U)`` trained
with MSE on its last output. Run ``python benchmarks/rnn_speed.py --help``.

Training memory (``train mem MB``) is the peak of TF's allocator during one
``train_on_batch`` above its level just before the step (median over
``MEMORY_STEPS`` steps after two warm-up steps, so tracing is not counted). On GPU the
BFC allocator tracks every allocation. On CPU, with oneDNN on, TF's default CPU
allocator counts only allocations >= 256 KiB, which would hide Keras's small per-step
loop tensors; so for ``keras`` and ``seqcore`` (and ``keras-xla`` with
``--memory-xla``) the script starts fresh copies of itself (hidden option
``--memory-worker``) with ``TF_CPU_ALLOCATOR_USE_BFC=true``, which makes TF use its BFC
allocator on CPU too, tracking every allocation. They build the same model with the
same weights; ``--memory-repeats`` workers per impl, medians.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import shlex
import statistics
import subprocess
import sys
import time
from typing import NamedTuple

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
IMPLS = ("keras", "keras-xla", "seqcore")
MEMORY_IMPLS = ("keras", "seqcore")
WORKER_RESULT = "RNN_SPEED_MEMORY_WORKER"
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
LAYER_NAMES = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}
DEFAULT_SHAPES = "64x100x64x128,32x500x32x256"
QUICK_SHAPES = "4x12x3x8"
QUICK_REPEATS = 2
TOLERANCE = 1e-4
WARMUP_CALLS = 2
MEMORY_STEPS = 3
LEARNING_RATE = 1e-4
MB = 2**20


class Shape(NamedTuple):
    batch: int
    steps: int
    inputs: int
    units: int

    def __str__(self):
        return "x".join(str(value) for value in self)


def parse_shapes(text):
    shapes = []
    for item in text.split(","):
        parts = item.strip().lower().split("x")
        try:
            shape = Shape(*(int(part) for part in parts))
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(
                f"a shape is BATCHxSTEPSxINPUTSxUNITS of positive integers. Received: {item!r}"
            ) from None
        if min(shape) < 1 or shape.steps < 2:
            raise argparse.ArgumentTypeError(
                f"every dimension must be positive and steps >= 2. Received: {item!r}"
            )
        shapes.append(shape)
    return shapes


def parse_cells(text):
    cells = [cell.strip() for cell in text.split(",") if cell.strip()]
    unknown = [cell for cell in cells if cell not in GATES]
    if not cells or unknown:
        raise argparse.ArgumentTypeError(
            f"cells are a comma-separated subset of {','.join(GATES)}. Received: {text!r}"
        )
    return cells


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python benchmarks/rnn_speed.py",
        description="Forward and training-step speed and peak memory of seqcore.LSTM/GRU/"
        "SimpleRNN against keras.layers with the same weights (ratio > 1: seqcore faster).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--cells", type=parse_cells, default=",".join(GATES), help="comma-separated cells"
    )
    parser.add_argument(
        "--shapes",
        type=parse_shapes,
        default=DEFAULT_SHAPES,
        help="comma-separated BATCHxSTEPSxINPUTSxUNITS",
    )
    masking = parser.add_mutually_exclusive_group()
    masking.add_argument(
        "--masked",
        dest="masked",
        action="store_const",
        const=(True,),
        help="only masked rows (default: unmasked and masked rows)",
    )
    masking.add_argument(
        "--no-masked",
        dest="masked",
        action="store_const",
        const=(False,),
        help="only unmasked rows",
    )
    parser.set_defaults(masked=(False, True))
    parser.add_argument("--repeats", type=int, default=9, help="repetitions; medians are reported")
    parser.add_argument(
        "--number", type=int, default=3, help="calls per timed repetition (time is per call)"
    )
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument(
        "--memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure training memory (on CPU: peak RSS of fresh subprocesses, a few seconds each)",
    )
    parser.add_argument(
        "--memory-repeats",
        type=int,
        default=2,
        help="CPU: (forward-only, training) subprocess pairs per impl; the median is reported",
    )
    parser.add_argument(
        "--memory-xla",
        action="store_true",
        help="CPU: also measure keras-xla's training memory (default: keras and seqcore only)",
    )
    parser.add_argument(
        "--json", type=pathlib.Path, default=None, help="also write the results to this JSON file"
    )
    parser.add_argument("--memory-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: shapes {QUICK_SHAPES}, {QUICK_REPEATS} repeats, 1 call per repetition",
    )
    return parser


def resolve_args(parser, argv):
    args = parser.parse_args(argv)
    if args.quick:
        args.shapes = parse_shapes(QUICK_SHAPES)
        args.repeats = QUICK_REPEATS
        args.number = 1
    if args.repeats < 1 or args.number < 1 or args.memory_repeats < 1:
        parser.error(
            "--repeats, --number and --memory-repeats must be >= 1. Received: "
            f"{args.repeats}, {args.number}, {args.memory_repeats}"
        )
    return args


def memory_method(args):
    if not args.memory:
        return None
    if args.device == "gpu":
        return "gpu_allocator_peak_minus_before_step"
    return "cpu_bfc_allocator_peak_minus_before_step"


def rerun_command(args):
    parts = [
        "--cells",
        ",".join(args.cells),
        "--shapes",
        ",".join(str(shape) for shape in args.shapes),
        "--repeats",
        str(args.repeats),
        "--number",
        str(args.number),
        "--optimizer",
        args.optimizer,
        "--device",
        args.device,
        "--seed",
        str(args.seed),
    ]
    if args.masked != (False, True):
        parts.append("--masked" if args.masked == (True,) else "--no-masked")
    if not args.memory:
        parts.append("--no-memory")
    elif args.device == "cpu":
        parts += ["--memory-repeats", str(args.memory_repeats)]
        if args.memory_xla:
            parts.append("--memory-xla")
    if args.json is not None:
        parts += ["--json", str(args.json)]
    return "python benchmarks/rnn_speed.py " + shlex.join(parts)


def progress(message):
    print(f"[rnn_speed {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine_info(device):
    import keras
    import tensorflow as tf

    import seqcore

    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "seqcore": seqcore.__version__,
        "device": device,
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    if device == "gpu":
        gpu = tf.config.list_physical_devices("GPU")[0]
        info["gpu"] = tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
    return info


def forward_flops(cell, shape):
    """Matmul FLOPs of one forward pass: 2*B*T*(F+U)*G*U."""
    batch, steps, inputs, units = shape
    return 2 * batch * steps * (inputs + units) * GATES[cell] * units


def make_data(shape, masked, seed):
    """Inputs, targets and sequence lengths; masked rows are right-padded with zeros."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((shape.batch, shape.steps, shape.inputs)).astype("float32")
    y = rng.standard_normal((shape.batch, shape.units)).astype("float32")
    lengths = np.full(shape.batch, shape.steps)
    if masked:
        lengths = rng.integers(shape.steps // 2, shape.steps + 1, size=shape.batch)
        x[np.arange(shape.steps)[None, :] >= lengths[:, None]] = 0.0
    return x, y, lengths


def build_model(cell, impl, shape, masked, optimizer):
    import keras

    import seqcore

    kwargs = {}
    if impl == "seqcore":
        layer_class = getattr(seqcore, LAYER_NAMES[cell])
    else:
        layer_class = getattr(keras.layers, LAYER_NAMES[cell])
        if impl == "keras-xla" and cell != "simple_rnn":
            kwargs["use_cudnn"] = False
    inputs = keras.Input(batch_shape=(shape.batch, shape.steps, shape.inputs))
    hidden = keras.layers.Masking(0.0)(inputs) if masked else inputs
    outputs = layer_class(shape.units, **kwargs)(hidden)
    model = keras.Model(inputs, outputs, name=f"{cell}_{impl}".replace("-", "_"))
    make_optimizer = keras.optimizers.SGD if optimizer == "sgd" else keras.optimizers.Adam
    compile_kwargs = {"jit_compile": True} if impl == "keras-xla" else {}
    model.compile(optimizer=make_optimizer(LEARNING_RATE), loss="mse", **compile_kwargs)
    return model


def build_models(cell, impls, shape, masked, optimizer, seed):
    """Builds `impls` (the first one seeded with `seed`) and gives all the first one's weights."""
    import keras

    keras.utils.set_random_seed(seed)
    models = {impl: build_model(cell, impl, shape, masked, optimizer) for impl in impls}
    for impl in impls[1:]:
        models[impl].set_weights(models[impls[0]].get_weights())
    return models


def forward_function(model):
    import tensorflow as tf

    @tf.function(jit_compile=bool(model.jit_compile))
    def forward(x):
        return model(x, training=False)

    return forward


def seconds_per_call(function, number):
    start = time.perf_counter()
    for _ in range(number):
        function()
    return (time.perf_counter() - start) / number


def allocator_train_memory(model, x, y, memory_device, steps):
    """GPU: median over `steps` of the allocator's peak during one step above its level before."""
    import tensorflow as tf

    samples = []
    for _ in range(steps):
        before = tf.config.experimental.get_memory_info(memory_device)["current"]
        tf.config.experimental.reset_memory_stats(memory_device)
        model.train_on_batch(x, y)
        peak = tf.config.experimental.get_memory_info(memory_device)["peak"]
        samples.append((peak - before) / MB)
    return statistics.median(samples)


def memory_worker(spec):
    """Hidden mode: builds one model as run_row does, warms it up, prints its step memory."""
    import tensorflow as tf

    shape = Shape(*spec["shape"])
    impl = spec["impl"]
    # Same weights as the timing part: seeded keras model first, then copied.
    impls = ("keras",) if impl == "keras" else ("keras", impl)
    with tf.device(f"/{spec['device']}"):
        models = build_models(
            spec["cell"], impls, shape, spec["masked"], spec["optimizer"], spec["seed"]
        )
        model = models.pop(impl)
        del models
        x_np, y_np, _ = make_data(shape, spec["masked"], spec["seed"])
        x, y = tf.constant(x_np), tf.constant(y_np)
        for _ in range(2):  # trace and warm up
            model.train_on_batch(x, y)
        train_mem = allocator_train_memory(model, x, y, spec["device"], MEMORY_STEPS)
    print(f"{WORKER_RESULT} {json.dumps({'impl': impl, 'train_mem_mb': train_mem})}", flush=True)
    return 0


def run_memory_worker(spec):
    """Runs this script as a fresh memory worker; returns its training-step memory in MB."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["TF_CPU_ALLOCATOR_USE_BFC"] = "true"
    command = [sys.executable, str(pathlib.Path(__file__).resolve())]
    command += ["--memory-worker", json.dumps(spec)]
    completed = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith(WORKER_RESULT + " ")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(
            f"memory worker {spec} failed with exit status {completed.returncode}:\n"
            f"{completed.stdout[-2000:]}{completed.stderr[-4000:]}"
        )
    return json.loads(lines[-1][len(WORKER_RESULT) + 1 :])["train_mem_mb"]


def process_train_memory(cell, shape, masked, args, impls, label):
    """CPU: per impl, median over workers of the BFC allocator's training-step peak."""
    samples = {impl: [] for impl in impls}
    for repeat in range(args.memory_repeats):
        progress(f"{label}: training memory (workers), round {repeat + 1}/{args.memory_repeats}")
        order = impls[repeat % len(impls) :] + impls[: repeat % len(impls)]
        for impl in order:
            spec = {
                "cell": cell,
                "shape": list(shape),
                "masked": masked,
                "impl": impl,
                "optimizer": args.optimizer,
                "seed": args.seed,
                "device": "CPU:0",
            }
            samples[impl].append(run_memory_worker(spec))
    return {
        impl: {"train_mem_mb": statistics.median(s), "train_mem_mb_samples": s}
        for impl, s in samples.items()
    }


def run_row(cell, shape, masked, args, memory_device):
    """Builds the three models with one set of weights, checks them, times them."""
    import numpy as np
    import tensorflow as tf

    label = f"{cell} {shape} {'masked' if masked else 'unmasked'}"
    progress(f"{label}: building, checking and warming up")
    x_np, y_np, lengths = make_data(shape, masked, args.seed)
    x, y = tf.constant(x_np), tf.constant(y_np)
    models = build_models(cell, IMPLS, shape, masked, args.optimizer, args.seed)
    forwards = {impl: forward_function(model) for impl, model in models.items()}

    reference = forwards["keras"](x).numpy()
    max_diff = {
        impl: float(np.max(np.abs(forwards[impl](x).numpy() - reference))) for impl in IMPLS[1:]
    }
    for impl in IMPLS:
        for _ in range(WARMUP_CALLS):
            forwards[impl](x).numpy()
            models[impl].train_on_batch(x, y)

    forward_ms = {impl: [] for impl in IMPLS}
    train_ms = {impl: [] for impl in IMPLS}
    for repeat in range(args.repeats):
        progress(f"{label}: repetition {repeat + 1}/{args.repeats}")
        order = IMPLS[repeat % len(IMPLS) :] + IMPLS[: repeat % len(IMPLS)]
        for impl in order:
            forward_ms[impl].append(
                1e3 * seconds_per_call(lambda f=forwards[impl]: f(x).numpy(), args.number)
            )
        for impl in order:
            train_ms[impl].append(
                1e3 * seconds_per_call(lambda m=models[impl]: m.train_on_batch(x, y), args.number)
            )
    memory = {}
    if args.memory and args.device == "gpu":
        progress(f"{label}: training memory (allocator)")
        memory = {
            impl: {
                "train_mem_mb": allocator_train_memory(
                    models[impl], x, y, memory_device, MEMORY_STEPS
                )
            }
            for impl in IMPLS
        }
    elif args.memory:
        impls = IMPLS if args.memory_xla else MEMORY_IMPLS
        memory = process_train_memory(cell, shape, masked, args, impls, label)

    flops = forward_flops(cell, shape)
    results = []
    for impl in IMPLS:
        fwd = statistics.median(forward_ms[impl])
        train = statistics.median(train_ms[impl])
        results.append(
            {
                "cell": cell,
                "shape": str(shape),
                "batch": shape.batch,
                "steps": shape.steps,
                "inputs": shape.inputs,
                "units": shape.units,
                "masked": masked,
                "mean_length": float(lengths.mean()),
                "impl": impl,
                "jit_compile": bool(models[impl].jit_compile),
                "forward_ms": fwd,
                "forward_gflops": flops / (fwd * 1e-3) / 1e9,
                "train_ms": train,
                "train_gflops": 3 * flops / (train * 1e-3) / 1e9,
                "train_mem_mb": memory.get(impl, {}).get("train_mem_mb"),
                "forward_ms_samples": forward_ms[impl],
                "train_ms_samples": train_ms[impl],
                "max_abs_diff_vs_keras": max_diff.get(impl, 0.0),
            }
        )
        results[-1].update({k: v for k, v in memory.get(impl, {}).items() if k != "train_mem_mb"})
    add_ratios(results)
    return results


def add_ratios(results):
    """Speed ratios keras_ms / seqcore_ms (> 1: seqcore faster); memory seqcore / keras."""
    by_impl = {row["impl"]: row for row in results}
    ours, keras_row, xla_row = by_impl["seqcore"], by_impl["keras"], by_impl["keras-xla"]
    for kind in ("forward", "train"):
        key = f"{kind}_ms"
        best = min(keras_row[key], xla_row[key])
        ours[f"{kind}_speedup_vs_keras"] = keras_row[key] / ours[key]
        ours[f"{kind}_speedup_vs_best"] = best / ours[key]
    ours_mb, keras_mb = ours["train_mem_mb"], keras_row["train_mem_mb"]
    ours["memory_ratio_vs_keras"] = (
        ours_mb / keras_mb
        if ours_mb is not None and keras_mb is not None and keras_mb > 0
        else None
    )


def format_header(info, args):
    lines = [
        "rnn_speed: seqcore vs keras.layers, same shapes and weights, medians of "
        f"{args.repeats} repetitions x {args.number} calls",
        f"date     {info['date']}",
        f"machine  {info['platform']}, {info['processor']}, {info['cpu_count']} CPUs"
        + (f" ({info['cpus_usable']} usable)" if "cpus_usable" in info else ""),
        f"versions python {info['python']}, tensorflow {info['tensorflow']}, "
        f"keras {info['keras']}, seqcore {info['seqcore']}",
        f"device   {args.device}" + (f" ({info['gpu']})" if "gpu" in info else ""),
        f"training train_on_batch, {args.optimizer} lr={LEARNING_RATE}, MSE on the last output; "
        "forward: tf.function(model(x, training=False)), jit_compile=model.jit_compile",
        "impls    keras: keras.layers default compile (jit_compile='auto', resolved in 'jit'); "
        "keras-xla: jit_compile=True (LSTM/GRU use_cudnn=False); seqcore: default compile",
        "FLOPs    matmul only: forward = 2*B*T*(F+U)*G*U (G = 4 LSTM, 3 GRU, 1 SimpleRNN), "
        "train = 3 x forward; masked rows count all T steps",
        "ratios   x keras / x best = keras_ms (or min of keras, keras-xla) / seqcore_ms, "
        "> 1: seqcore faster; mem = seqcore_MB / keras_MB, < 1: seqcore smaller",
    ]
    if not args.memory:
        lines.append("memory   not measured (--no-memory)")
    else:
        where = (
            "GPU BFC allocator"
            if args.device == "gpu"
            else (
                "CPU BFC allocator (workers with TF_CPU_ALLOCATOR_USE_BFC=true, "
                f"{args.memory_repeats} per impl, "
                + ("all impls" if args.memory_xla else "keras-xla not measured (--memory-xla)")
                + ")"
            )
        )
        lines.append(
            f"memory   train mem MB: median over {MEMORY_STEPS} train_on_batch (after 2 warm-up "
            f"steps) of the allocator's peak minus its level before the step; {where}"
        )
    return "\n".join(lines)


def format_table(rows):
    columns = [  # title, width, format (after the width), row key
        ("cell", 10, "", "cell"),
        ("shape", 15, "", "shape"),
        ("mask", 4, "", "masked"),
        ("impl", 9, "", "impl"),
        ("jit", 3, "", "jit_compile"),
        ("fwd ms", 9, ".2f", "forward_ms"),
        ("fwd GF/s", 8, ".2f", "forward_gflops"),
        ("train ms", 9, ".2f", "train_ms"),
        ("trn GF/s", 8, ".2f", "train_gflops"),
        ("train mem MB", 12, ".1f", "train_mem_mb"),
        ("fwd x keras", 11, ".2f", "forward_speedup_vs_keras"),
        ("fwd x best", 10, ".2f", "forward_speedup_vs_best"),
        ("trn x keras", 11, ".2f", "train_speedup_vs_keras"),
        ("trn x best", 10, ".2f", "train_speedup_vs_best"),
        ("mem/keras", 9, ".2f", "memory_ratio_vs_keras"),
    ]
    header = "  ".join(
        f"{title:<{width}}" if not fmt else f"{title:>{width}}" for title, width, fmt, _ in columns
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = []
        for _, width, fmt, key in columns:
            value = row.get(key)
            if value is None:
                cells.append(f"{'-':>{width}}")
            elif isinstance(value, bool):
                cells.append(f"{'yes' if value else 'no':<{width}}")
            elif fmt:
                cells.append(f"{value:>{width}{fmt}}")
            else:
                cells.append(f"{value:<{width}}")
        lines.append("  ".join(cells))
        if row["max_abs_diff_vs_keras"] > TOLERANCE:
            lines.append(
                f"  WARNING {row['cell']} {row['shape']} masked={row['masked']}: "
                f"{row['impl']} output differs from keras by max |diff| "
                f"{row['max_abs_diff_vs_keras']:.2e} > {TOLERANCE:.0e}"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = build_parser()
    args = resolve_args(parser, argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(REPO_ROOT))  # benchmark this checkout's seqcore
    if args.memory_worker is not None:
        return memory_worker(json.loads(args.memory_worker))
    import tensorflow as tf

    if args.device == "gpu" and not tf.config.list_physical_devices("GPU"):
        parser.error("--device gpu: TensorFlow sees no GPU on this machine")
    info = machine_info(args.device)
    print(format_header(info, args), flush=True)

    memory_device = "GPU:0" if args.device == "gpu" else "CPU:0"
    rows = []
    with tf.device(f"/{memory_device}"):
        for cell in args.cells:
            for shape in args.shapes:
                for masked in args.masked:
                    rows += run_row(cell, shape, masked, args, memory_device)

    print()
    print(format_table(rows))
    command = rerun_command(args)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "meta": {
                **info,
                "command": command,
                "argv": sys.argv,
                "repeats": args.repeats,
                "number": args.number,
                "optimizer": args.optimizer,
                "seed": args.seed,
                "tolerance": TOLERANCE,
                "memory": args.memory,
                "memory_method": memory_method(args),
                "memory_steps": MEMORY_STEPS,
                "memory_repeats": args.memory_repeats,
            },
            "rows": rows,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nJSON written to {args.json}")
    print(f"\nrerun: {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
