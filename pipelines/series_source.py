"""Reads a time series from a CSV file into a `Series` (the `series` data source).

`load_series_csv` reads the whole file with Python's `csv` module (no pandas) and checks it
row by row, so every problem is reported with the file, the 1-based line number as it appears
in the file, and the column. Every error is a `SeriesError`, a `ValueError`.

How each case is handled:

- **File layout**: the first row is the header; names may be quoted. CRLF or LF line ends, a
  missing final newline and a byte order mark are all accepted. Empty lines are skipped
  when the header has several columns (line numbers still count them); in a one-column file
  an empty line is a row with a missing value, except empty lines at the end of the file.
  A data row with a different number of fields than the header is an error naming the line.
- **Columns**: `columns` (a sequence of names or one comma-separated string) selects the
  value columns in the given order. By default every numeric column except the time column
  is used, where a column is numeric when its first non-missing value is a number. A column
  name that is not in the header is an error that lists the available columns.
- **Target**: `target` (names, a subset of the selected columns) names the columns to
  forecast; default all selected columns. `Series.target_indices` index `Series.values`.
- **Numbers**: decimal or scientific notation, surrounding spaces allowed. Any other text in
  a selected column, or a non-finite number (`inf`, or a value too large for float32), is an
  error naming file, line and column.
- **Missing values**: a blank field or `nan`, `na`, `n/a`, `null` (any case) in a selected
  column. `fill` decides: `"error"` (default) reports the first one (file, line, column);
  `"ffill"` repeats the previous value of the column, and a gap at the start of a column is
  an error naming it; `"interpolate"` fills linearly over the row positions between the
  neighbouring values, and a gap at the start or end of a column is an error naming it;
  `"drop"` drops every row with a missing value in a selected column. `Series.filled` counts
  the values filled per column and `Series.dropped_rows` the rows dropped.
- **Time column** (optional, `time_column`): ISO dates and times, parsed to `numpy.datetime64`
  in the finest unit the file uses: `YYYY-MM` (monthly, like the airline file),
  `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.fff]]` (a `T` separator works too). A blank or
  unparsable time is an error naming the line. Times must increase strictly (checked on
  every row of the file): a time earlier than the one before is an error naming that line,
  an equal one an error naming both lines.
  Gaps (missing dates) are allowed: the most common step between rows is `Series.time_step`
  and `Series.missing_steps` counts the steps absent from the file (2 for the daily minimum
  temperatures), counted on the rows kept, so rows dropped by `fill="drop"` are gaps too.

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
>>> _ = path.write_text('"Month","Passengers"\\r\\n"1949-01",112\\r\\n"1949-02",118')
>>> s = load_series_csv(path, time_column="Month")
>>> s.values.shape, s.columns, str(s.time[1]), s.missing_steps
((2, 1), ('Passengers',), '1949-02', 0)
"""

import csv
import dataclasses
import math
import pathlib
import re

import numpy as np

FILL_MODES = ("error", "ffill", "interpolate", "drop")
"""Accepted values of the `fill` argument of `load_series_csv`."""

_MISSING = frozenset({"", "nan", "na", "n/a", "null"})
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_TIME = re.compile(r"\d{4}-\d{2}(?:-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?)?")


class SeriesError(ValueError):
    """A time-series file that cannot be read as asked; the message names file, line, column."""


@dataclasses.dataclass(frozen=True, eq=False)
class Series:
    """A time series read from a file.

    Attributes:
        path: the file it was read from.
        values: float32 array of shape `(rows, len(columns))`.
        columns: names of the value columns, in the order of `values`.
        target: names of the columns to forecast.
        target_indices: positions of `target` in `columns`.
        lines: 1-based line number in the file of every row of `values`.
        time_column: name of the time column, or `None`.
        time: `numpy.datetime64` array of shape `(rows,)`, or `None`.
        time_step: most common step between consecutive times, or `None`.
        missing_steps: number of time steps absent from the file (gaps), 0 without time.
        fill: the fill mode used.
        filled: number of values filled, per column (only columns with fills).
        dropped_rows: number of rows dropped by `fill="drop"`.
    """

    path: pathlib.Path
    values: np.ndarray
    columns: tuple
    target: tuple
    target_indices: tuple
    lines: np.ndarray
    time_column: str | None = None
    time: np.ndarray | None = None
    time_step: np.timedelta64 | None = None
    missing_steps: int = 0
    fill: str = "error"
    filled: dict = dataclasses.field(default_factory=dict)
    dropped_rows: int = 0

    @property
    def n_rows(self):
        """Number of rows of `values`."""
        return int(self.values.shape[0])


