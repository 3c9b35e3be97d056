"""MR sentence polarity: 10-fold cross-validation of the sentiment model and the TF-IDF baseline.

Protocol (`../shared/data/README.md`): seeded stratified 10-fold CV over the 10,662 MR
sentences (Windows-1252), mean test accuracy. Both models see the same folds
(`apps.common.flow.cv_splits`); in each fold 10% of the training part is held out as
validation (Kim 2014): the recurrent model early-stops on it, the baseline picks its `C` on
it, then trains on train + validation. No pretrained vectors unless `--embeddings`.

Published MR accuracy: CNN-rand 76.1, CNN-non-static (word2vec) 81.5 (Kim 2014); NBSVM-bi
79.4 (Wang & Manning 2012); TF-IDF + logistic regression measured on this data 77.6.

Run (from the repository root):

    .venv/bin/python benchmarks/sentiment_mr.py                     # the full protocol
    .venv/bin/python benchmarks/sentiment_mr.py --folds 1 --epochs 2  # a quick smoke run
    .venv/bin/python benchmarks/sentiment_mr.py --preset base --set units=96 --set dense=[]

Prints one row per fold (model and baseline), mean and std, and the command to rerun;
`--json-out FILE` also writes everything (per-fold metrics and histories) as JSON.
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

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "mr_polarity"


def _override(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _folds(text):
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected fold numbers like 1,2, got {text!r}") from None


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=pathlib.Path, default=DEFAULT_DATA, help="MR folder")
    parser.add_argument("--k", type=int, default=10, help="number of folds")
    parser.add_argument("--folds", type=_folds, default=None, help="run only these, e.g. 1,2")
    parser.add_argument("--seed", type=int, default=0, help="seed of the folds and the models")
    parser.add_argument("--preset", default="base", help="model preset (small, base)")
    parser.add_argument(
        "--set",
        dest="overrides",
        type=_override,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a model config key (JSON value), e.g. --set units=96 --set dense=[]",
    )
    parser.add_argument("--embeddings", type=pathlib.Path, default=None)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--clip-norm", type=float, default=1.0, help="0 disables clipping")
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--monitor", default="val_loss", choices=["val_loss", "val_accuracy"])
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--skip-model", action="store_true", help="baseline only")
    parser.add_argument("--skip-baseline", action="store_true", help="model only")
    parser.add_argument("--json-out", type=pathlib.Path, default=None)
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if not args.data.is_dir():
        sys.exit(f"error: {args.data}: no MR folder (pass --data)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(REPO_ROOT))

    import dataclasses

    import keras
    import tensorflow as tf

    from apps.common import flow
    from apps.common.reports import format_table, mean_std
    from apps.sentiment.config import SentimentRun, TextDataConfig
    from apps.sentiment.presets import PRESETS
    from apps.sentiment.train import SentimentApp

    def log(line):
        print(line, file=sys.stderr, flush=True)

    run = SentimentRun(
        embeddings=args.embeddings,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        clip_norm=args.clip_norm or None,
        patience=args.patience,
        monitor=args.monitor,
        val_fraction=args.val_fraction,
        cv=args.k,
        folds=args.folds,
        seed=args.seed,
        out=None,
    )
    model_config = dataclasses.replace(PRESETS[args.preset], **dict(args.overrides))
    data = TextDataConfig(str(args.data), encoding="windows-1252")
    start = time.perf_counter()
    strategy = tf.distribute.get_strategy()
    plan = flow.make_plan(SentimentApp(), data, model_config, run, strategy=strategy)
    log(f"MR: {len(plan.examples)} sentences {plan.examples.class_counts()}; model {model_config}")
    folds = list(plan.fold_numbers)
    model = baseline = None
    if not args.skip_model:
        branches = {}
        model = flow.cross_validate(
            plan, report=None if args.quiet else log, on_fold=_fold_logger(log, branches),
            end_fold=lambda: keras.backend.clear_session(free_memory=True),
        )
    if not args.skip_baseline:
        baseline = flow.baseline(plan)
        baseline["model"] = SentimentApp.baseline_name

    rows = []
    for i, number in enumerate(folds):
        row = {"fold": number}
        if model:
            m = model["cv"]["folds"][i]
            row.update(model_acc=m["accuracy"], model_f1=m["macro_f1"], best_epoch=m["best_epoch"])
            row.update(branches.get(number, {}))
            row["model_s"] = m["seconds"]
        if baseline:
            b = baseline["cv"]["folds"][i]
            row.update(baseline_acc=b["accuracy"], baseline_f1=b["macro_f1"], baseline_C=b["C"])
        rows.append(row)
    columns = list(rows[0])
    stats = {}
    for key in (
        "model_acc",
        "model_f1",
        "recurrent_acc",
        "ngram_acc",
        "baseline_acc",
        "baseline_f1",
    ):
        if key in columns:
            stats[key] = mean_std(r[key] for r in rows)
    rows.append({"fold": "mean", **{k: v[0] for k, v in stats.items()}})
    rows.append({"fold": "std", **{k: v[1] for k, v in stats.items()}})

    command = ".venv/bin/python benchmarks/sentiment_mr.py " + shlex.join(argv)
    print(
        f"MR sentence polarity, stratified {args.k}-fold CV (seed {args.seed}), folds "
        f"{folds}; {datetime.date.today().isoformat()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, TensorFlow "
        f"{tf.__version__}, Keras {keras.__version__}"
    )
    if model:
        print(f"model: preset {args.preset}, {model_config}")
        print(
            f"training: Adam lr {args.learning_rate}, batch {args.batch_size}, <= {args.epochs} "
            f"epochs, early stopping on {args.monitor} (patience {args.patience}), clip-norm "
            f"{args.clip_norm or 'off'}"
        )
    if baseline:
        print(f"baseline: {baseline['model']}")
    print(
        format_table(rows, columns, formats={"model_s": ".0f", "baseline_C": "g", "ngram_w": ".1f"})
    )
    summary = "  ".join(
        f"{key} {value[0] * 100:.1f} (std {value[1] * 100:.1f})" for key, value in stats.items()
    )
    print(f"means (%): {summary}; {time.perf_counter() - start:.0f} s in all")
    print(f"reproduce: {command.strip()}")
    if args.json_out:
        args.json_out.write_text(
            json.dumps(
                {
                    "command": command.strip(),
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "model_config": dataclasses.asdict(model_config),
                    "model": model,
                    "baseline": baseline,
                    "rows": rows,
                },
                indent=2,
            )
        )
    return 0


def _branch_accuracies(model, texts, ids):
    """Test accuracy of each branch of a hybrid model alone, and the n-gram weight."""
    import keras
    import numpy as np
    import tensorflow as tf

    try:
        ngram = model.get_layer("ngram_probabilities")
    except ValueError:
        return {}  # not a hybrid: nothing to split
    recurrent = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    texts = tf.constant(list(texts))
    rnn = recurrent.predict(texts, batch_size=256, verbose=0)
    ngr = keras.Model(model.inputs, ngram.output).predict(texts, batch_size=256, verbose=0)
    weight = float(model.get_layer("ngram_share").scale)
    return {
        "recurrent_acc": float(np.mean(rnn.argmax(axis=1) == ids)),
        "ngram_acc": float(np.mean(ngr.argmax(axis=1) == ids)),
        "ngram_w": weight,
    }


def _fold_logger(log, branches):
    def on_fold(row, fit, parts):
        texts, ids = parts["test"]
        branches[row["fold"]] = _branch_accuracies(fit.model, texts, ids)
        parts_text = ", ".join(f"{k} {v:.4f}" for k, v in branches[row["fold"]].items())
        log(
            f"fold {row['fold']}: model accuracy {row['accuracy']:.4f} (best epoch "
            f"{row['best_epoch']}, {row['seconds']} s){'; ' + parts_text if parts_text else ''}"
        )

    return on_fold


if __name__ == "__main__":
    sys.exit(main())
