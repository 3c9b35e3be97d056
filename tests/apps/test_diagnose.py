"""`seqapps diagnose gradients`: options, JSON, text table and plot."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from apps.cli import main

SMALL = ["--steps", "12", "--units", "4", "--features", "3", "--batch-size", "2"]


def _run(*args):
    return CliRunner().invoke(main, ["diagnose", "gradients", *args])


def test_help_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from apps.cli import main\n"
        "try:\n"
        "    main(['diagnose', 'gradients', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'seqcore') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--steps" in proc.stdout
    assert proc.stdout.strip().endswith("[]")


def test_group_help_lists_gradients():
    result = CliRunner().invoke(main, ["diagnose", "--help"])
    assert result.exit_code == 0
    assert "gradients" in result.output


def test_json_is_one_object_with_every_requested_cell(tmp_path):
    plot = tmp_path / "flow.png"
    result = _run("--cell", "lstm,simple_rnn", "--cell", "gru", *SMALL, "--json", "--plot", plot)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert summary["steps"] == 12
    assert list(summary["cells"]) == ["lstm", "simple_rnn", "gru"]
    for record in summary["cells"].values():
        assert len(record["dh_norms"]) == len(record["dx_norms"]) == 12
        assert record["first_last_ratio"] == pytest.approx(
            record["dh_norms"][0] / record["dh_norms"][-1]
        )
    assert summary["plot"] == str(plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "measuring" in result.stderr


def test_default_cells_and_the_vanishing_gradient():
    result = _run("--steps", "40", "--units", "8", "--batch-size", "4", "--json")
    assert result.exit_code == 0, result.output
    cells = json.loads(result.stdout)["cells"]
    assert list(cells) == ["simple_rnn", "lstm", "gru"]
    # Loss on the last output only: at initialisation, driven by unit-variance inputs,
    # every cell's gradient decays over 40 steps.
    for record in cells.values():
        assert record["first_last_ratio"] < 1e-2


def test_same_seed_same_numbers_and_zero_inputs_keep_simple_rnn_gradient():
    first = json.loads(_run("--cell", "simple_rnn", *SMALL, "--json").stdout)
    again = json.loads(_run("--cell", "simple_rnn", *SMALL, "--json").stdout)
    assert first["cells"] == again["cells"]
    # Orthogonal recurrent kernel, h = 0: dh_{t-1} = dh_t U, the norm is kept exactly.
    zero = json.loads(_run("--cell", "simple_rnn", *SMALL, "--input-scale", "0", "--json").stdout)
    assert zero["cells"]["simple_rnn"]["first_last_ratio"] == pytest.approx(1.0, rel=1e-4)


def test_text_output_has_a_row_per_step_and_the_ratios():
    result = _run("--cell", "gru", *SMALL)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["step", "gru", "dh", "gru", "dx"]
    assert [line.split()[0] for line in lines[1:13]] == [str(t) for t in range(1, 13)]
    assert lines[13].startswith("first/last ratio")
    assert lines[14].split()[0] == "gru"


@pytest.mark.parametrize(
    "args, option",
    [
        (["--cell", "transformer"], "'--cell'"),
        (["--cell", "lstm,rnn"], "'--cell'"),
        (["--steps", "1"], "'--steps'"),
        (["--units", "0"], "'--units'"),
        (["--plot", "flow.txt"], "'--plot'"),
        (["--plot", "no/such/folder/flow.png"], "'--plot'"),
    ],
)
def test_bad_input_exits_2_with_one_error_line(args, option):
    result = _run(*args)
    assert result.exit_code == 2
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1
    assert option in error_lines[0]
    assert "Traceback" not in result.output
