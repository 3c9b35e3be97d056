"""Tests of the time-series source (`series_source`) and transforms (`series`) of `pipelines`."""

import json
import pathlib
import re

import numpy as np
import pytest

from pipelines.series import (
    SplitRanges,
    Standardizer,
    chronological_split,
    make_windows,
    split_windows,
    windows_dataset,
)
from pipelines.series_source import SeriesError, load_series_csv

DATA = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"real data folder {DATA} is absent (a fresh clone)"
)


def _csv(tmp_path, text, name="s.csv", *, crlf=False, bom=False):
    """Writes `text` exactly (no final newline added); returns the path."""
    if crlf:
        text = text.replace("\n", "\r\n")
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def _raises(path, *parts):
    """Context manager: a SeriesError whose message names the file and every part."""
    pattern = ".*".join(re.escape(str(p)) for p in (path, *parts))
    return pytest.raises(SeriesError, match=pattern)


# --- load_series_csv: layout, columns, numbers -------------------------------------------


def test_quoted_header_crlf_no_final_newline_and_bom(tmp_path):
    path = _csv(tmp_path, '"Month","Passengers"\n"1949-01",112\n"1949-02",118', crlf=True, bom=True)
    s = load_series_csv(path, time_column="Month")
    assert s.columns == ("Passengers",) and s.time_column == "Month"
    np.testing.assert_array_equal(s.values, [[112.0], [118.0]])
    assert s.values.dtype == np.float32
    assert s.time.dtype == np.dtype("datetime64[M]")
    assert s.lines.tolist() == [2, 3]
    assert s.path == path and s.n_rows == 2


def test_default_columns_are_numeric_ones_without_time(tmp_path):
    path = _csv(tmp_path, "date,a,name,b\n2020-01-01,1,x,2.5\n2020-01-02,3,y,-1e2\n")
    s = load_series_csv(path, time_column="date")
    assert s.columns == ("a", "b") and s.target == ("a", "b") and s.target_indices == (0, 1)
    np.testing.assert_array_equal(s.values, [[1, 2.5], [3, -100]])
    # without a time column the date column is not numeric, so still left out
    assert load_series_csv(path).columns == ("a", "b")
    assert load_series_csv(path).time is None


def test_columns_by_name_in_given_order_and_target(tmp_path):
    path = _csv(tmp_path, "t,a,b,c\n1,1,2,3\n2,4,5,6")
    s = load_series_csv(path, columns="c,a", target=["a"])
    assert s.columns == ("c", "a") and s.target == ("a",) and s.target_indices == (1,)
    np.testing.assert_array_equal(s.values, [[3, 1], [6, 4]])


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"columns": ["a", "zz"]}, ["column 'zz' not found", "Available columns: t, a, b"]),
        ({"time_column": "when"}, ["time column 'when' not found", "t, a, b"]),
        ({"columns": ["a"], "target": "b"}, ["target 'b' is not among the selected columns: a"]),
    ],
)
def test_unknown_names_list_the_available_columns(tmp_path, kwargs, words):
    path = _csv(tmp_path, "t,a,b\n1,1,2")
    with _raises(path, *words):
        load_series_csv(path, **kwargs)


def test_non_numeric_value_names_file_line_and_column(tmp_path):
    # line 4 of the file (a blank line 3 is skipped but still counted)
    path = _csv(tmp_path, "t,a,b\n1,1,2\n\n2,3,oops\n3,4,5", crlf=True)
    with _raises(path, "line 4", "column 'b'", "not a number", "'oops'"):
        load_series_csv(path, columns="a,b")


@pytest.mark.parametrize("bad", ["inf", "-Infinity", "1_000", "0x10", "1e999"])
def test_non_finite_or_odd_numbers_are_errors(tmp_path, bad):
    path = _csv(tmp_path, f"a,b\n1,2\n3,{bad}")
    with _raises(path, "line 3", "column 'b'"):
        load_series_csv(path, columns="a,b")


def test_row_with_wrong_number_of_fields(tmp_path):
    path = _csv(tmp_path, "a,b\n1,2\n3\n")
    with _raises(path, "line 3", "expected 2 fields", "found 1"):
        load_series_csv(path)


