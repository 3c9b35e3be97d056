"""One line of progress per epoch, handed to a `report` callable (the CLI echoes to stderr)."""

import math
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