def _names(arg, value):
    if value is None:
        return None
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [str(n).strip() for n in names]
    if not names or any(not n for n in names) or len(set(names)) != len(names):
        raise SeriesError(
            f"`{arg}` must name distinct, non-empty columns. Received: {arg}={value!r}"
        )
    return names


def _without_bom(lines):
    for i, line in enumerate(lines):
        yield line.removeprefix("\ufeff") if i == 0 else line


def _read_rows(path, encoding):
    """Returns the header and a list of (line number, fields) for the non-blank data rows."""
    try:
        with open(path, newline="", encoding=encoding) as f:
            reader = csv.reader(_without_bom(f))
            header, rows, blank = None, [], []
            for fields in reader:
                if header is None:
                    if fields:
                        header = [x.strip() for x in fields]
                    continue
                if not fields:  # an empty line
                    if len(header) > 1:
                        continue
                    blank.append(reader.line_num)
                    continue
                rows.extend((line, [""]) for line in blank)
                blank.clear()
                if len(fields) != len(header):
                    raise SeriesError(
                        f"{path}, line {reader.line_num}: expected {len(header)} fields as in "
                        f"the header, found {len(fields)}"
                    )
                rows.append((reader.line_num, fields))
    except UnicodeDecodeError as e:
        raise SeriesError(f"{path}: not readable as {encoding}: {e}") from None
    except csv.Error as e:
        raise SeriesError(f"{path}: malformed CSV: {e}") from None
    if header is None:
        raise SeriesError(f"{path}: the file is empty (no header row)")
    if len(set(header)) != len(header):
        raise SeriesError(f"{path}, line 1: duplicate column names in the header: {header}")
    if not rows:
        raise SeriesError(f"{path}: no data rows after the header")
    return header, rows


def _index(path, header, name, what):
    if name not in header:
        raise SeriesError(
            f"{path}: {what} {name!r} not found. Available columns: {', '.join(header)}"
        )
    return header.index(name)


def _is_missing(text):
    return text.strip().lower() in _MISSING


def _default_columns(header, rows, skip):
    chosen = []
    for j, name in enumerate(header):
        if j == skip:
            continue
        first = next((f[j] for _, f in rows if not _is_missing(f[j])), None)
        if first is not None and _NUMBER.fullmatch(first.strip()):
            chosen.append(name)
    return chosen


def _parse_values(path, rows, header, indices):
    values = np.empty((len(rows), len(indices)), dtype=np.float64)
    missing = np.zeros(values.shape, dtype=bool)
    for i, (line, fields) in enumerate(rows):
        for k, j in enumerate(indices):
            text = fields[j].strip()
            if text.lower() in _MISSING:
                missing[i, k] = True
                values[i, k] = np.nan
            elif _NUMBER.fullmatch(text):
                values[i, k] = float(text)
            else:
                raise SeriesError(
                    f"{path}, line {line}, column {header[j]!r}: not a number: {fields[j]!r}"
                )
            if not math.isfinite(values[i, k]) and not missing[i, k]:
                raise SeriesError(
                    f"{path}, line {line}, column {header[j]!r}: not finite: {fields[j]!r}"
                )
    too_big = np.abs(values) > np.finfo(np.float32).max
    if too_big.any():
        i, k = np.argwhere(too_big)[0]
        raise SeriesError(
            f"{path}, line {rows[i][0]}, column {header[indices[k]]!r}: value too large for float32"
        )
    return values, missing


def _fill(path, values, missing, lines, columns, fill):
    """Fills or drops the missing values; returns (values, kept rows mask, filled counts)."""
    keep = np.ones(len(values), dtype=bool)
    if not missing.any():
        return values, keep, {}
    if fill == "error":
        i, k = np.argwhere(missing)[0]
        raise SeriesError(
            f"{path}, line {lines[i]}, column {columns[k]!r}: missing value "
            "(use fill='ffill', 'interpolate' or 'drop' to accept gaps)"
        )
    if fill == "drop":
        keep = ~missing.any(axis=1)
        if not keep.any():
            raise SeriesError(f"{path}: every row has a missing value; fill='drop' left none")
        return values[keep], keep, {}
    filled = {}
    rows = np.arange(len(values))
    for k, name in enumerate(columns):
        gaps = missing[:, k]
        if not gaps.any():
            continue
        known = np.flatnonzero(~gaps)
        if known.size == 0 or gaps[0]:
            raise SeriesError(
                f"{path}, line {lines[0]}, column {name!r}: missing value at the start of the "
                f"column; fill={fill!r} has no earlier value to use"
            )
        if fill == "interpolate" and gaps[-1]:
            raise SeriesError(
                f"{path}, line {lines[-1]}, column {name!r}: missing value at the end of the "
                "column; fill='interpolate' has no later value to use"
            )
        if fill == "ffill":
            last = np.maximum.accumulate(np.where(gaps, 0, rows))
            values[:, k] = values[last, k]
        else:
            values[gaps, k] = np.interp(rows[gaps], known, values[known, k])
        filled[name] = int(gaps.sum())
    return values, keep, filled


