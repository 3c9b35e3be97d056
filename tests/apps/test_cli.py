import dataclasses
import json
import subprocess
import sys

from click.testing import CliRunner

from apps.cli import main

TINY = ["--epochs", "1", "--train-size", "32", "--test-size", "8", "--batch-size", "16"]


def test_help_lists_demo():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("seqapps, version ")


def test_help_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from apps.cli import main\n"
        "try:\n"
        "    main(['demo', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().endswith("[]")


def test_demo_rejects_bad_epochs():
    result = CliRunner().invoke(main, ["demo", "--epochs", "0"])
    assert result.exit_code == 2
    assert "Error: Invalid value for '--epochs'" in result.output


def test_demo_cli_defaults_match_demo_config():
    from apps.demo import DemoConfig

    defaults = {p.name: p.default for p in main.commands["demo"].params}
    config = DemoConfig()
    for field in dataclasses.fields(DemoConfig):
        if field.name in defaults:
            assert defaults[field.name] == getattr(config, field.name), field.name


def test_demo_exports_versions_that_serve_like_keras(tmp_path):
    runner = CliRunner()
    for expected_version in (1, 2):
        result = runner.invoke(main, ["demo", "--out", str(tmp_path), "--json", *TINY])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["version"] == expected_version
        assert (tmp_path / "demo" / str(expected_version) / "saved_model.pb").is_file()
        check = summary["serving_check"]
        assert check["match"] is True
        assert len(check["served_predictions"]) == 4
        assert check["max_abs_diff"] <= 1e-5
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["1", "2"]


def test_next_version_ignores_temporary_and_non_numeric_entries(tmp_path):
    from apps.demo import next_version

    assert next_version(tmp_path / "missing") == 1
    for name in ("1", "3", ".export-abc", "latest"):
        (tmp_path / name).mkdir()
    (tmp_path / "7").write_text("a file, not a version")
    assert next_version(tmp_path) == 4
