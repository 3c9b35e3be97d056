"""The sentiment app's configurations: `ModelConfig`, `TextDataConfig`, `SentimentRun`.

- `ModelConfig`: the architecture (see `apps.sentiment.model`). Saved inside the trained
  model (`SentimentClassifier.get_config()`); the presets of `apps.sentiment.presets` are
  instances of it. Every field is checked once, when the config is built.
- `TextDataConfig`: `--data` and how a text source is read (columns, encoding, format).
- `SentimentRun`: epochs, batch size, split, seed, paths, plus length bucketing and
  pretrained word vectors.

The CLI options are derived from these fields (`apps.common.cli_config`): `--units` is
`ModelConfig.units`, which `apps.sentiment.model` gives the seqcore layer as `units`.
This module imports neither TensorFlow nor Keras.

Example:

>>> config = ModelConfig(units=4, cell="lstm")
>>> config.units, config.uses_ngrams
(4, True)
>>> ModelConfig(pooling="median")
Traceback (most recent call last):
...
apps.common.config.ConfigError: Invalid `pooling`: expected one of last, max, mean. \
Received: pooling='median'
"""

import dataclasses
import pathlib

import click

from apps.common.config import (
    Check,
    Checked,
    ConfigError,
    boolean,
    choice,
    either,
    integer,
    integers,
    number,
    optional,
    setting,
)
from apps.common.options import IntList
from apps.common.settings import CELL_LAYERS, DataConfig, RunConfig
from pipelines.text_source import FORMATS

STANDARDIZERS = {
    "lower_split_punctuation": ("lower", "split"),
    "lower_and_strip_punctuation": ("lower", "strip"),
    "lower": ("lower",),
    "strip_punctuation": ("strip",),
    "none": (),
}
"""Text standardisations -> their steps after line breaks become spaces: `lower` (Unicode
lower-case), `split` (ASCII punctuation but `'` as tokens), `strip` (Keras's punctuation
removed). `apps.sentiment.layers.standardizer(name)` is the registered function of each;
every one first maps the characters that split lines (U+0085, U+2028, ...) to a space, so
a saved vocabulary reloads."""

POOLINGS = ("last", "max", "mean")
"""How the recurrent outputs become one vector: the final state, or max / mean over steps."""

ENCODERS = ("rnn",)
"""Encoders of the recurrent branch (`apps.sentiment.model`)."""


class NgramWeight(click.ParamType):
    """Click type of `--ngram-weight`: `auto` or a number (checked by `ModelConfig`)."""

    name = "auto|WEIGHT"

    def convert(self, value, param, ctx):
        if isinstance(value, float) or value == "auto":
            return value
        try:
            return float(value)
        except ValueError:
            self.fail(f"expected 'auto' or a number in [0, 1], got {value!r}", param, ctx)


