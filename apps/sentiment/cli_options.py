"""Option groups and helpers of the `seqapps sentiment` commands (no TensorFlow here).

- `text_source_options`: how `--data` is read (`--text-column`, `--encoding`, `--limit`, ...).
- `fraction_options`: the split (`--val-fraction`, `--test-fraction`, `--cv`, `--folds`).
- `model_options`: `--preset` and the model config keys it can override (`--ngram-weight`,
  `--token-ratios` for the hybrid of `apps.sentiment.model`).
- `training_options`: epochs, batch size, optimiser, clipping, early stopping, bucketing.
"""

import json
import pathlib

import click

from apps.common.options import (
    IntList,
    OptionalPositiveFloat,
    batch_size_option,
    compose,
    epochs_option,
)

PRESET_NAMES = ("small", "base")
CELL_NAMES = ("lstm", "gru", "simple_rnn")
POOLING_NAMES = ("last", "max", "mean")
STANDARDIZE_NAMES = ("lower_split_punctuation", "lower_and_strip_punctuation", "lower", "none")


class NgramWeight(click.ParamType):
    """`auto` or a number in [0, 1]: the n-gram branch's share of the probabilities."""

    name = "auto|WEIGHT"

    def convert(self, value, param, ctx):
        if isinstance(value, float) or value == "auto":
            return value
        try:
            weight = float(value)
        except ValueError:
            weight = None
        if weight is None or not 0 <= weight <= 1:
            self.fail(f"expected 'auto' or a number in [0, 1], got {value!r}", param, ctx)
        return weight


def echo_err(line):
    click.echo(line, err=True)


def print_json(obj):
    click.echo(json.dumps(obj, ensure_ascii=False))


text_source_options = compose(
    click.option(
        "--text-column",
        help="Text column of a CSV/TSV file: a name, or a 0-based index with --no-header.",
    ),
    click.option("--label-column", help="Label column of a CSV/TSV file (name or index)."),
    click.option(
        "--no-header", is_flag=True, help="The CSV/TSV file has no header row (columns by index)."
    ),
    click.option(
        "--encoding",
        default=None,
        show_default="utf-8",
        help="Text encoding of the files (MR: windows-1252).",
    ),
    click.option(
        "--limit",
        type=click.IntRange(min=2),
        default=None,
        help="Use at most this many examples (synthetic: generated; tfds: first; files: "
        "a seeded stratified sample).",
    ),
    click.option(
        "--data-seed",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Seed of the generated texts of a synthetic: source.",
    ),
)

fraction_options = compose(
    click.option(
        "--val-fraction",
        type=click.FloatRange(0, 1, max_open=True),
        default=0.1,
        show_default=True,
        help="Validation part (early stopping; of each fold's training part with --cv).",
    ),
    click.option(
        "--test-fraction",
        type=click.FloatRange(0, 1, min_open=True, max_open=True),
        default=0.1,
        show_default=True,
        help="Test part (without --cv).",
    ),
    click.option(
        "--cv",
        type=click.IntRange(min=2),
        default=None,
        help="Run stratified K-fold cross-validation with K folds and print the fold table.",
    ),
    click.option(
        "--folds",
        type=IntList(minimum=1),
        default=None,
        help="With --cv: run only these 1-based folds, e.g. 1,2.",
    ),
)


def data_config(data, text_column, label_column, no_header, encoding, limit, data_seed):
    from apps.sentiment.config import DataConfig

    return DataConfig(
        source=data,
        text_column=text_column,
        label_column=label_column,
        header=not no_header,
        encoding=encoding,
        limit=limit,
        data_seed=data_seed,
    )


model_options = compose(
    click.option(
        "--preset",
        type=click.Choice(PRESET_NAMES),
        default="base",
        show_default=True,
        help="Model size preset; the options below override its settings.",
    ),
    click.option("--cell", type=click.Choice(CELL_NAMES), help="Recurrent cell (seqcore layer)."),
    click.option("--units", type=click.IntRange(min=1), help="Units per direction and layer."),
    click.option("--layers", "num_layers", type=click.IntRange(min=1), help="Stacked layers."),
    click.option(
        "--bidirectional/--unidirectional",
        default=None,
        help="Read the text both ways, or forward only.",
    ),
    click.option("--embedding-dim", type=click.IntRange(min=1), help="Word vector size."),
    click.option("--max-tokens", type=click.IntRange(min=3), help="Vocabulary size."),
    click.option(
        "--max-length", type=click.IntRange(min=1), help="Tokens read per text (the rest ignored)."
    ),
    click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), help="Dropout rate."),
    click.option(
        "--recurrent-dropout",
        type=click.FloatRange(0, 1, max_open=True),
        help="Recurrent dropout (slower: no fused loop).",
    ),
    click.option("--pooling", type=click.Choice(POOLING_NAMES), help="Final state, or max/mean."),
    click.option("--dense", type=IntList(), help="Sizes of the relu head layers, e.g. 64 or none."),
    click.option(
        "--standardize", type=click.Choice(STANDARDIZE_NAMES), help="Text standardisation."
    ),
    click.option(
        "--ngram-weight",
        type=NgramWeight(),
        help="Share of the n-gram (NB-weighted logistic regression) branch in the averaged "
        "probabilities: 'auto' (least validation log-loss), 0 (recurrent only) to 1.",
    ),
    click.option(
        "--token-ratios/--no-token-ratios",
        default=None,
        help="Give the recurrent layers each word's class log-count ratios beside its vector.",
    ),
    click.option(
        "--embeddings",
        type=click.Path(dir_okay=False, path_type=pathlib.Path),
        default=None,
        help="Pretrained word vectors (GloVe / word2vec text format); words not found get "
        "random vectors.",
    ),
)

training_options = compose(
    epochs_option(10),
    batch_size_option(32),
    click.option(
        "--learning-rate",
        type=click.FloatRange(0, min_open=True),
        default=1e-3,
        show_default=True,
        help="Adam learning rate.",
    ),
    click.option(
        "--clip-norm",
        type=OptionalPositiveFloat(),
        default="1.0",
        show_default=True,
        help="Clip gradients to this global norm; 0 or none disables clipping.",
    ),
    click.option(
        "--patience",
        type=click.IntRange(min=0),
        default=2,
        show_default=True,
        help="Stop after this many epochs without validation improvement (0: never stop early).",
    ),
    click.option(
        "--monitor",
        type=click.Choice(["val_loss", "val_accuracy"]),
        default="val_loss",
        show_default=True,
        help="Validation metric that picks the best epoch.",
    ),
    click.option(
        "--bucket/--no-bucket",
        default=True,
        show_default=True,
        help="Batch texts of similar length together.",
    ),
)
