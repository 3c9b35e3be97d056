"""A user's files are never lost or mixed up: staged `--out`, interrupted runs, bad models."""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import pytest
from sentiment_helpers import TINY_MODEL, TINY_RUN, invoke

from apps.common.staging import (
    OutFolderError,
    check_out_folder,
    staged_folder,
    temporary_folder,
)

PROJECT = __import__("pathlib").Path(__file__).resolve().parents[3]
SMALL = ["--preset", "small", "--units", "2", "--embedding-dim", "4", "--max-length", "20"]


def _seqapps(*args):
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "PYTHONUNBUFFERED": "1"}
    return [sys.executable, "-m", "apps.cli", *map(str, args)], env


def test_a_non_empty_out_is_refused_unless_overwrite(trained, tmp_path):
    folder, _ = trained
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = invoke("sentiment", "train", "--data", "synthetic:sentiment", "--out", folder)
    assert again.exit_code == 2
    assert "holds files already" in again.output and "--overwrite" in again.output
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


def test_a_cv_rerun_with_overwrite_replaces_the_whole_folder(tmp_path):
    out = tmp_path / "run"
    first = invoke("sentiment", "train", "--data", "synthetic:sentiment", *SMALL, *TINY_RUN,
                   "--out", out)  # fmt: skip
    assert first.exit_code == 0, first.output
    assert (out / "model.keras").is_file()
    rerun = invoke("sentiment", "train", "--data", "synthetic:sentiment", *SMALL, "--limit", "40",
                   "--epochs", "1", "--cv", "2", "--out", out, "--overwrite")  # fmt: skip
    assert rerun.exit_code == 0, rerun.output
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "folds.json", "metrics.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folder left behind
    stale = invoke("sentiment", "predict", "--model", out, "--text", "good")
    assert stale.exit_code == 2 and "not a sentiment model" in stale.output


