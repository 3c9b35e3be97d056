"""`seqapps sentiment train|evaluate|predict|export|baseline` (the contract is in CLI.md).

TensorFlow and the modules that import it are imported inside the command bodies, so
`--help` answers fast. Steps that read user input (data, options, model folders, files) run
inside `input_errors`: what goes wrong there exits with code 2 and one `Error:` line naming
the file, column or option (`--debug` shows the traceback instead).
"""

import json
import pathlib
import sys

import click

from apps.common.errors import InputError, input_errors
from apps.common.options import (
    batch_size_option,
    data_option,
    debug_option,
    json_option,
    model_option,
    out_option,
    seed_option,
    strategy_option,
)
from apps.sentiment.cli_options import (
    data_config,
    echo_err,
    fraction_options,
    model_options,
    print_json,
    text_source_options,
    training_options,
)


@click.group(name="sentiment")
def sentiment():
    """Text sentiment classification: train, evaluate, predict, export, baseline."""


@sentiment.command()
@data_option()
@text_source_options
@model_options
@training_options
@fraction_options
@seed_option()
@strategy_option
@out_option(pathlib.Path("runs/sentiment"))
@json_option
@debug_option
def train(
    data,
    text_column,
    label_column,
    no_header,
    encoding,
    limit,
    data_seed,
    preset,
    embeddings,
    epochs,
    batch_size,
    learning_rate,
    clip_norm,
    patience,
    monitor,
    val_fraction,
    test_fraction,
    cv,
    folds,
    bucket,
    seed,
    strategy,
    out,
    as_json,
    debug,
    **model_overrides,
):
    """Train a sentiment model on labelled text; save it with its metrics under --out.

    Without --cv: a seeded stratified train/val/test split, early stopping on val, test
    scores, and in OUT: model.keras, config.json, metrics.json, split.json,
    confusion_matrix.json/.png, training_curves.png. With --cv K: K-fold cross-validation,
    the fold table, and config.json, metrics.json, folds.json in OUT.
    """
    from apps.sentiment.config import TrainConfig

    with input_errors(debug):
        config = TrainConfig(
            data=data_config(
                data, text_column, label_column, no_header, encoding, limit, data_seed
            ),
            out=out,
            preset=preset,
            model_overrides={k: v for k, v in model_overrides.items() if v is not None},
            embeddings=embeddings,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            clip_norm=clip_norm,
            patience=patience,
            monitor=monitor,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            cv=cv,
            folds=tuple(folds) if folds else None,
            seed=seed,
            strategy=strategy,
            bucket=bucket,
        )

    from apps.common.distribute import describe, get_strategy
    from apps.sentiment import reports
    from apps.sentiment.train import plan_training, run_cv, run_description, run_holdout

    tf_strategy = get_strategy(strategy)
    with input_errors(debug):
        plan = plan_training(config)
    echo_err(f"strategy: {describe(tf_strategy)}; preset {preset}: {plan.model_config}")
    if plan.data.skipped:
        echo_err(f"skipped {plan.data.skipped} empty text(s) in {data}")

    if config.cv:

        def on_fold(row, fit):
            echo_err(
                f"fold {row['fold']}/{config.cv}: accuracy {row['accuracy']:.4f}, macro-F1 "
                f"{row['macro_f1']:.4f} (best epoch {row['best_epoch']}, {row['seconds']} s)"
            )

        result = run_cv(plan, report=echo_err, strategy=tf_strategy, on_fold=on_fold)
        reports.write_cv(out, result, run_description(plan))
        if as_json:
            print_json({"out": str(out), **result["cv"], "accuracy": result["accuracy"]})
            return
        click.echo(reports.cv_table(result["cv"]))
        click.echo(
            f"{config.cv}-fold CV, folds {result['cv']['folds_run']}: mean accuracy "
            f"{result['accuracy']:.4f} (std {result['cv']['std']['accuracy']:.4f}), mean "
            f"macro-F1 {result['macro_f1']:.4f}; written to {out}"
        )
        return

    fit, metrics, record = run_holdout(plan, report=echo_err, strategy=tf_strategy)
    reports.write_holdout(out, fit, metrics, record, run_description(plan, fit.model_config))
    if as_json:
        print_json({"out": str(out), **metrics})
        return
    test = metrics["test"]
    click.echo(
        f"test accuracy {test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f} "
        f"(n={test['n']}); best epoch {metrics['best_epoch']} of {metrics['epochs_run']}"
    )
    click.echo(reports.per_class_table(test))
    click.echo(f"saved to {out}: model.keras, metrics.json, config.json, plots")