@pytest.mark.parametrize(
    "text, words",
    [("", ["empty"]), ("a,b\n", ["no data rows"]), ("a,a\n1,2", ["duplicate column names"])],
)
def test_empty_files_and_bad_headers(tmp_path, text, words):
    path = _csv(tmp_path, text)
    with _raises(path, *words):
        load_series_csv(path)


def test_bad_arguments(tmp_path):
    path = _csv(tmp_path, "a\n1")
    with pytest.raises(SeriesError, match="fill=.*'bfill'"):
        load_series_csv(path, fill="bfill")
    with pytest.raises(SeriesError, match="no such file"):
        load_series_csv(tmp_path / "absent.csv")
    with pytest.raises(SeriesError, match="distinct"):
        load_series_csv(path, columns="a,a")


def test_loading_is_deterministic(tmp_path):
    path = _csv(tmp_path, "d,a,b\n2020-01-01,1,\n2020-01-02,2,5\n2020-01-04,,7")
    s1 = load_series_csv(path, time_column="d", fill="drop")
    s2 = load_series_csv(path, time_column="d", fill="drop")
    np.testing.assert_array_equal(s1.values, s2.values)
    np.testing.assert_array_equal(s1.time, s2.time)
    assert (s1.lines.tolist(), s1.dropped_rows) == (s2.lines.tolist(), s2.dropped_rows)


# --- missing values ----------------------------------------------------------------------


@pytest.mark.parametrize("gap", ["", "  ", "NaN", "nan", "NA", "null"])
def test_missing_value_is_an_error_by_default(tmp_path, gap):
    path = _csv(tmp_path, f"a,b\n1,2\n3,{gap}\n5,6")
    with _raises(path, "line 3", "column 'b'", "missing value"):
        load_series_csv(path)


def test_ffill_repeats_previous_value(tmp_path):
    path = _csv(tmp_path, "a,b\n1,2\n,4\n,\n7,8")
    s = load_series_csv(path, fill="ffill")
    np.testing.assert_array_equal(s.values, [[1, 2], [1, 4], [1, 4], [7, 8]])
    assert s.filled == {"a": 2, "b": 1} and s.dropped_rows == 0


def test_ffill_leading_gap_is_an_error(tmp_path):
    path = _csv(tmp_path, "a,b\n1,\n3,4")
    with _raises(path, "line 2", "column 'b'", "start of the column"):
        load_series_csv(path, fill="ffill")


def test_interpolate_is_linear(tmp_path):
    path = _csv(tmp_path, "a\n1\n\n\n7")
    s = load_series_csv(path, fill="interpolate")
    np.testing.assert_allclose(s.values[:, 0], [1, 3, 5, 7])
    assert s.filled == {"a": 2}


@pytest.mark.parametrize(
    "text, line, where", [("a\n\n2\n3", 2, "start"), ("a\n1\n2\nnan", 4, "end")]
)
def test_interpolate_leading_or_trailing_gap_is_an_error(tmp_path, text, line, where):
    path = _csv(tmp_path, text)
    with _raises(path, f"line {line}", "column 'a'", where):
        load_series_csv(path, fill="interpolate")


def test_drop_removes_rows_and_reports_count(tmp_path):
    path = _csv(tmp_path, "a,b,note\n1,2,x\n,4,\n5,nan,y\n7,8,")
    s = load_series_csv(path, fill="drop", columns="a,b")
    np.testing.assert_array_equal(s.values, [[1, 2], [7, 8]])
    assert s.dropped_rows == 2 and s.lines.tolist() == [2, 5] and s.filled == {}


def test_empty_lines(tmp_path):
    # several columns: empty lines are skipped, ",," is a row of missing values
    path = _csv(tmp_path, "a,b\n1,2\n\n3,4\n,\n5,6\n\n")
    s = load_series_csv(path, fill="interpolate")
    assert s.lines.tolist() == [2, 4, 5, 6] and s.filled == {"a": 1, "b": 1}
    # one column: an empty line is a missing value, trailing empty lines are ignored
    path = _csv(tmp_path, "a\n1\n\n3\n\n\n", name="one.csv")
    with _raises(path, "line 3", "column 'a'", "missing value"):
        load_series_csv(path)


