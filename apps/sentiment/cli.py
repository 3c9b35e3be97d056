"""`seqapps sentiment train|evaluate|predict|export|baseline` (the contract is in CLI.md).

The options come from the config dataclasses (`apps.sentiment.config`): `--units` is
`ModelConfig.units`, `--epochs` is `SentimentRun.epochs`, and so on; the commands receive
the built config objects. Paths are checked before TensorFlow is imported, so a typo fails
at once; steps that read user input run inside `input_errors`, which turns what goes wrong
into one `Error:` line and exit code 2 (`--debug` shows the traceback instead).
"""

import pathlib
import sys

import click

from apps.common import commands
from apps.common.cli_config import options, presets, with_configs
from apps.common.errors import InputError, input_errors
from apps.common.options import batch_size_option, debug_option, json_option, model_option
from apps.common.runtime import start_tensorflow
from apps.common.staging import check_writable_folder
from apps.sentiment import APP_NAME
from apps.sentiment.config import SentimentRun, TextDataConfig
from apps.sentiment.presets import PRESETS

EXCLUSIVE = (("cv", "test_fraction"), ("embeddings", "embedding_dim"))
"""Options that make each other meaningless: `--cv` has no test part; word vectors set the
embedding size."""

DATA_HELP = "Data source: tfds:NAME[:SPLIT], synthetic:sentiment, a folder or a CSV/TSV file."
SPLIT_FIELDS = ("val_fraction", "test_fraction", "cv", "folds", "seed")


def echo_err(line):
    click.echo(line, err=True)


def _app():
    from apps.sentiment.train import SentimentApp

    return SentimentApp()


@click.group(name=APP_NAME)
def sentiment():
    """Text sentiment classification: train, evaluate, predict, export, baseline."""


@sentiment.command()
@with_configs(data=TextDataConfig, model=presets(PRESETS), run=SentimentRun, exclusive=EXCLUSIVE)
@click.option("--data", "source", required=True, metavar="SRC", help=DATA_HELP)
@json_option
@debug_option
def train(data, model, preset, run, as_json, debug):
    """Train a sentiment model on labelled text; save it with its metrics under --out.

    Without --cv: a seeded stratified train/val/test split, early stopping on val, test
    scores, and in OUT: model.keras, config.json, metrics.json, split.json,
    confusion_matrix.json/.png, training_curves.png. With --cv K: K-fold cross-validation,
    the fold table, and config.json, metrics.json, folds.json in OUT. OUT is written whole
    or not at all: a failed or interrupted run leaves what was there.
    """
    with input_errors(debug):
        commands.preflight(data, run)
        start_tensorflow(debug)
        configs = commands.TrainConfigs(data, model, run, preset)
        result = commands.train(_app(), configs, report=echo_err)
    commands.echo_result(result, as_json, commands.summary_lines)
    if not as_json:
        click.echo(f"saved to {run.out}")


@sentiment.command()
@with_configs(data=options(TextDataConfig, unless_given="source"))
@model_option()
@click.option("--data", "source", metavar="SRC", help="Labelled data to score (as for train).")
@click.option(
    "--split", type=click.Choice(["all", "test"]), default="all", show_default=True,
    help="all: score every example of --data; test: the test part of the training run's "
    "own data and split (a training folder; no --data).",
)  # fmt: skip
@batch_size_option(64, help="Texts per prediction batch.")
@json_option
@debug_option
def evaluate(data, model_path, split, batch_size, as_json, debug):
    """Score a trained or exported model on labelled data: accuracy, macro-F1, per class."""
    if (split == "test") == (data is not None):
        raise click.UsageError("give --data, or --split test (the training run's test part)")
    with input_errors(debug):
        commands.preflight(data)
        start_tensorflow(debug)
        from apps.sentiment.evaluate import evaluate as score
        from apps.sentiment.predict import load_classifier

        classifier = load_classifier(model_path)
        if split == "test":
            texts, labels, source = commands.training_test_part(_app(), TextDataConfig,
                                                                classifier.path)  # fmt: skip
        else:
            examples = _app().load_examples(data, seed=0)
            texts, labels, source = examples.texts, examples.labels, data.source
        result = score(classifier, texts, labels, batch_size=batch_size)
    result = {"model": str(classifier.path), "kind": classifier.kind, "data": source, **result}
    commands.echo_result(result, as_json, lambda r: commands.summary_lines(r, what="all"))