def _classifier(model_path, debug):
    from apps.sentiment.predict import load_classifier

    with input_errors(debug):
        return load_classifier(model_path)


@sentiment.command()
@model_option()
@data_option(required=False, help="Labelled data to score (as for train).")
@text_source_options
@click.option(
    "--split",
    type=click.Choice(["all", "test"]),
    default="all",
    show_default=True,
    help="all: score every example of --data; test: the test part of the training run's "
    "own data and split (a training folder; no --data).",
)
@batch_size_option(64, help="Texts per prediction batch.")
@json_option
@debug_option
def evaluate(
    model_path,
    data,
    text_column,
    label_column,
    no_header,
    encoding,
    limit,
    data_seed,
    split,
    batch_size,
    as_json,
    debug,
):
    """Score a trained or exported model on labelled data: accuracy, macro-F1, per class."""
    if split == "test" and data:
        raise click.UsageError("--split test scores the training data's test part; omit --data")
    if split == "all" and not data:
        raise click.UsageError("Missing option '--data' (or use --split test)")
    from apps.sentiment.evaluate import check_labels
    from apps.sentiment.evaluate import evaluate as score
    from apps.sentiment.reports import per_class_table

    classifier = _classifier(model_path, debug)
    with input_errors(debug):
        if split == "test":
            texts, labels, source = _training_test_part(classifier)
        else:
            from apps.sentiment.data import load_examples

            config = data_config(
                data, text_column, label_column, no_header, encoding, limit, data_seed
            )
            examples = load_examples(config)
            texts, labels, source = examples.texts, examples.labels, data
        check_labels(labels, classifier.class_names)
    result = score(classifier, texts, labels, batch_size=batch_size)
    result = {"model": str(classifier.path), "kind": classifier.kind, "data": source, **result}
    if as_json:
        print_json(result)
        return
    click.echo(
        f"accuracy {result['accuracy']:.4f}, macro-F1 {result['macro_f1']:.4f} "
        f"(n={result['n']}, {source})"
    )
    click.echo(per_class_table(result))


def _training_test_part(classifier):
    from apps.sentiment.config import DataConfig
    from apps.sentiment.data import load_examples, take
    from apps.sentiment.reports import SPLIT_FILE

    split_path = classifier.path / SPLIT_FILE
    if classifier.kind != "keras" or not split_path.is_file():
        raise ValueError(
            f"{split_path}: missing; --split test needs a training folder written by train "
            "without --cv"
        )
    record = json.loads(split_path.read_text(encoding="utf-8"))
    train = classifier.metadata["train"]
    examples = load_examples(DataConfig(**train["data"]), seed=train["seed"])
    if record["n"] != len(examples):
        raise ValueError(
            f"{split_path}: the split covers {record['n']} examples but "
            f"{train['data']['source']} now gives {len(examples)}; the data has changed"
        )
    idx = record["indices"]["test"]
    return take(examples.texts, idx), take(examples.labels, idx), f"{train['data']['source']}:test"


def _read_lines(path, encoding):
    from pipelines.text_source import decode, split_lines

    if str(path) == "-":
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
        name = "<stdin>"
    else:
        name = pathlib.Path(path)
        data = name.read_bytes()
    if isinstance(data, str):
        data = data.encode("utf-8")
    return split_lines(decode(name, data, encoding))


@sentiment.command()
@model_option()
@click.option("--text", "texts", multiple=True, help="A text to classify (repeatable).")
@click.option(
    "--input",
    "input_path",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=pathlib.Path),
    help="A file with one text per line ('-': standard input).",
)
@click.option(
    "--encoding", default="utf-8", show_default=True, help="Text encoding of the --input file."
)
@batch_size_option(64, help="Texts per prediction batch.")
@json_option
@debug_option
def predict(model_path, texts, input_path, encoding, batch_size, as_json, debug):
    """Classify texts with a trained or exported model: label and class probabilities."""
    texts = list(texts)
    if input_path is not None:
        with input_errors(debug):
            texts += _read_lines(input_path, encoding)
    if not texts:
        raise click.UsageError("Give texts with --text TEXT or --input FILE")
    from apps.sentiment.predict import predictions

    classifier = _classifier(model_path, debug)
    probabilities = classifier.predict_proba(texts, batch_size=batch_size)
    rows = predictions(texts, probabilities, classifier.class_names)
    if as_json:
        print_json({"model": str(classifier.path), "predictions": rows})
        return
    for row in rows:
        probs = " ".join(f"{name}={p:.4f}" for name, p in row["probabilities"].items())
        text = row["text"].replace("\n", " ")
        text = text if len(text) <= 70 else text[:67] + "..."
        click.echo(f"{row['label']}\t{probs}\t{text}")