def test_gaps_outside_the_selected_columns_are_ignored(tmp_path):
    path = _csv(tmp_path, "a,b\n1,\n2,")
    assert load_series_csv(path, columns="a").values[:, 0].tolist() == [1, 2]


# --- time column -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "times, unit, step",
    [
        (["1949-01", "1949-02", "1949-03"], "M", 1),
        (["1981-01-01", "1981-01-02", "1981-01-03"], "D", 1),
        (["2016-07-01 00:00:00", "2016-07-01 01:00:00", "2016-07-01 02:00:00"], "s", 3600),
        (["2016-07-01T00:00", "2016-07-01T00:15", "2016-07-01T00:30"], "m", 15),
    ],
)
def test_time_formats(tmp_path, times, unit, step):
    path = _csv(tmp_path, "t,v\n" + "\n".join(f"{t},{i}" for i, t in enumerate(times)))
    s = load_series_csv(path, time_column="t")
    assert s.time.dtype == np.dtype(f"datetime64[{unit}]")
    assert s.time_step == np.timedelta64(step, unit) and s.missing_steps == 0
    assert str(s.time[0]).replace("T", " ").startswith(times[0].replace("T", " "))


@pytest.mark.parametrize("bad", ["01/02/2020", "2020-13-01", "", "yesterday"])
def test_bad_time_names_line(tmp_path, bad):
    path = _csv(tmp_path, f"t,v\n2020-01-01,1\n{bad},2")
    with _raises(path, "line 3", "column 't'"):
        load_series_csv(path, time_column="t")


def test_unsorted_time_names_first_offending_line(tmp_path):
    path = _csv(tmp_path, "t,v\n2020-01-01,1\n2020-01-03,2\n2020-01-02,3\n2020-01-01,4")
    with _raises(path, "line 4", "earlier than", "line 3"):
        load_series_csv(path, time_column="t")


def test_duplicate_time_names_both_lines(tmp_path):
    path = _csv(tmp_path, "t,v\n2020-01-01,1\n2020-01-02,2\n2020-01-02,3")
    with _raises(path, "duplicate time", "lines 3 and 4"):
        load_series_csv(path, time_column="t")


def test_time_gaps_are_counted_not_errors(tmp_path):
    days = ["2020-01-01", "2020-01-02", "2020-01-04", "2020-01-05", "2020-01-08"]
    path = _csv(tmp_path, "t,v\n" + "\n".join(f"{d},{i}" for i, d in enumerate(days)))
    s = load_series_csv(path, time_column="t")
    assert s.n_rows == 5 and s.missing_steps == 3
    assert s.time_step == np.timedelta64(1, "D")


# --- chronological_split -----------------------------------------------------------------


def test_split_rows_start_at_zero_and_leave_the_rest_unused():
    r = chronological_split(100, split_rows=(50, 20, 10))
    assert isinstance(r, SplitRanges)
    assert r == ((0, 50), (50, 70), (70, 80))
    assert chronological_split(100, split_rows="50,20,10") == r


def test_split_fractions_and_default():
    assert chronological_split(100, split=(0.7, 0.1, 0.2)) == ((0, 70), (70, 80), (80, 100))
    assert chronological_split(10, split="0.5,0.2,0.2") == ((0, 5), (5, 7), (7, 9))
    assert chronological_split(100) == chronological_split(100, split=(0.7, 0.1, 0.2))


@pytest.mark.parametrize(
    "kwargs, option",
    [
        ({"split_rows": (50, 20, 40)}, "split_rows"),
        ({"split_rows": (50, -1, 10)}, "split_rows"),
        ({"split_rows": (50, 20)}, "split_rows"),
        ({"split_rows": "a,b,c"}, "split_rows"),
        ({"split_rows": (5.5, 1, 1)}, "split_rows"),
        ({"split_rows": (50, 0, 10)}, "split_rows"),
        ({"split": (0.7, 0.2, 0.2)}, "split"),
        ({"split": (0.7, 0.0, 0.3)}, "split"),
        ({"split": "x,y,z"}, "split"),
        ({"split": (0.7, 0.1, 0.2), "split_rows": (1, 1, 1)}, "split_rows"),
    ],
)
def test_bad_splits_name_the_option(kwargs, option):
    with pytest.raises(ValueError, match=f"`{option}`"):
        chronological_split(100, **kwargs)


