"""apps.common: versioned export, errors, shared options, reports and plots."""

import json

import click
import pytest
from click.testing import CliRunner

from apps.common import errors, options, reports
from apps.common.export import VersionExistsError, export_versioned, next_version


def _write(folder):
    (folder / "saved_model.pb").write_bytes(b"pb")


def test_export_versioned_takes_the_next_free_version_and_never_overwrites(tmp_path):
    app = tmp_path / "app"
    assert export_versioned(_write, app).name == "1"
    (app / "2").write_text("a file named like a version")
    (app / ".export-stale").mkdir()
    assert export_versioned(_write, app).name == "3"  # "2" is taken by a file
    assert export_versioned(_write, app, version=9).name == "9"
    assert next_version(app) == 10
    (app / "10").mkdir()  # an empty folder is a version too: not replaced
    assert export_versioned(_write, app).name == "11"
    with pytest.raises(VersionExistsError, match="version 9 exists already"):
        export_versioned(_write, app, version=9)
    with pytest.raises(ValueError, match="version=0"):
        export_versioned(_write, app, version=0)
    assert (app / "9" / "saved_model.pb").read_bytes() == b"pb"
    assert not [
        p for p in app.iterdir() if p.name.startswith(".export-") and p.name != ".export-stale"
    ]


def test_export_versioned_leaves_nothing_when_the_writer_fails(tmp_path):
    def broken(folder):
        (folder / "half").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        export_versioned(broken, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_input_errors_become_one_line_exit_2_unless_debug():
    @click.command()
    @options.debug_option
    def cmd(debug):
        with errors.input_errors(debug):
            raise ValueError("data.csv, line 3:\n  bad   value")

    result = CliRunner().invoke(cmd, [])
    assert result.exit_code == 2
    assert result.output == "Error: data.csv, line 3: bad value\n"
    debug = CliRunner().invoke(cmd, ["--debug"])
    assert isinstance(debug.exception, ValueError)


@pytest.mark.parametrize(
    "value, expected", [("1.5", 1.5), ("none", None), ("0", None), ("OFF", None)]
)
def test_optional_float(value, expected):
    assert options.OptionalFloat().convert(value, None, None) == expected


def test_optional_float_rejects_what_is_not_a_number():
    with pytest.raises(click.BadParameter):
        options.OptionalFloat().convert("abc", None, None)


def test_int_list():
    assert options.IntList().convert("64,32", None, None) == [64, 32]
    assert options.IntList().convert("none", None, None) == []
    assert options.IntList().convert("8,0", None, None) == [8, 0]  # the config checks them
    with pytest.raises(click.BadParameter, match="not a comma-separated list"):
        options.IntList().convert("8,x", None, None)


def test_classification_metrics_multiclass_and_unseen_class():
    m = reports.classification_metrics([0, 1, 2, 2], [0, 2, 2, 2], ["a", "b", "c", "d"])
    assert m["accuracy"] == 0.75 and m["n"] == 4
    assert m["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["per_class"]["d"]["support"] == 0
    assert m["confusion_matrix"][1] == [0, 0, 1, 0]
    assert m["macro_f1"] == pytest.approx((1 + 0 + 0.8 + 0) / 4)


def test_plots_and_json_files(tmp_path):
    reports.plot_confusion_matrix([[3, 1], [0, 4]], ["neg", "pos"], tmp_path / "cm.png")
    history = {"loss": [0.7, 0.5], "val_loss": [0.6, 0.55], "accuracy": [0.5, 0.8],
               "grad_norm": [1.2, 0.9]}  # fmt: skip
    reports.plot_training_curves(history, tmp_path / "curves.png")
    for name in ("cm.png", "curves.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    reports.write_json(tmp_path / "sub" / "m.json", {"accuracy": 0.5, "text": "é"})
    assert json.loads((tmp_path / "sub" / "m.json").read_text(encoding="utf-8"))["text"] == "é"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["m.json"]


def test_format_table_and_mean_std():
    table = reports.format_table([{"fold": 1, "acc": 0.5}, {"fold": "mean", "acc": 0.25}],
                                 ["fold", "acc"])  # fmt: skip
    assert table.splitlines() == ["fold  acc", "----  ------", "1     0.5000", "mean  0.2500"]
    assert reports.mean_std([1.0, 3.0]) == (2.0, pytest.approx(2**0.5))
    assert reports.mean_std([4.0]) == (4.0, 0.0)
