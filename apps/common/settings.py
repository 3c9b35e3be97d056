"""Run settings every app shares: where the data is, and how a training run goes.

An app subclasses these frozen dataclasses to add its own fields (the sentiment app adds
the text columns and encoding to `DataConfig`, bucketing and word vectors to `RunConfig`).
The CLI options come from the fields (`apps.common.cli_config`). No TensorFlow here.

Example:

>>> run = RunConfig(epochs=3, val_fraction=0.2, test_fraction=0.1)
>>> run.fractions
(0.7, 0.2, 0.1)
>>> RunConfig(cv=5, folds=(6,))
Traceback (most recent call last):
...
apps.common.config.ConfigError: Invalid `folds`: expected fold numbers between 1 and 5. \
Received: folds=(6,)
"""

import dataclasses
import pathlib

from apps.common.config import (
    Check,
    Checked,
    ConfigError,
    boolean,
    choice,
    integer,
    number,
    optional,
    setting,
)
from apps.common.options import IntList, OptionalFloat

STRATEGIES = ("default", "mirrored", "multi-worker")
"""`tf.distribute` strategies a run can use (`apps.common.distribute.get_strategy`)."""

MONITORS = ("val_loss", "val_accuracy")
"""Validation metrics that early stopping and best-epoch restore can watch."""

CELL_LAYERS = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
"""Recurrent cell names of the CLI -> the seqcore layer class of each."""

DEFAULT_CLIP_NORM = 1.0
"""Default global-norm clipping threshold (that of `seqcore.training.clipped_optimizer`)."""


def _nonempty(value):
    return isinstance(value, str) and bool(value.strip())


@dataclasses.dataclass(frozen=True)
class DataConfig(Checked):
    """Where the examples come from (`--data` and the options every source takes)."""

    source: str = setting(
        "", "Data source: tfds:NAME[:SPLIT], synthetic:NAME, a folder or a file.",
        check=Check(_nonempty, "a tfds:NAME, synthetic:NAME, folder or file (not empty)"),
        option="--data", cli=False,
    )  # fmt: skip
    limit: int | None = setting(
        None,
        "Use at most this many examples (synthetic: generated; tfds: first; files: a seeded "
        "stratified sample).",
        check=optional(integer(minimum=2)),
    )
    data_seed: int = setting(
        0, "Seed of the generated examples of a synthetic: source.", check=integer(minimum=0)
    )
    download: bool = setting(
        False,
        "Download and prepare a tfds: dataset that is not prepared yet (needs internet).",
        check=boolean(),
    )

    @property
    def kind(self):
        """`"synthetic"`, `"tfds"` or `"path"`."""
        prefix = str(self.source).partition(":")[0]
        return prefix if prefix in ("synthetic", "tfds") else "path"

    def check_fields(self):
        if self.download and self.kind != "tfds":
            raise ConfigError("download", "--download applies to tfds: sources only")


@dataclasses.dataclass(frozen=True)
class RunConfig(Checked):
    """How one `train` run goes (or one cross-validation)."""

    epochs: int = setting(10, "The most training epochs.", check=integer(minimum=1))
    batch_size: int = setting(32, "Examples per training batch.", check=integer(minimum=1))
    learning_rate: float = setting(
        1e-3, "Adam learning rate.", check=number(0, low_open=True)
    )
    clip_norm: float | None = setting(
        DEFAULT_CLIP_NORM,
        "Clip gradients to this global norm; 0 or none disables clipping.",
        check=optional(number(0, low_open=True)),
        param=OptionalFloat(),
    )
    patience: int = setting(
        2,
        "Stop after this many epochs without validation improvement (0: never stop early).",
        check=integer(minimum=0),
    )
    monitor: str = setting("val_loss", "Validation metric that picks the best epoch.",
                           check=choice(MONITORS))  # fmt: skip
    val_fraction: float = setting(
        0.1,
        "Validation part (early stopping; of each fold's training part with --cv).",
        check=number(0, 1, high_open=True),
    )
    test_fraction: float = setting(
        0.1, "Test part (without --cv).", check=number(0, 1, low_open=True, high_open=True)
    )
    cv: int | None = setting(
        None,
        "Run stratified K-fold cross-validation with K folds and print the fold table.",
        check=optional(integer(minimum=2)),
    )
    folds: tuple | None = setting(
        None,
        "With --cv: run only these 1-based folds, e.g. 1,2.",
        check=optional(Check(lambda v: bool(v), "a non-empty list")),
        param=IntList(),
    )
    seed: int = setting(
        0, "Seed of the split, the initial weights and the shuffle.", check=integer(minimum=0)
    )
    strategy: str = setting(
        "default",
        "tf.distribute strategy: one device, all local GPUs (mirrored), or the workers of "
        "TF_CONFIG (multi-worker).",
        check=choice(STRATEGIES),
    )
    out: pathlib.Path | None = setting(
        pathlib.Path("runs"), "Folder to write the model, metrics and plots to."
    )
    overwrite: bool = setting(
        False,
        "Replace a non-empty --out (the old files go only once the new run is complete).",
        check=boolean(),
    )

    def check_fields(self):
        total = self.val_fraction + self.test_fraction
        if not total < 1:
            raise ConfigError(
                "test_fraction",
                "Invalid `test_fraction`: --val-fraction plus --test-fraction must be below 1. "
                f"Received: val_fraction={self.val_fraction!r}, "
                f"test_fraction={self.test_fraction!r}",
            )
        if self.folds is not None:
            if self.cv is None:
                raise ConfigError("folds", "--folds needs --cv")
            if not all(isinstance(f, int) and 1 <= f <= self.cv for f in self.folds):
                raise ConfigError(
                    "folds",
                    f"Invalid `folds`: expected fold numbers between 1 and {self.cv}. "
                    f"Received: folds={self.folds!r}",
                )

    @property
    def fractions(self):
        """`(train, val, test)` fractions, or `(train, test)` without validation."""
        train = round(1.0 - self.val_fraction - self.test_fraction, 10)
        if self.val_fraction:
            return (train, self.val_fraction, self.test_fraction)
        return (train, self.test_fraction)

    @property
    def fold_numbers(self):
        """The 1-based folds to run (with `cv`), else `None`."""
        return list(self.folds or range(1, self.cv + 1)) if self.cv else None
