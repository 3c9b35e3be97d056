"""Turns a time series (rows x columns) into forecasting windows and `tf.data` datasets.

The steps, in order:

1. `chronological_split` cuts the rows into train, validation and test ranges, in time order
   (`split_rows` counts, as in the ETTh1 protocol 8640/2880/2880, or `split` fractions).
2. `Standardizer.fit` learns a mean and standard deviation per column on the **train rows
   only** (`rows=ranges.train`); `transform` applies them to every row.
3. `split_windows` (or `make_windows` on one array) cuts sliding windows: inputs of
   `lookback` rows and targets of the `horizon` rows that follow.
4. `windows_dataset`: cache -> shuffle -> batch -> prefetch(AUTOTUNE).

Window convention (that of the long-horizon forecasting literature, e.g. the Informer and
DLinear data loaders): train windows lie wholly inside the train range. For validation and
test, the windows' inputs may reach back up to `lookback` rows before the range start (into
the rows before it), so that the first target step of the first window is the first row of
the range; every target step lies inside the range. A validation or test part of `n` rows
therefore yields `(n - horizon) // stride + 1` windows, a train part
`(n - lookback - horizon) // stride + 1`. For ETTh1
(test rows [11520, 14400), lookback 336, horizon 96) that is 2880 - 96 + 1 = 2785 test
windows, the count of DLinear's code. When a range starts fewer than `lookback` rows after
row 0, its inputs start at row 0 and its first targets fall later than the range start.

Example:

>>> import numpy as np
>>> values = np.arange(40, dtype="float32").reshape(20, 2)
>>> ranges = chronological_split(20, split_rows=(10, 5, 5))
>>> scaler = Standardizer.fit(values, rows=ranges.train)
>>> parts = split_windows(scaler.transform(values), ranges, lookback=3, horizon=2)
>>> {name: x.shape for name, (x, y) in parts.items()}
{'train': (6, 3, 2), 'val': (4, 3, 2), 'test': (4, 3, 2)}
"""

import dataclasses
import math
import typing

import numpy as np

from pipelines._checks import check_int, fail
from pipelines._tfdata import arrays_dataset

DEFAULT_SPLIT = (0.7, 0.1, 0.2)
"""Fractions used by `chronological_split` when neither `split_rows` nor `split` is given."""


class SplitRanges(typing.NamedTuple):
    """The (start, stop) row ranges of the train, validation and test parts."""

    train: tuple
    val: tuple
    test: tuple


def _three(name, value):
    parts = value.split(",") if isinstance(value, str) else value
    try:
        parts = list(parts)
    except TypeError:
        parts = None
    if parts is None or len(parts) != 3:
        fail(name, value, "three values TRAIN,VAL,TEST")
    return parts


def chronological_split(n_rows, split_rows=None, split=None):
    """Cuts `n_rows` rows into consecutive train, validation and test ranges from row 0.

    Args:
        n_rows: number of rows of the series.
        split_rows: `(train, val, test)` row counts (or "T,V,T"); rows after their sum are
            unused.
        split: `(train, val, test)` fractions of `n_rows` (or "a,b,c"), each in (0, 1],
            summing to at most 1; boundaries are rounded down. Default `DEFAULT_SPLIT` when
            `split_rows` is not given either.

    Returns:
        A `SplitRanges` of three `(start, stop)` tuples.

    Raises:
        ValueError: for both options at once, bad values, more rows than `n_rows`, or an
            empty part; the message names the option.
    """
    n_rows = check_int("n_rows", n_rows, 0)
    if split_rows is not None and split is not None:
        raise ValueError("Give either `split_rows` or `split`, not both.")
    if split_rows is not None:
        name, value = "split_rows", split_rows
        counts = []
        for c in _three(name, value):
            try:
                count = int(str(c).strip()) if isinstance(c, str) else c
            except ValueError:
                count = None
            if count is None or isinstance(count, bool) or not isinstance(count, (int, np.integer)):
                fail(name, value, "three whole row counts")
            counts.append(int(count))
        if any(c < 0 for c in counts) or sum(counts) > n_rows:
            fail(name, value, f"non-negative row counts summing to at most n_rows={n_rows}")
        bounds = np.cumsum([0, *counts]).tolist()
    else:
        name, value = "split", DEFAULT_SPLIT if split is None else split
        try:
            fracs = [float(f) for f in _three(name, value)]
        except (TypeError, ValueError):
            fracs = None
        if fracs is None or not all(0 < f <= 1 for f in fracs) or sum(fracs) > 1 + 1e-9:
            fail(name, value, "three fractions in (0, 1] summing to at most 1")
        cumulative = np.cumsum([0.0, *fracs])
        bounds = [min(n_rows, math.floor(round(n_rows * c, 6))) for c in cumulative]
    ranges = SplitRanges(*((bounds[i], bounds[i + 1]) for i in range(3)))
    for part, (start, stop) in zip(SplitRanges._fields, ranges, strict=True):
        if stop <= start:
            raise ValueError(
                f"The {part} part would be empty: `{name}`={value!r} with n_rows={n_rows} "
                f"gives rows [{start}, {stop})."
            )
    return ranges