@dataclasses.dataclass(frozen=True)
class ModelConfig(Checked):
    """The sentiment model's architecture (defaults: the `base` preset)."""

    max_tokens: int = setting(20000, "Vocabulary size (with padding and OOV).",
                              check=integer(minimum=3))  # fmt: skip
    max_length: int = setting(400, "Tokens read per text (the rest ignored).",
                              check=integer(minimum=1))  # fmt: skip
    standardize: str = setting("lower_split_punctuation", "Text standardisation.",
                               check=choice(tuple(STANDARDIZERS)))  # fmt: skip
    embedding_dim: int = setting(128, "Word vector size.", check=integer(minimum=1))
    encoder: str = setting("rnn", "Encoder of the recurrent branch.", check=choice(ENCODERS))
    cell: str = setting("gru", "Recurrent cell (seqcore layer).", check=choice(tuple(CELL_LAYERS)))
    units: int = setting(64, "Units per direction and layer.", check=integer(minimum=1))
    num_layers: int = setting(1, "Stacked recurrent layers.", check=integer(minimum=1),
                              option="--layers")  # fmt: skip
    bidirectional: bool = setting(True, "Read the text both ways, or forward only.",
                                  check=boolean(), flag="--unidirectional")  # fmt: skip
    dropout: float = setting(0.5, "Dropout rate.", check=number(0, 1, high_open=True))
    recurrent_dropout: float = setting(
        0.0, "Recurrent dropout (slower: no fused loop).", check=number(0, 1, high_open=True)
    )
    pooling: str = setting("max", "Final state, or max/mean over the steps.",
                           check=choice(POOLINGS))  # fmt: skip
    dense: tuple = setting((), "Sizes of the relu head layers, e.g. 64 or none.",
                           check=integers(minimum=1), param=IntList())  # fmt: skip
    token_ratios: bool = setting(
        True,
        "Give the recurrent layers each word's class log-count ratios beside its vector.",
        check=boolean(),
    )
    ngram_weight: object = setting(
        "auto",
        "Share of the n-gram (NB-weighted logistic regression) branch in the averaged "
        "probabilities: 'auto' (least validation log-loss), 0 (recurrent only) to 1.",
        check=either("auto", number(0, 1)),
        param=NgramWeight(),
    )
    word_ngrams: int = setting(3, "Word n-grams of the n-gram branch: 1 to this (0: none).",
                               check=integer(minimum=0))  # fmt: skip
    char_ngrams: bool = setting(True, "Character 2- to 5-grams in the n-gram branch.",
                                check=boolean())  # fmt: skip
    max_ngrams: int = setting(500000, "Vocabulary of each n-gram vectorizer.",
                              check=integer(minimum=1))  # fmt: skip
    ngram_c: float = setting(0.3, "Inverse L2 strength of the n-gram regression.",
                             check=number(0, low_open=True))  # fmt: skip

    @property
    def uses_ngrams(self):
        """Whether the model has the n-gram branch (`ngram_weight` "auto" or above 0)."""
        return self.ngram_weight == "auto" or self.ngram_weight > 0

    def check_fields(self):
        if self.uses_ngrams and not (self.word_ngrams or self.char_ngrams):
            raise ConfigError(
                "word_ngrams",
                "Invalid `word_ngrams`: expected an integer >= 1 when char_ngrams is false. "
                f"Received: word_ngrams={self.word_ngrams!r}",
            )


def _column(value):
    return value is None or (isinstance(value, str) and bool(value.strip()))


@dataclasses.dataclass(frozen=True)
class TextDataConfig(DataConfig):
    """A labelled text source: `--data` and how to read it."""

    text_column: str | None = setting(
        None, "Text column of a table: a name, or a 0-based index with --no-header.",
        check=Check(_column, "a column name or index"),
    )  # fmt: skip
    label_column: str | None = setting(
        None, "Label column of a table (name or index).",
        check=Check(_column, "a column name or index"),
    )  # fmt: skip
    header: bool | None = setting(
        None, "Whether a table's first row holds column names (default: yes for .csv/.tsv, "
        "detected otherwise).", check=optional(boolean()), flag="--no-header",
    )  # fmt: skip
    encoding: str | None = setting(None, "Text encoding of the files (default utf-8; MR: "
                                   "windows-1252).")  # fmt: skip
    format: str | None = setting(
        None, "Format of --data when its name does not say (default: from the name, else "
        "detected from the content).", check=optional(choice(FORMATS)),
    )  # fmt: skip

    def check_fields(self):
        super().check_fields()
        same = self.text_column is not None and self.text_column == self.label_column
        if same:
            raise ConfigError(
                "label_column",
                f"--text-column and --label-column name the same column {self.text_column!r}",
            )


@dataclasses.dataclass(frozen=True)
class SentimentRun(RunConfig):
    """A sentiment `train` run: the common settings plus bucketing and word vectors."""

    out: pathlib.Path | None = setting(
        pathlib.Path("runs/sentiment"), "Folder to write the model, metrics and plots to."
    )
    bucket: bool = setting(True, "Batch texts of similar length together.", check=boolean())
    embeddings: pathlib.Path | None = setting(
        None,
        "Pretrained word vectors (GloVe / word2vec text format); words not found get random "
        "vectors. Sets the embedding size.",
    )