def test_empty_part_is_named():
    with pytest.raises(ValueError, match="val part would be empty"):
        chronological_split(100, split=(0.98, 0.001, 0.01))


# --- Standardizer ------------------------------------------------------------------------


def test_standardizer_uses_train_rows_only():
    rng = np.random.default_rng(0)
    train = rng.normal(0.0, 1.0, size=(60, 2))
    later = rng.normal(100.0, 50.0, size=(40, 2))  # would shift mean/std a lot if leaked
    values = np.concatenate([train, later])
    ranges = chronological_split(100, split_rows=(60, 20, 20))
    scaler = Standardizer.fit(values, rows=ranges.train, columns=["a", "b"])
    np.testing.assert_allclose(scaler.mean, train.mean(axis=0))
    np.testing.assert_allclose(scaler.std, train.std(axis=0))
    z = scaler.transform(values)
    np.testing.assert_allclose(z[:60].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z[:60].std(axis=0), 1.0, atol=1e-5)
    assert z[60:].mean() > 10  # the later rows are not forced to mean 0


def test_standardizer_config_round_trip_and_inverse():
    values = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])
    scaler = Standardizer.fit(values, columns=("a", "b"))
    config = json.loads(json.dumps(scaler.get_config()))
    assert isinstance(config["mean"], list) and config["columns"] == ["a", "b"]
    again = Standardizer.from_config(config)
    assert again == scaler
    z = again.transform(values)
    np.testing.assert_allclose(again.inverse_transform(z), values, rtol=1e-6)
    np.testing.assert_allclose(again.inverse_transform(z[:, 1:], indices=[1]), values[:, 1:])


def test_standardizer_constant_column_is_an_error_naming_it():
    values = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 6.0]])
    with pytest.raises(ValueError, match="Column 'b' is constant"):
        Standardizer.fit(values, rows=(0, 2), columns=["a", "b"])
    Standardizer.fit(values, columns=["a", "b"])  # not constant over all three rows


# --- windows -----------------------------------------------------------------------------