@dataclasses.dataclass(frozen=True)
class Standardizer:
    """Per-column standardisation `(x - mean) / std`, fitted on the train rows only.

    A column that is constant on the fitted rows (std 0) is an error that names it, rather
    than being silently scaled by 1: its values carry no information in training, and
    standardised errors on it would be meaningless. Drop it with `columns=`.

    `get_config()` returns plain lists, so the scaler goes into JSON with the model.

    Args:
        mean: per-column means (a list of floats).
        std: per-column population standard deviations (ddof 0, as scikit-learn's
            `StandardScaler`), all > 0.
        columns: optional column names, for messages and metadata.
    """

    mean: tuple
    std: tuple
    columns: tuple | None = None

    @classmethod
    def fit(cls, values, rows=None, columns=None):
        """Fits on `values[rows[0]:rows[1]]` (all rows when `rows` is None)."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2:
            fail("values", values.shape, "a 2-D array (rows, columns)")
        if rows is not None:
            start, stop = rows
            values = values[start:stop]
        if len(values) == 0:
            fail("rows", rows, "a non-empty range of rows")
        mean, std = values.mean(axis=0), values.std(axis=0)
        names = None if columns is None else tuple(columns)
        for k in np.flatnonzero(std == 0):
            label = repr(names[k]) if names else f"index {k}"
            raise ValueError(
                f"Column {label} is constant on the fitted rows {rows}; std 0 cannot "
                "standardise it. Leave the column out."
            )
        return cls(tuple(mean.tolist()), tuple(std.tolist()), names)

    def transform(self, values):
        """Standardises every column of `values` (rows, columns); returns float32."""
        values = np.asarray(values, dtype=np.float64)
        return ((values - np.array(self.mean)) / np.array(self.std)).astype(np.float32)

    def inverse_transform(self, values, indices=None):
        """Back to the original scale; `indices` selects the columns (e.g. the targets)."""
        idx = slice(None) if indices is None else list(indices)
        mean, std = np.array(self.mean)[idx], np.array(self.std)[idx]
        return (np.asarray(values, dtype=np.float64) * std + mean).astype(np.float32)

    def get_config(self):
        """Plain, JSON-serialisable configuration."""
        columns = None if self.columns is None else list(self.columns)
        return {"mean": list(self.mean), "std": list(self.std), "columns": columns}

    @classmethod
    def from_config(cls, config):
        """Rebuilds a `Standardizer` from `get_config()`."""
        columns = config.get("columns")
        return cls(
            tuple(config["mean"]), tuple(config["std"]), None if columns is None else tuple(columns)
        )


def make_windows(values, lookback, horizon, stride=1, target_indices=None, *, part="values"):
    """Cuts sliding windows from one array.

    Window `i` has inputs `values[i*stride : i*stride + lookback]` and targets the next
    `horizon` rows of the target columns.

    Args:
        values: array `(rows, columns)`; a 1-D array is one column.
        lookback: input rows per window (L), >= 1.
        horizon: target rows per window (H), >= 1.
        stride: rows between window starts, >= 1.
        target_indices: columns of the targets; default all.
        part: name of the array, used in error messages.

    Returns:
        float32 arrays `x` `(n, L, C)` and `y` `(n, H, T)`, `n = (rows - L - H) // stride + 1`.
    """
    lookback = check_int("lookback", lookback, 1)
    horizon = check_int("horizon", horizon, 1)
    stride = check_int("stride", stride, 1)
    values = np.asarray(values, dtype=np.float32)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        fail("values", values.shape, "a 1-D or 2-D array (rows, columns)")
    targets = list(range(values.shape[1])) if target_indices is None else list(target_indices)
    if not targets or any(not 0 <= t < values.shape[1] for t in targets):
        fail("target_indices", target_indices, f"column indices in [0, {values.shape[1]})")
    length = len(values)
    if length < lookback + horizon:
        raise ValueError(
            f"The {part} part has {length} rows, fewer than lookback + horizon = "
            f"{lookback} + {horizon} = {lookback + horizon}: no window fits. "
            f"Received: lookback={lookback}, horizon={horizon}, length={length}"
        )
    starts = np.arange(0, length - lookback - horizon + 1, stride)
    x = values[starts[:, None] + np.arange(lookback)]
    y = values[starts[:, None] + lookback + np.arange(horizon)][:, :, targets]
    return x, y


def split_windows(values, ranges, lookback, horizon, stride=1, target_indices=None):
    """Windows for the train, validation and test parts (see the module docstring).

    Args:
        values: the whole series `(rows, columns)`, usually standardised.
        ranges: a `SplitRanges`, a dict `{"train": (start, stop), ...}` or three pairs.
        lookback, horizon, stride, target_indices: as in `make_windows`.

    Returns:
        A dict `{"train": (x, y), "val": (x, y), "test": (x, y)}`. Train inputs start at the
        train range start; val/test inputs start up to `lookback` rows before their range.
    """
    if isinstance(ranges, dict):
        ranges = SplitRanges(**ranges)
    ranges = SplitRanges(*ranges)
    lookback = check_int("lookback", lookback, 1)
    out = {}
    for part, (start, stop) in zip(SplitRanges._fields, ranges, strict=True):
        first = start if part == "train" else max(0, start - lookback)
        out[part] = make_windows(
            values[first:stop], lookback, horizon, stride, target_indices, part=part
        )
    return out


def windows_dataset(x, y, batch_size, shuffle=False, seed=None):
    """Batches windows as a `tf.data.Dataset`: cache -> shuffle -> batch -> prefetch.

    Args:
        x: inputs `(n, L, C)`.
        y: targets `(n, H, T)`.
        batch_size: windows per batch, >= 1.
        shuffle: reshuffle the windows at every iteration (train); keep order otherwise.
        seed: shuffle seed; the same seed gives the same order.

    Returns:
        A dataset of `(x, y)` batches.
    """
    return arrays_dataset(x, y, batch_size, shuffle, seed, what="windows")
