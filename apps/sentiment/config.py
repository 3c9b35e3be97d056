"""Run settings of the sentiment app: frozen dataclasses the CLI fills in.

The model architecture is not here: it is a model config (plain dict, see
`apps.sentiment.model`), chosen by `preset` and updated with `model_overrides`.
This module imports neither TensorFlow nor Keras.

Example:

>>> data = DataConfig("synthetic:sentiment", limit=40)
>>> config = TrainConfig(data, epochs=1, model_overrides={"units": 4})
>>> config.fractions, config.to_dict()["data"]["source"]
((0.8, 0.1, 0.1), 'synthetic:sentiment')
"""

import dataclasses
import pathlib

from seqcore.training import DEFAULT_CLIP_NORM

MONITORS = ("val_loss", "val_accuracy")
"""Validation metrics that early stopping and best-epoch restore can watch."""


def _check(name, ok, value, expected):
    if not ok:
        raise ValueError(f"Invalid value for {name}: expected {expected}. Received: {value!r}")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the labelled texts come from (the CLI's `--data` and its options).

    Attributes:
        source: `synthetic:sentiment`, `tfds:NAME[:SPLIT]`, a folder or a CSV/TSV file.
        text_column: the text column of a table (name, or 0-based index with no header).
        label_column: the label column of a table.
        header: whether a table's first row holds column names.
        encoding: the files' text encoding (`None`: the reader's default, UTF-8).
        limit: read at most this many examples: `n` of a synthetic source, `max_examples`
            of a TFDS one, a seeded stratified sample of a file source.
        data_seed: seed of a synthetic source (the generated texts).
    """

    source: str
    text_column: str | None = None
    label_column: str | None = None
    header: bool = True
    encoding: str | None = None
    limit: int | None = None
    data_seed: int = 0

    def __post_init__(self):
        _check("--limit", self.limit is None or self.limit >= 2, self.limit, "an integer >= 2")

    @property
    def kind(self):
        """`"synthetic"`, `"tfds"` or `"path"`."""
        prefix = str(self.source).partition(":")[0]
        return prefix if prefix in ("synthetic", "tfds") else "path"

    def to_dict(self):
        """A JSON-ready dict of the settings."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of one `train` run (or one cross-validation).

    Attributes:
        data: a `DataConfig`.
        out: the folder to write the model, metrics and plots to (`None`: write nothing).
        preset: the model preset (`apps.sentiment.model.PRESETS`).
        model_overrides: model config keys that replace the preset's.
        embeddings: a GloVe / word2vec text file of pretrained word vectors, or `None`.
        epochs: the most training epochs.
        batch_size: examples per batch.
        learning_rate: Adam's learning rate.
        clip_norm: global gradient-norm clipping threshold; `None` disables clipping.
        patience: epochs without improvement of `monitor` before stopping; 0 trains every
            epoch. Either way the weights of the best epoch are kept when there is a
            validation part.
        monitor: the validation metric that picks the best epoch.
        val_fraction: part of the data (of a fold's training part, with `cv`) held out for
            early stopping; 0 for none.
        test_fraction: part of the data held out for the final test (without `cv`).
        cv: number of cross-validation folds, or `None` for one train/val/test split.
        folds: with `cv`, the 1-based folds to run (default all).
        seed: seed of the split, the initial weights and the shuffle.
        strategy: `tf.distribute` strategy name (`apps.common.distribute.STRATEGIES`).
        bucket: batch texts of similar length together (faster on varied lengths).
    """

    data: DataConfig
    out: pathlib.Path | None = None
    preset: str = "base"
    model_overrides: dict = dataclasses.field(default_factory=dict)
    embeddings: pathlib.Path | None = None
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    clip_norm: float | None = DEFAULT_CLIP_NORM
    patience: int = 2
    monitor: str = "val_loss"
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    cv: int | None = None
    folds: tuple | None = None
    seed: int = 0
    strategy: str = "default"
    bucket: bool = True

    def __post_init__(self):
        _check("--epochs", self.epochs >= 1, self.epochs, "an integer >= 1")
        _check("--batch-size", self.batch_size >= 1, self.batch_size, "an integer >= 1")
        _check("--learning-rate", self.learning_rate > 0, self.learning_rate, "a number > 0")
        _check(
            "--clip-norm",
            self.clip_norm is None or self.clip_norm > 0,
            self.clip_norm,
            "a number > 0 (or none)",
        )
        _check("--patience", self.patience >= 0, self.patience, "an integer >= 0")
        _check("--monitor", self.monitor in MONITORS, self.monitor, f"one of {MONITORS}")
        _check("--val-fraction", 0 <= self.val_fraction < 1, self.val_fraction, "in [0, 1)")
        _check("--test-fraction", 0 < self.test_fraction < 1, self.test_fraction, "in (0, 1)")
        _check(
            "--val-fraction plus --test-fraction",
            self.val_fraction + self.test_fraction < 1,
            self.val_fraction + self.test_fraction,
            "a sum below 1",
        )
        _check("--cv", self.cv is None or self.cv >= 2, self.cv, "an integer >= 2")
        if self.folds is not None:
            _check("--folds", self.cv is not None, self.folds, "folds only with --cv")
            _check(
                "--folds",
                bool(self.folds) and all(1 <= f <= self.cv for f in self.folds),
                self.folds,
                f"fold numbers between 1 and {self.cv}",
            )

    @property
    def fractions(self):
        """`(train, val, test)` fractions, or `(train, test)` without validation."""
        train = round(1.0 - self.val_fraction - self.test_fraction, 10)
        if self.val_fraction:
            return (train, self.val_fraction, self.test_fraction)
        return (train, self.test_fraction)

    def to_dict(self):
        """A JSON-ready dict of the settings (paths as strings)."""
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, DataConfig):
                value = value.to_dict()
            elif isinstance(value, pathlib.Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dict):
                value = dict(value)
            out[field.name] = value
        return out
