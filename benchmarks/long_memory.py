"""Long-memory tasks for seqcore's SimpleRNN, LSTM and GRU under a fixed training budget.

Tasks (fresh random training batches every step, one fixed seeded test set):

* ``adding`` (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015): each of the
  T steps holds a number drawn from U(0, 1) and a marker; exactly two steps are marked,
  one in each half of the sequence. The target is the sum of the two marked numbers.
  Always answering 1.0 scores MSE 1/6 = 0.167; "solved" is test MSE < 0.01.
* ``copy`` (copy memory, Arjovsky et al. 2016): 10 symbols from an alphabet of 8, then
  T blanks, then a delimiter, then 10 more blanks; the model must output blanks and then,
  in the last 10 steps, the 10 symbols in order (sequence length T + 20, a target at every
  step). Accuracy is over the 10 recalled symbols (chance 1/8); "solved" is accuracy >=
  0.99. The memoryless baseline (blanks, then uniform guesses) has cross-entropy
  10 ln 8 / (T + 20) per step.

Each run trains ``seqcore.<Cell>(units)`` + a dense head with Adam and global-norm
clipping until it is solved or its budget (``--budget-seconds`` of wall time, or
``--steps`` updates) is spent, evaluating on the test set every ``--eval-every`` updates;
the time to solve counts training and evaluation. Run ``python benchmarks/long_memory.py
--help``; the default table (2 tasks x 3 lengths x 3 cells, 130 s each) takes at most about
40 minutes. The acceptance run for the adding problem at T=200 is::

    python benchmarks/long_memory.py --tasks adding --lengths 200 --cells lstm,gru \
        --budget-seconds 600
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import shlex
import sys
import time

import numpy as np

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

TASKS = ("adding", "copy")
CELLS = ("simple_rnn", "lstm", "gru")
LAYER_NAMES = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}
COPY_SYMBOLS = 10
COPY_ALPHABET = 8  # symbols 1..8; 0 is the blank, 9 the delimiter
COPY_CLASSES = COPY_ALPHABET + 2
ADDING_TARGET = 0.01
COPY_TARGET = 0.99


def adding_batch(rng, batch, steps):
    """Inputs `(batch, steps, 2)` (value, marker) and targets `(batch, 1)`."""
    values = rng.uniform(0.0, 1.0, (batch, steps)).astype("float32")
    half = steps // 2
    first = rng.integers(0, half, batch)
    second = rng.integers(half, steps, batch)
    markers = np.zeros((batch, steps), "float32")
    rows = np.arange(batch)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return np.stack([values, markers], axis=-1), targets[:, None].astype("float32")


def copy_batch(rng, batch, delay):
    """One-hot inputs `(batch, delay + 20, 10)` and integer targets `(batch, delay + 20)`."""
    length = delay + 2 * COPY_SYMBOLS
    symbols = rng.integers(1, COPY_ALPHABET + 1, (batch, COPY_SYMBOLS))
    tokens = np.zeros((batch, length), "int64")
    tokens[:, :COPY_SYMBOLS] = symbols
    tokens[:, COPY_SYMBOLS + delay - 1] = COPY_CLASSES - 1  # delimiter
    targets = np.zeros((batch, length), "int64")
    targets[:, -COPY_SYMBOLS:] = symbols
    inputs = np.eye(COPY_CLASSES, dtype="float32")[tokens]
    return inputs, targets


def make_batch(task, rng, batch, steps):
    return adding_batch(rng, batch, steps) if task == "adding" else copy_batch(rng, batch, steps)


def baseline(task, steps):
    """The memoryless score: MSE of answering 1.0, or the copy task's chance accuracy."""
    return 1.0 / 6.0 if task == "adding" else 1.0 / COPY_ALPHABET


def build_model(task, cell, steps, units, learning_rate, clip_norm):
    import keras

    import seqcore
    from seqcore.training import clipped_optimizer

    layer = getattr(seqcore, LAYER_NAMES[cell])
    if task == "adding":
        inputs = keras.Input((steps, 2))
        hidden = layer(units)(inputs)
        outputs = keras.layers.Dense(1)(hidden)
        loss = "mse"
    else:
        inputs = keras.Input((steps + 2 * COPY_SYMBOLS, COPY_CLASSES))
        hidden = layer(units, return_sequences=True)(inputs)
        outputs = keras.layers.Dense(COPY_CLASSES)(hidden)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model = keras.Model(inputs, outputs, name=f"{task}_{cell}_{steps}")
    model.compile(optimizer=clipped_optimizer("adam", learning_rate, clip_norm), loss=loss)
    return model


def evaluate(model, task, x, y, batch):
    predictions = model.predict(x, batch_size=batch, verbose=0)
    if task == "adding":
        return float(np.mean((predictions - y) ** 2))
    recalled = np.argmax(predictions[:, -COPY_SYMBOLS:], axis=-1)
    return float(np.mean(recalled == y[:, -COPY_SYMBOLS:]))


def solved(task, score):
    return score < ADDING_TARGET if task == "adding" else score >= COPY_TARGET