@sentiment.command()
@model_option(help="A training folder (model.keras and config.json).")
@click.option(
    "--to",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=pathlib.Path("saved_models/sentiment"),
    show_default=True,
    help="Folder of versions (TF Serving layout); the export goes to TO/<version>/.",
)
@click.option(
    "--version",
    type=click.IntRange(min=1),
    default=None,
    help="Version number; default the next free one. An existing version is never overwritten.",
)
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Reload the export in a fresh process and compare it with the Keras model.",
)
@json_option
@debug_option
def export(model_path, to, version, check, as_json, debug):
    """Export a trained model as a SavedModel that takes raw strings (TF Serving layout)."""
    from apps.common.export import VersionExistsError

    classifier = _classifier(model_path, debug)
    if classifier.kind != "keras":
        raise InputError(
            f"{model_path}: is an export already; --model must be a training folder "
            "(model.keras, config.json)"
        )
    from apps.sentiment.export import export_model

    meta = classifier.metadata
    metadata = {
        "preset": meta.get("preset"),
        "model": meta.get("model"),
        "data": meta.get("data", {}).get("source"),
        "trained": meta.get("created"),
        "training_folder": str(classifier.path),
    }
    try:
        folder = export_model(
            classifier.model, classifier.class_names, to, version=version, metadata=metadata
        )
    except VersionExistsError as exc:
        if debug:
            raise
        raise InputError(str(exc)) from exc
    result = {"export_dir": str(folder), "version": int(folder.name)}
    if check:
        from apps.sentiment.serving import serving_check

        result["serving_check"] = serving_check(classifier.model, folder)
    if as_json:
        print_json(result)
    else:
        click.echo(f"exported: {folder} (version {folder.name}, signature serving_default)")
        if check:
            c = result["serving_check"]
            click.echo(
                f"served in a fresh process: max |served - keras| = {c['max_abs_diff']:.2g} "
                f"on {c['n']} texts ({'match' if c['match'] else 'MISMATCH'})"
            )
    if check and not result["serving_check"]["match"]:
        raise click.ClickException(
            "the export differs from the Keras model by "
            f"{result['serving_check']['max_abs_diff']:.3g}"
        )


@sentiment.command()
@data_option()
@text_source_options
@fraction_options
@seed_option(help="Seed of the split (the same as train's --seed gives the same split).")
@json_option
@debug_option
def baseline(
    data,
    text_column,
    label_column,
    no_header,
    encoding,
    limit,
    data_seed,
    val_fraction,
    test_fraction,
    cv,
    folds,
    seed,
    as_json,
    debug,
):
    """TF-IDF (1-2 grams) + logistic regression on the same split (or folds) as train."""
    from apps.sentiment.config import TrainConfig

    with input_errors(debug):
        config = TrainConfig(
            data=data_config(
                data, text_column, label_column, no_header, encoding, limit, data_seed
            ),
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            cv=cv,
            folds=tuple(folds) if folds else None,
            seed=seed,
        )
        from apps.sentiment.baseline import DESCRIPTION, run_baseline
        from apps.sentiment.data import load_examples

        examples = load_examples(config.data, seed=seed)
        echo_err(f"{len(examples)} examples, classes {examples.class_names}; {DESCRIPTION}")
        result = run_baseline(
            examples,
            fractions=config.fractions,
            seed=seed,
            cv=cv,
            folds=config.folds,
            val_fraction=val_fraction,
        )
    result = {"data": data, **result}
    if as_json:
        print_json(result)
        return
    from apps.sentiment.reports import cv_table, per_class_table

    if cv:
        click.echo(cv_table(result["cv"]))
        click.echo(
            f"baseline {cv}-fold CV: mean accuracy {result['accuracy']:.4f} "
            f"(std {result['cv']['std']['accuracy']:.4f}), mean macro-F1 {result['macro_f1']:.4f}"
        )
        return
    test = result["test"]
    click.echo(
        f"baseline test accuracy {test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f} "
        f"(n={test['n']}, C={test['C']:g})"
    )
    click.echo(per_class_table(test))
