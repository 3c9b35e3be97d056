"""Training progress: Keras's progress bar on a terminal, else one line per epoch.

- `EpochProgress`: one line per epoch handed to a `report` callable (the CLI echoes it to
  stderr): what a log file or a pipe gets.
- `TerminalProgress`: Keras's own per-batch progress bar (`keras.utils.Progbar`), drawn on
  stderr (stdout stays free for `--json`).
- `progress_callback(epochs, report, prefix)`: the bar when stderr is a terminal, else the
  lines.
"""

import contextlib
import math
import sys
import time

import keras

_ORDER = ("loss", "accuracy", "val_loss", "val_accuracy", "grad_norm")


def format_logs(logs, keys=None):
    """`"loss 0.4321, accuracy 0.812, ..."` for the known keys of `logs`, then the others."""
    logs = logs or {}
    keys = keys or [k for k in _ORDER if k in logs] + sorted(
        k for k in logs if k not in _ORDER and k != "learning_rate"
    )
    parts = []
    for key in keys:
        value = logs.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            parts.append(f"{key} {value:.4g}")
    return ", ".join(parts)


class EpochProgress(keras.callbacks.Callback):
    """Reports `epoch i/N: loss ..., accuracy ..., grad_norm ... (1.2 s)` after each epoch.

    Args:
        epochs: the number of epochs asked for.
        report: a callable taking one line of text.
        prefix: text put before every line (e.g. `"fold 3: "`).

    Example:

    >>> import numpy as np
    >>> lines = []
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> _ = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, verbose=0,
    ...               callbacks=[EpochProgress(2, lines.append)])
    >>> [line.split(":")[0] for line in lines]
    ['epoch 1/2', 'epoch 2/2']
    """

    def __init__(self, epochs, report, prefix=""):
        super().__init__()
        self.epochs = epochs
        self.report = report
        self.prefix = prefix
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - (self._start or time.perf_counter())
        self.report(
            f"{self.prefix}epoch {epoch + 1}/{self.epochs}: {format_logs(logs)} ({elapsed:.1f} s)"
        )


class TerminalProgress(keras.callbacks.Callback):
    """Keras's per-batch progress bar on stderr, one bar per epoch.

    Args:
        epochs: the number of epochs asked for.
        prefix: text put before every epoch's title (e.g. `"fold 3: "`).
        stream: where the bar is drawn (default `sys.stderr`).
    """

    def __init__(self, epochs, prefix="", stream=None):
        super().__init__()
        self.epochs = epochs
        self.prefix = prefix
        self.stream = stream
        self._bar = None
        self._seen = 0

    def _redirect(self):
        return contextlib.redirect_stdout(self.stream or sys.stderr)

    def on_epoch_begin(self, epoch, logs=None):
        steps = self.params.get("steps") if self.params else None
        with self._redirect():
            print(f"{self.prefix}epoch {epoch + 1}/{self.epochs}")
            self._bar = keras.utils.Progbar(target=steps, unit_name="batch")
        self._seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        with self._redirect():
            self._bar.update(self._seen, values=_values(logs))

    def on_epoch_end(self, epoch, logs=None):
        with self._redirect():
            self._bar.update(self._seen, values=_values(logs), finalize=True)


def _values(logs):
    return [(k, v) for k, v in (logs or {}).items() if isinstance(v, (int, float))]


def progress_callback(epochs, report, prefix=""):
    """`TerminalProgress` when stderr is a terminal, else `EpochProgress(epochs, report)`."""
    if getattr(sys.stderr, "isatty", lambda: False)():
        return TerminalProgress(epochs, prefix=prefix)
    return EpochProgress(epochs, report, prefix=prefix)