def checked_texts(texts, where="--text"):
    """`texts`, or `InputError` naming one that is not valid UTF-8 (a lone surrogate)."""
    for number, text in enumerate(texts, 1):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InputError(
                f"{where} #{number}: not valid UTF-8 (character {e.start + 1} is "
                f"{text[e.start]!r}); pass text in UTF-8, or use --input FILE with --encoding"
            ) from None
    return list(texts)


def _read_lines(path, encoding):
    from pipelines.text_source import decode, split_lines

    if str(path) == "-":
        name, data = "<stdin>", sys.stdin.buffer.read()
    else:
        name = pathlib.Path(path)
        data = name.read_bytes()
    return split_lines(decode(name, data, encoding))


@sentiment.command()
@model_option()
@click.option("--text", "texts", multiple=True, help="A text to classify (repeatable).")
@click.option(
    "--input", "input_path", type=click.Path(dir_okay=False, allow_dash=True,
                                             path_type=pathlib.Path),
    help="A file with one text per line ('-': standard input).",
)  # fmt: skip
@click.option("--encoding", default="utf-8", show_default=True,
              help="Text encoding of the --input file.")  # fmt: skip
@batch_size_option(64, help="Texts per prediction batch.")
@json_option
@debug_option
def predict(model_path, texts, input_path, encoding, batch_size, as_json, debug):
    """Classify texts with a trained or exported model: label and class probabilities."""
    texts = checked_texts(texts)
    with input_errors(debug):
        if input_path is not None:
            texts += _read_lines(input_path, encoding)
    if not texts:
        raise click.UsageError("Give texts with --text TEXT or --input FILE")
    with input_errors(debug):
        start_tensorflow(debug)
        from apps.sentiment.predict import load_classifier, predictions

        classifier = load_classifier(model_path)
    probabilities = classifier.predict_proba(texts, batch_size=batch_size)
    rows = predictions(texts, probabilities, classifier.class_names)
    commands.echo_result({"model": str(classifier.path), "predictions": rows}, as_json,
                         lambda result: map(_prediction_line, result["predictions"]))  # fmt: skip


def _prediction_line(row):
    probs = " ".join(f"{name}={p:.4f}" for name, p in row["probabilities"].items())
    text = row["text"].replace("\n", " ")
    return f"{row['label']}\t{probs}\t{text if len(text) <= 70 else text[:67] + '...'}"


@sentiment.command()
@model_option(help="A training folder (model.keras).")
@click.option(
    "--to", type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=pathlib.Path("saved_models/sentiment"), show_default=True,
    help="Folder of versions (TF Serving layout); the export goes to TO/<version>/.",
)  # fmt: skip
@click.option("--version", type=click.IntRange(min=1), default=None,
              help="Version number; default the next free one. An existing version is never "
              "overwritten.")  # fmt: skip
@click.option("--check/--no-check", default=True, show_default=True,
              help="Reload the export in a fresh process and compare it with the Keras model.")
@json_option
@debug_option
def export(model_path, to, version, check, as_json, debug):
    """Export a trained model as a SavedModel that takes raw strings (TF Serving layout)."""
    with input_errors(debug):
        check_writable_folder(to, option="--to")
        start_tensorflow(debug)
        from apps.sentiment.export import export_classifier

        result = export_classifier(model_path, to, version=version, check=check)
    commands.echo_result(result, as_json, _export_lines)
    if check and not result["serving_check"]["match"]:
        difference = result["serving_check"]["max_abs_diff"]
        raise click.ClickException(f"the export differs from the Keras model by {difference:.3g}")


def _export_lines(result):
    yield (f"exported: {result['export_dir']} (version {result['version']}, signature "
           "serving_default)")
    check = result.get("serving_check")
    if check:
        yield (f"served in a fresh process: max |served - keras| = {check['max_abs_diff']:.2g} "
               f"on {check['n']} texts ({'match' if check['match'] else 'MISMATCH'})")


@sentiment.command()
@with_configs(data=TextDataConfig, run=options(SentimentRun, only=SPLIT_FIELDS),
              exclusive=EXCLUSIVE[:1])  # fmt: skip
@click.option("--data", "source", required=True, metavar="SRC", help=DATA_HELP)
@json_option
@debug_option
def baseline(data, run, as_json, debug):
    """TF-IDF (1-2 grams) + logistic regression on the same split (or folds) as train."""
    with input_errors(debug):
        commands.preflight(data)
        start_tensorflow(debug)
        result = commands.baseline(_app(), data, run, report=echo_err)
    commands.echo_result(result, as_json, lambda r: commands.summary_lines(r, what="test"))
