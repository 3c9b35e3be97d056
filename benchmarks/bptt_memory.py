"""Peak memory of one training step: full BPTT against truncated BPTT, 1k to 100k steps.

Model: ``Input((None, F)) -> seqcore.LSTM(U, return_sequences=True) -> Dense(1)``,
per-step targets, SGD. ``full`` is ``model.fit`` as usual: one update per batch whose
backward pass keeps the activations of every step, so its memory grows with T.
``truncated`` wraps the same model in ``seqcore.training.TruncatedBPTT(model, k1=K,
k2=K)``: one update per K-step chunk, the states carried across chunks, memory set by K.

Memory is measured as in ``benchmarks/rnn_speed.py``: every row runs in a fresh worker
process (this script with the hidden ``--worker``) with ``TF_CPU_ALLOCATOR_USE_BFC=true``,
so TensorFlow's BFC allocator tracks every CPU allocation; after one warm-up step (tracing,
optimizer state) the worker records ``get_memory_info("CPU:0")["peak"]`` during one
training step minus ``["current"]`` just before it. Inputs and targets are tensors made
before the measured step, so they are not counted; what is counted is what the step
itself allocates. A worker that fails (out of memory) or runs past ``--timeout`` is
reported as such. Run ``python benchmarks/bptt_memory.py --help``.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import shlex
import subprocess
import sys
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
WORKER_RESULT = "BPTT_MEMORY_WORKER"
MODES = ("full", "truncated")
MB = 2**20


def worker(spec):
    """Hidden mode: one training step of one (mode, length); prints its peak memory."""
    sys.path.insert(0, str(REPO_ROOT))
    import keras
    import numpy as np
    import tensorflow as tf

    import seqcore
    from seqcore.training import TruncatedBPTT

    keras.utils.set_random_seed(spec["seed"])
    rng = np.random.default_rng(spec["seed"])
    shape = (spec["batch"], spec["length"], spec["features"])
    x = tf.constant(rng.standard_normal(shape).astype("float32"))
    y = tf.constant(rng.standard_normal(shape[:2] + (1,)).astype("float32"))
    model = keras.Sequential(
        [
            keras.Input((None, spec["features"])),
            seqcore.LSTM(spec["units"], return_sequences=True),
            keras.layers.Dense(1),
        ]
    )
    if spec["mode"] == "truncated":
        model = TruncatedBPTT(model, k1=spec["k"], k2=spec["k"])
    model.compile(optimizer=keras.optimizers.SGD(1e-4), loss="mse")
    start = time.perf_counter()
    model.train_on_batch(x, y)  # trace, build the optimizer
    warmup = time.perf_counter() - start
    before = tf.config.experimental.get_memory_info("CPU:0")["current"]
    tf.config.experimental.reset_memory_stats("CPU:0")
    start = time.perf_counter()
    loss = model.train_on_batch(x, y)
    seconds = time.perf_counter() - start
    peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
    result = {
        "peak_mb": (peak - before) / MB,
        "step_seconds": seconds,
        "warmup_seconds": warmup,
        "loss": float(loss),
        "updates_per_step": int(model.optimizer.iterations) // 2,
    }
    print(f"{WORKER_RESULT} {json.dumps(result)}", flush=True)
    return 0


def run_worker(spec, timeout):
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["TF_CPU_ALLOCATOR_USE_BFC"] = "true"
    command = [sys.executable, str(pathlib.Path(__file__).resolve()), "--worker", json.dumps(spec)]
    try:
        completed = subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:g} s"}
    lines = [line for line in completed.stdout.splitlines() if line.startswith(WORKER_RESULT)]
    if completed.returncode != 0 or not lines:
        tail = (completed.stderr or "").strip().splitlines()[-1:] or [""]
        kind = "out of memory" if completed.returncode in (-9, 137) else "failed"
        return {"error": f"{kind} (exit {completed.returncode}) {tail[0][:120]}"}
    return json.loads(lines[-1][len(WORKER_RESULT) + 1 :])


def progress(message):
    print(f"[bptt_memory {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _ints(text):
    try:
        values = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 2:
        raise argparse.ArgumentTypeError(f"comma-separated integers >= 2. Received: {text!r}")
    return values


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python benchmarks/bptt_memory.py",
        description="Training-step peak memory of full vs truncated BPTT over sequence length.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--lengths", type=_ints, default="1000,10000,100000")
    parser.add_argument("--k", type=int, default=100, help="TBPTT chunk: k1 = k2 = K")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--full-max-length",
        type=int,
        default=100_000,
        help="skip full BPTT above this length (reported as skipped)",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per worker")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="also write JSON here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return parser


def rerun_command(args):
    parts = ["--lengths", ",".join(map(str, args.lengths)), "--k", str(args.k)]
    parts += ["--batch", str(args.batch), "--features", str(args.features)]
    parts += ["--units", str(args.units), "--seed", str(args.seed)]
    parts += ["--full-max-length", str(args.full_max_length), "--timeout", f"{args.timeout:g}"]
    if args.json is not None:
        parts += ["--json", str(args.json)]
    return "python benchmarks/bptt_memory.py " + shlex.join(parts)


def _cell(result, key, fmt):
    if result is None:
        return "skipped"
    if "error" in result:
        return result["error"].split(" (")[0]
    return format(result[key], fmt)


def format_table(rows):
    header = (
        f"{'steps':>7}  {'full MB':>10}  {'truncated MB':>12}  {'full s/step':>11}  "
        f"{'trunc s/step':>12}  {'updates':>7}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        full, truncated = row["full"], row["truncated"]
        updates = truncated.get("updates_per_step", "-") if truncated else "-"
        lines.append(
            f"{row['length']:>7}  {_cell(full, 'peak_mb', '.1f'):>10}  "
            f"{_cell(truncated, 'peak_mb', '.1f'):>12}  "
            f"{_cell(full, 'step_seconds', '.2f'):>11}  "
            f"{_cell(truncated, 'step_seconds', '.2f'):>12}  {updates:>7}"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.worker is not None:
        return worker(json.loads(args.worker))
    if min(args.k, args.batch, args.features, args.units) < 1 or args.timeout <= 0:
        parser.error("--k, --batch, --features, --units and --timeout must be positive")
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    rows = []
    for length in args.lengths:
        row = {"length": length}
        for mode in MODES:
            if mode == "full" and length > args.full_max_length:
                row[mode] = None
                continue
            spec = {
                "mode": mode,
                "length": length,
                "k": args.k,
                "batch": args.batch,
                "features": args.features,
                "units": args.units,
                "seed": args.seed,
            }
            progress(f"{mode} BPTT, {length} steps (load {os.getloadavg()[0]:.2f})")
            row[mode] = run_worker(spec, args.timeout)
            progress(f"  -> {row[mode]}")
        rows.append(row)
    print(
        f"# {started}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"seqcore.LSTM({args.units}) + Dense(1), batch {args.batch}, {args.features} features, "
        f"per-step MSE, SGD; truncated: k1 = k2 = {args.k}"
    )
    print("# peak MB: CPU BFC allocator peak during one training step above its level before")
    print(format_table(rows))
    print(f"\nrerun: {rerun_command(args)}")
    if args.json is not None:
        args.json.write_text(
            json.dumps({"date": started, "command": rerun_command(args), "rows": rows}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