def test_make_windows_hand_checked():
    values = np.arange(14, dtype=np.float32).reshape(7, 2)  # row r = [2r, 2r+1]
    x, y = make_windows(values, lookback=3, horizon=2, stride=1, target_indices=[1])
    assert x.shape == (3, 3, 2) and y.shape == (3, 2, 1)
    assert x.dtype == np.float32 and y.dtype == np.float32
    np.testing.assert_array_equal(x[0], [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(y[0, :, 0], [7, 9])
    np.testing.assert_array_equal(x[2], [[4, 5], [6, 7], [8, 9]])
    np.testing.assert_array_equal(y[2, :, 0], [11, 13])


def test_make_windows_stride_and_1d():
    x, y = make_windows(np.arange(10), lookback=2, horizon=1, stride=3)
    assert x[:, :, 0].tolist() == [[0, 1], [3, 4], [6, 7]]
    assert y[:, :, 0].tolist() == [[2], [5], [8]]


def test_make_windows_too_short_names_lookback_horizon_length():
    with pytest.raises(ValueError, match="lookback=4, horizon=3, length=6"):
        make_windows(np.zeros((6, 1)), lookback=4, horizon=3)
    assert len(make_windows(np.zeros((7, 1)), lookback=4, horizon=3)[0]) == 1


@pytest.mark.parametrize(
    "kwargs, name",
    [({"lookback": 0}, "lookback"), ({"horizon": 1.5}, "horizon"), ({"stride": 0}, "stride")],
)
def test_make_windows_bad_arguments(kwargs, name):
    args = {"lookback": 2, "horizon": 1, **kwargs}
    with pytest.raises(ValueError, match=f"`{name}`"):
        make_windows(np.zeros((10, 1)), **args)
    with pytest.raises(ValueError, match="target_indices"):
        make_windows(np.zeros((10, 1)), 2, 1, target_indices=[3])


def test_split_windows_val_and_test_inputs_reach_back_lookback_rows():
    values = np.arange(30, dtype=np.float32)[:, None]  # value = row index
    ranges = chronological_split(30, split_rows=(12, 8, 6))
    parts = split_windows(values, ranges, lookback=4, horizon=2)
    (xtr, ytr), (xv, yv), (xte, yte) = parts["train"], parts["val"], parts["test"]
    assert len(xtr) == 12 - 4 - 2 + 1 and xtr[0, 0, 0] == 0 and ytr[-1, -1, 0] == 11
    assert len(xv) == 8 - 2 + 1 and len(xte) == 6 - 2 + 1
    assert xv[0, :, 0].tolist() == [8, 9, 10, 11] and yv[0, 0, 0] == 12  # first val row
    assert yv[-1, -1, 0] == 19 and yte[0, 0, 0] == 20 and yte[-1, -1, 0] == 25
    for (start, stop), (_, y) in zip(ranges, parts.values(), strict=True):
        assert y.min() >= start and y.max() < stop  # targets never leave their part


def test_split_windows_accepts_a_dict_and_names_the_short_part():
    values = np.zeros((20, 1), dtype=np.float32)
    ranges = {"train": (0, 10), "val": (10, 12), "test": (12, 20)}
    with pytest.raises(ValueError, match="The val part has 5 rows"):
        split_windows(values, ranges, lookback=3, horizon=3)


def test_windows_dataset_batches_and_is_deterministic():
    x = np.arange(20, dtype=np.float32).reshape(10, 2, 1)
    y = np.arange(10, dtype=np.float32).reshape(10, 1, 1)
    ordered = [b[1].numpy().ravel().tolist() for b in windows_dataset(x, y, batch_size=4)]
    assert ordered == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]

    def order(seed):
        ds = windows_dataset(x, y, batch_size=10, shuffle=True, seed=seed)
        return next(iter(ds))[1].numpy().ravel().tolist()

    assert order(7) == order(7) and sorted(order(7)) == list(range(10))
    assert order(7) != ordered[0] + ordered[1] + ordered[2]
    with pytest.raises(ValueError, match="batch_size"):
        windows_dataset(x, y, batch_size=0)


# --- real data ---------------------------------------------------------------------------


@needs_data
def test_etth1_protocol():
    s = load_series_csv(DATA / "ett" / "ETTh1.csv", time_column="date")
    assert s.values.shape == (17420, 7)
    assert s.columns == ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
    assert s.time_step == np.timedelta64(1, "h") and s.missing_steps == 0
    ranges = chronological_split(s.n_rows, split_rows=(8640, 2880, 2880))
    assert [stop - start for start, stop in ranges] == [8640, 2880, 2880]
    assert ranges.test == (11520, 14400)
    scaler = Standardizer.fit(s.values, rows=ranges.train, columns=s.columns)
    z = scaler.transform(s.values)
    # windows of the val/test parts only (train would be 8209 windows, not needed here)
    lookback, horizon = 336, 96
    parts = split_windows(z[: ranges.test[1]], ranges, lookback, horizon)
    assert len(parts["train"][0]) == 8640 - lookback - horizon + 1
    x, y = parts["test"]
    assert x.shape == (2785, 336, 7) and y.shape == (2785, 96, 7)
    np.testing.assert_array_equal(x[0, 0], z[11520 - 336])  # look-back starts at 11520 - L
    np.testing.assert_array_equal(y[-1, -1], z[14399])


@needs_data
@pytest.mark.parametrize(
    "name, time_column, rows, missing",
    [
        ("airline-passengers.csv", "Month", 144, 0),
        ("monthly-sunspots.csv", "Month", 2820, 0),
        ("daily-min-temperatures.csv", "Date", 3650, 2),
    ],
)
def test_small_series_load(name, time_column, rows, missing):
    s = load_series_csv(DATA / "small_series" / name, time_column=time_column)
    assert s.values.shape == (rows, 1) and s.missing_steps == missing
    assert s.dropped_rows == 0 and s.filled == {}
    assert np.isfinite(s.values).all()