def _parse_time(path, rows, j, name):
    times = []
    for line, fields in rows:
        text = fields[j].strip()
        if not _TIME.fullmatch(text):
            raise SeriesError(
                f"{path}, line {line}, column {name!r}: not an ISO date or time "
                f"(YYYY-MM, YYYY-MM-DD or YYYY-MM-DD HH:MM:SS): {fields[j]!r}"
            )
        try:
            times.append(np.datetime64(text.replace(" ", "T")))
        except ValueError as e:
            raise SeriesError(f"{path}, line {line}, column {name!r}: {e}") from None
    return np.array(times)  # numpy picks the finest unit of all values


def _check_time(path, time, lines, name):
    """Checks strict order; returns (most common step, number of missing steps)."""
    if len(time) < 2:
        return None, 0
    steps = np.diff(time)
    bad = np.flatnonzero(steps <= np.timedelta64(0))
    if bad.size:
        i = int(bad[0])
        if time[i + 1] == time[i]:
            raise SeriesError(
                f"{path}, column {name!r}: duplicate time {time[i]} on lines "
                f"{lines[i]} and {lines[i + 1]}"
            )
        raise SeriesError(
            f"{path}, line {lines[i + 1]}, column {name!r}: time {time[i + 1]} is earlier "
            f"than {time[i]} on line {lines[i]}; rows must be sorted by time"
        )
    kinds, counts = np.unique(steps, return_counts=True)
    step = kinds[np.argmax(counts)]
    longer = steps[steps > step]
    return step, int(np.sum(longer // step - 1))


def load_series_csv(
    path, *, time_column=None, columns=None, target=None, fill="error", encoding="utf-8"
):
    """Reads a time series from a CSV file with a header row.

    See the module docstring for how each kind of problem is handled.

    Args:
        path: the CSV file.
        time_column: name of the column holding dates or times, or `None`.
        columns: value columns (names, or one comma-separated string); default all numeric
            columns except the time column.
        target: columns to forecast, a subset of `columns`; default all of them.
        fill: what to do with missing values, one of `FILL_MODES`.
        encoding: text encoding of the file.

    Returns:
        A `Series`.

    Raises:
        SeriesError: naming the file, and the line and column where there is one.
    """
    path = pathlib.Path(path)
    if fill not in FILL_MODES:
        raise SeriesError(f"`fill` must be one of {', '.join(FILL_MODES)}. Received: fill={fill!r}")
    if not path.is_file():
        raise SeriesError(f"{path}: no such file")
    header, rows = _read_rows(path, encoding)
    time_j = None if time_column is None else _index(path, header, time_column, "time column")
    names = _names("columns", columns)
    if names is None:
        names = _default_columns(header, rows, time_j)
        if not names:
            raise SeriesError(f"{path}: no numeric columns. Columns: {', '.join(header)}")
    indices = [_index(path, header, n, "column") for n in names]
    if time_j is not None and time_j in indices:
        raise SeriesError(f"{path}: column {time_column!r} is the time column and a value column")
    targets = _names("target", target) or list(names)
    for t in targets:
        if t not in names:
            raise SeriesError(
                f"{path}: target {t!r} is not among the selected columns: {', '.join(names)}"
            )
    lines = np.array([line for line, _ in rows], dtype=np.int64)
    time, step, gaps = None, None, 0
    if time_j is not None:
        time = _parse_time(path, rows, time_j, time_column)
        _check_time(path, time, lines, time_column)
    values, missing = _parse_values(path, rows, header, indices)
    values, keep, filled = _fill(path, values, missing, lines, names, fill)
    lines = lines[keep]
    if time is not None:
        time = time[keep]
        step, gaps = _check_time(path, time, lines, time_column)
    return Series(
        path=path,
        values=values.astype(np.float32),
        columns=tuple(names),
        target=tuple(targets),
        target_indices=tuple(names.index(t) for t in targets),
        lines=lines,
        time_column=time_column,
        time=time,
        time_step=step,
        missing_steps=gaps,
        fill=fill,
        filled=filled,
        dropped_rows=int((~keep).sum()),
    )