def run(task, cell, steps, args):
    """Trains one model; returns a row of the table."""
    import keras

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    test_x, test_y = make_batch(
        task, np.random.default_rng(args.seed + 10_000), args.test_size, steps
    )
    learning_rate = args.learning_rate
    model = build_model(task, cell, steps, args.units, learning_rate, args.clip_norm)
    label = f"{task} T={steps} {cell}"
    progress(f"{label}: training (load {load():.2f})")
    start = time.perf_counter()
    updates, score, solved_at, history = 0, None, None, []
    loads = [load()]
    while True:
        x, y = make_batch(task, rng, args.batch_size, steps)
        loss = model.train_on_batch(x, y)
        updates += 1
        elapsed = time.perf_counter() - start
        out_of_budget = (args.steps and updates >= args.steps) or (
            not args.steps and elapsed >= args.budget_seconds
        )
        if updates % args.eval_every == 0 or out_of_budget:
            score = evaluate(model, task, test_x, test_y, args.eval_batch_size)
            elapsed = time.perf_counter() - start
            history.append([updates, round(elapsed, 1), score])
            loads.append(load())
            progress(
                f"{label}: update {updates}, {elapsed:.0f} s, loss {float(loss):.4f}, "
                f"test {'mse' if task == 'adding' else 'acc'} {score:.4f}"
            )
            if solved(task, score):
                solved_at = elapsed
                break
        if out_of_budget:
            break
    return {
        "task": task,
        "steps": steps,
        "cell": cell,
        "metric": "mse" if task == "adding" else "accuracy",
        "test": score,
        "baseline": baseline(task, steps),
        "solved": solved_at is not None,
        "seconds_to_solve": solved_at,
        "updates": updates,
        "wall_seconds": time.perf_counter() - start,
        "learning_rate": learning_rate,
        "load_mean": float(np.mean(loads)),
        "history": history,
    }


def load():
    return os.getloadavg()[0]


def progress(message):
    print(f"[long_memory {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _list(choices):
    def parse(text):
        items = [item.strip() for item in text.split(",") if item.strip()]
        bad = [item for item in items if item not in choices]
        if not items or bad:
            raise argparse.ArgumentTypeError(
                f"a comma-separated subset of {','.join(choices)}. Received: {text!r}"
            )
        return items

    return parse


def _lengths(text):
    try:
        lengths = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        lengths = []
    if not lengths or min(lengths) < 2:
        raise argparse.ArgumentTypeError(f"comma-separated integers >= 2. Received: {text!r}")
    return lengths


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python benchmarks/long_memory.py",
        description="Adding problem and copy-memory task for seqcore SimpleRNN/LSTM/GRU "
        "under a fixed training budget.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--tasks", type=_list(TASKS), default=",".join(TASKS))
    parser.add_argument(
        "--lengths",
        type=_lengths,
        default="100,200,400",
        help="T: sequence length (adding) or delay (copy)",
    )
    parser.add_argument("--cells", type=_list(CELLS), default=",".join(CELLS))
    parser.add_argument(
        "--budget-seconds",
        type=float,
        default=130.0,
        help="wall-time budget per run (training + evaluation)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=0,
        help="budget in updates instead of seconds (0: use --budget-seconds)",
    )
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3, help="Adam learning rate")
    parser.add_argument("--clip-norm", type=float, default=1.0, help="global-norm clipping")
    parser.add_argument("--eval-every", type=int, default=50, help="updates between test evals")
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--eval-batch-size", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--json", type=pathlib.Path, default=None, help="also write the rows to this JSON file"
    )
    return parser


def rerun_command(args):
    parts = [
        "--tasks",
        ",".join(args.tasks),
        "--lengths",
        ",".join(map(str, args.lengths)),
        "--cells",
        ",".join(args.cells),
    ]
    if args.steps:
        parts += ["--steps", str(args.steps)]
    else:
        parts += ["--budget-seconds", f"{args.budget_seconds:g}"]
    parts += ["--units", str(args.units), "--batch-size", str(args.batch_size)]
    parts += ["--learning-rate", f"{args.learning_rate:g}"]
    parts += [
        "--clip-norm",
        f"{args.clip_norm:g}",
        "--eval-every",
        str(args.eval_every),
        "--test-size",
        str(args.test_size),
        "--seed",
        str(args.seed),
    ]
    if args.json is not None:
        parts += ["--json", str(args.json)]
    return "python benchmarks/long_memory.py " + shlex.join(parts)


def format_table(rows):
    header = (
        f"{'task':<7} {'T':>4} {'cell':<10} {'metric':<8} {'test':>8} {'baseline':>8} "
        f"{'solved':>6} {'to solve s':>10} {'updates':>7} {'wall s':>7} {'load':>5}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        to_solve = f"{r['seconds_to_solve']:.0f}" if r["solved"] else "-"
        lines.append(
            f"{r['task']:<7} {r['steps']:>4} {r['cell']:<10} {r['metric']:<8} {r['test']:>8.4f} "
            f"{r['baseline']:>8.3f} {'yes' if r['solved'] else 'no':>6} {to_solve:>10} "
            f"{r['updates']:>7} {r['wall_seconds']:>7.0f} {r['load_mean']:>5.2f}"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if (
        args.steps < 0
        or args.budget_seconds <= 0
        or args.learning_rate <= 0
        or min(args.units, args.batch_size, args.eval_every, args.test_size) < 1
    ):
        parser.error(
            "--steps must be >= 0; --budget-seconds, --learning-rate, --units, --batch-size, "
            "--eval-every and --test-size must be positive"
        )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    rows = []
    for task in args.tasks:
        for steps in args.lengths:
            for cell in args.cells:
                rows.append(run(task, cell, steps, args))
    info = {
        "date": started,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "command": rerun_command(args),
    }
    print(
        f"# {started}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}"
    )
    print(
        f"# units {args.units}, batch {args.batch_size}, Adam + global-norm clip "
        f"{args.clip_norm:g}, seed {args.seed}; load = mean 1-min load average during the run"
    )
    print(format_table(rows))
    print(f"\nrerun: {info['command']}")
    if args.json is not None:
        args.json.write_text(json.dumps({"info": info, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