def test_out_and_to_under_a_file_fail_before_training(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    start = time.perf_counter()
    result = invoke("sentiment", "train", "--data", "synthetic:sentiment", "--out",
                    blocker / "run")  # fmt: skip
    assert result.exit_code == 2
    assert f"lies under the file {blocker}" in result.output
    export = invoke("sentiment", "export", "--model", tmp_path, "--to", blocker / "models")
    assert export.exit_code == 2 and "--to must be a folder" in export.output
    assert time.perf_counter() - start < 5  # no training, no model loading


def test_check_out_folder_names_what_is_wrong(tmp_path):
    (tmp_path / "run").mkdir()
    assert check_out_folder(tmp_path / "run") == tmp_path / "run"  # empty: fine
    (tmp_path / "run" / "model.keras").write_text("old")
    with pytest.raises(OutFolderError, match=r"holds files already \(model.keras\)"):
        check_out_folder(tmp_path / "run")
    assert check_out_folder(tmp_path / "run", overwrite=True)


def test_a_failed_staged_run_leaves_the_old_folder(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.keras").write_text("old")
    with pytest.raises(RuntimeError), staged_folder(out, overwrite=True) as folder:
        (folder / "model.keras").write_text("half")
        raise RuntimeError("killed")
    assert (out / "model.keras").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    with staged_folder(out, overwrite=True) as folder:
        (folder / "metrics.json").write_text("{}")
    assert [p.name for p in out.iterdir()] == ["metrics.json"]  # never old beside new


def _wait_for(predicate, proc, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        found = predicate()
        if found:
            return found
        time.sleep(0.002)
    return None


def _saving(parent, name):
    def find():
        return [p for p in parent.glob(f".{name}.partial-*/model.keras")]

    return find


@pytest.mark.slow
def test_a_rerun_killed_while_it_saves_leaves_the_old_model(trained, tmp_path):
    folder, _ = trained
    out = tmp_path / "run"
    out.mkdir()
    for path in folder.iterdir():
        (out / path.name).write_bytes(path.read_bytes())
    original = (out / "model.keras").read_bytes()
    command, env = _seqapps("sentiment", "train", "--data", "synthetic:sentiment", *TINY_MODEL,
                            *TINY_RUN, "--seed", "5", "--out", out, "--overwrite")  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        caught = _wait_for(_saving(tmp_path, "run"), proc, seconds=240)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert caught, "the run ended before it was seen saving: " + proc.stderr.read().decode()[-500:]
    assert proc.returncode == -signal.SIGKILL
    assert (out / "model.keras").read_bytes() == original
    assert any(tmp_path.glob(".run.partial-*"))  # the killed run's staging folder
    served = subprocess.run(
        _seqapps("sentiment", "predict", "--model", out, "--text", "a good film", "--json")[0],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert served.returncode == 0, served.stderr[-1000:]
    assert json.loads(served.stdout)["predictions"][0]["label"] in ("negative", "positive")
    # the next run into the same folder removes what the killed one left
    temporary_folder(tmp_path, ".run.partial-").rmdir()
    assert not any(tmp_path.glob(".run.partial-*"))


@pytest.mark.slow
def test_ctrl_c_exits_130_and_leaves_the_old_model(trained, tmp_path):
    folder, _ = trained
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.keras").write_bytes((folder / "model.keras").read_bytes())
    original = (out / "model.keras").read_bytes()
    command, env = _seqapps("sentiment", "train", "--data", "synthetic:sentiment", *SMALL,
                            "--limit", "400", "--epochs", "50", "--patience", "0",
                            "--out", out, "--overwrite")  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        lines = []
        for raw in proc.stderr:
            lines.append(raw.decode())
            if raw.startswith(b"epoch 1/50"):
                proc.send_signal(signal.SIGINT)
                break
        _, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, "".join(lines) + rest.decode()[-1000:]
    assert "Interrupted" in rest.decode() and "Traceback" not in rest.decode()
    assert (out / "model.keras").read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_truncated_model_file_says_so(trained, tmp_path):
    folder, _ = trained
    data = (folder / "model.keras").read_bytes()
    broken = tmp_path / "run"
    broken.mkdir()
    (broken / "model.keras").write_bytes(data[: len(data) // 2])
    result = invoke("sentiment", "predict", "--model", broken, "--text", "good")
    assert result.exit_code == 2
    assert "model.keras: the model file is truncated or corrupt" in result.output
    (broken / "model.keras").write_bytes(b"")
    empty = invoke("sentiment", "evaluate", "--model", broken, "--data", "synthetic:sentiment")
    assert empty.exit_code == 2 and "truncated or corrupt" in empty.output


def test_class_names_that_do_not_match_the_outputs_are_named(trained, tmp_path):
    folder, _ = trained
    bad = tmp_path / "run"
    bad.mkdir()
    with zipfile.ZipFile(folder / "model.keras") as source, \
            zipfile.ZipFile(bad / "model.keras", "w") as target:  # fmt: skip
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["class_names"] = ["negative", "neutral", "positive"]
                data = json.dumps(config).encode()
            target.writestr(item, data)
    result = invoke("sentiment", "predict", "--model", bad, "--text", "good")
    assert result.exit_code == 2
    assert "2 output column(s) but 3 class name(s)" in result.output


def test_the_model_file_alone_loads_and_predicts(trained, tmp_path):
    folder, _ = trained
    alone = tmp_path / "copy"
    alone.mkdir()
    (alone / "model.keras").write_bytes((folder / "model.keras").read_bytes())
    code = (
        "import json, sys, keras\n"
        "import apps.sentiment.model\n"
        "model = keras.saving.load_model(sys.argv[1])\n"
        "print(json.dumps([model.class_names, model.model_config.units]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    proc = subprocess.run([sys.executable, "-c", code, str(alone / "model.keras")], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == [["negative", "positive"], 4]
    predicted = invoke("sentiment", "predict", "--model", alone, "--text", "good", "--json")
    assert predicted.exit_code == 0, predicted.output


def test_a_killed_export_leaves_a_folder_the_next_export_removes(trained, tmp_path):
    folder, _ = trained
    to = tmp_path / "sentiment"
    to.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = __import__("socket").gethostname()
    left = to / f".export-{host}-{dead.pid}-abcd"
    left.mkdir()
    (left / "saved_model.pb").write_bytes(b"half")
    alive = to / f".export-{host}-{os.getpid()}-efgh"  # a running export: kept
    alive.mkdir()
    result = invoke("sentiment", "export", "--model", folder, "--to", to, "--no-check")
    assert result.exit_code == 0, result.output
    assert not left.exists() and alive.exists()
    assert (to / "1" / "saved_model.pb").is_file()
