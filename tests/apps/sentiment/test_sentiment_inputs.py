"""Every text round-trips, data files of any name read, and bad input is one `Error:` line."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sentiment_helpers import TINY_MODEL, invoke

PROJECT = __import__("pathlib").Path(__file__).resolve().parents[3]
MR = PROJECT.parent / "shared" / "data" / "mr_polarity"
SMALL = ["--preset", "small", "--units", "2", "--embedding-dim", "4", "--max-length", "20"]

# Every character str.splitlines() splits on: Keras reloads a vocabulary with it.
LINE_BREAKS = ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def _fresh(*args, input=None):
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.run([sys.executable, "-m", "apps.cli", *map(str, args)], env=env,
                          input=input, capture_output=True, text=True, check=False)  # fmt: skip


def _class_folders(root, texts_by_class):
    for label, texts in texts_by_class.items():
        (root / label).mkdir(parents=True)
        for i, text in enumerate(texts):
            (root / label / f"{i}.txt").write_text(text, encoding="utf-8")
    return root


@pytest.mark.slow
def test_texts_holding_every_line_break_save_load_export_and_serve(tmp_path):
    good, bad = [], []
    for i, mark in enumerate(LINE_BREAKS):
        good.append(f"great{mark}film{i} loved{mark}it")
        bad.append(f"dull{mark}plot{i} hated{mark}it")
    data = _class_folders(tmp_path / "data", {"pos": good * 2, "neg": bad * 2})
    out = tmp_path / "run"
    trained = invoke("sentiment", "train", "--data", data, *TINY_MODEL, "--epochs", "1",
                     "--standardize", "none", "--out", out, "--json")  # fmt: skip
    assert trained.exit_code == 0, trained.output
    texts = [f"great{mark}film" for mark in LINE_BREAKS]
    predicted = _fresh("sentiment", "predict", "--model", out, *sum((["--text", t] for t in texts),
                       []), "--json")  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    rows = json.loads(predicted.stdout)["predictions"]
    assert [r["text"] for r in rows] == texts
    exported = _fresh("sentiment", "export", "--model", out, "--to", tmp_path / "models", "--json")
    assert exported.returncode == 0, exported.stderr[-2000:]
    check = json.loads(exported.stdout)["serving_check"]
    assert check["match"], check
    evaluated = _fresh("sentiment", "evaluate", "--model", tmp_path / "models", "--data", data,
                       "--json")  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads(evaluated.stdout)["n"] == 4 * len(LINE_BREAKS)


def test_every_standardizer_maps_line_breaks_to_spaces():
    import tensorflow as tf

    from apps.sentiment.config import STANDARDIZERS
    from apps.sentiment.layers import standardizer

    text = "A" + "b".join(LINE_BREAKS) + "!"
    for name in STANDARDIZERS:
        out = standardizer(name)(tf.constant([text])).numpy()[0].decode("utf-8")
        assert len(out.splitlines()) == 1, (name, out)
        assert ("a" in out) == ("lower" in STANDARDIZERS[name]), name


@pytest.mark.skipif(not MR.is_dir(), reason=f"MR data not found at {MR}")
@pytest.mark.slow
def test_mr_read_as_latin_1_trains_and_reloads_in_a_fresh_process(tmp_path):
    out = tmp_path / "mr"
    trained = invoke("sentiment", "train", "--data", MR, "--encoding", "latin-1", *TINY_MODEL,
                     "--limit", "400", "--epochs", "1", "--out", out)  # fmt: skip
    assert trained.exit_code == 0, trained.output
    evaluated = _fresh("sentiment", "evaluate", "--model", out, "--split", "test", "--json")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads(evaluated.stdout)["n"] == 40


def test_a_tab_separated_txt_file_is_detected_and_stated(tmp_path):
    texts = ["a dull bad plot", "a fine good film"]
    lines = [f"{texts[i % 2]} {i}\t{i % 2}" for i in range(40)]
    path = tmp_path / "labelled.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = invoke("sentiment", "baseline", "--data", path, "--json")
    assert result.exit_code == 0, result.output
    stated = [line for line in result.stderr.splitlines() if "detected" in line]
    assert len(stated) == 1 and "tab-separated" in stated[0], result.stderr
    assert json.loads(result.stdout)["test"]["n"] == 4
    forced = invoke("sentiment", "baseline", "--data", path, "--format", "csv")
    assert forced.exit_code == 2  # as CSV it has one column: named in the error


def test_a_csv_field_longer_than_the_csv_module_default_reads(tmp_path):
    long_review = "good " * 30000  # 150,000 characters
    rows = ["text,label"] + [f'"{long_review if i == 0 else "fine film"} {i}",{i % 2}'
                             for i in range(30)]  # fmt: skip
    path = tmp_path / "long.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = invoke("sentiment", "baseline", "--data", path, "--text-column", "text",
                    "--label-column", "label", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output


def _table(tmp_path, rows):
    path = tmp_path / "t.csv"
    path.write_text("text,label\n" + "".join(f"{t},{c}\n" for t, c in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "case, args, message",
    [
        ("empty_data", ["--data", ""], "Invalid value for '--data': expected a tfds:NAME"),
        ("same_column", ["--text-column", "text", "--label-column", "text"],
         "--text-column and --label-column name the same column 'text'"),
        ("all_empty", ["--text-column", "text", "--label-column", "label"],
         "no non-empty texts"),
        ("cv_and_test_fraction", ["--cv", "3", "--test-fraction", "0.2"],
         "--cv and --test-fraction do not go together"),
        ("embeddings_and_dim", ["--embeddings", "v.txt", "--embedding-dim", "8"],
         "--embeddings and --embedding-dim do not go together"),
    ],
)  # fmt: skip
def test_bad_train_input_is_one_error_line(tmp_path, case, args, message):
    empty = _table(tmp_path, [("  ", "pos"), ('""', "neg")])
    if case in ("same_column", "all_empty"):
        args = ["--data", empty, *args]
    elif case != "empty_data":
        args = ["--data", "synthetic:sentiment", *args]
    result = invoke("sentiment", "train", *args, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert not (tmp_path / "out").exists()


def test_predict_rejects_invalid_utf8_and_lone_surrogates(trained):
    folder, _ = trained
    for text in ("caf\udce9", "half \ud800 pair"):
        result = invoke("sentiment", "predict", "--model", folder, "--text", "ok", "--text", text)
        assert result.exit_code == 2, result.output
        assert "Error: --text #2: not valid UTF-8" in result.output


def test_an_unprepared_tfds_dataset_points_to_download(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "TFDS_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "apps.cli", "sentiment", "baseline", "--data", "tfds:imdb_reviews"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "not prepared" in proc.stderr and "pass --download" in proc.stderr
    help_text = invoke("sentiment", "train", "--help").output
    assert "--download" in help_text


def test_an_empty_batch_to_the_hybrid_export_gives_zero_rows(exported):
    import tensorflow as tf

    to, _ = exported
    serve = tf.saved_model.load(str(to / "1")).signatures["serving_default"]
    out = serve(text=tf.constant([], tf.string))
    assert out["probabilities"].shape == (0, 2) and out["label"].shape == (0,)
    assert out["classes"].shape == (0, 2)


def test_metrics_say_what_each_score_saw(trained):
    folder, _ = trained
    metrics = json.loads((folder / "metrics.json").read_text())
    saw = metrics["scores_saw"]
    assert "never seen" in saw["test"]
    assert "before the n-gram branch was refitted" in saw["validation"]
    assert metrics["ngram"]["refit_on_validation"]
    # the validation score is that of the hybrid as selected, before the refit: its log-loss
    # is the one early stopping and the weight choice saw
    assert metrics["validation"]["n"] == 6
    assert np.isfinite(metrics["validation"]["accuracy"])


def test_units_reach_the_recurrent_layer(tmp_path):
    out = tmp_path / "run"
    result = invoke("sentiment", "train", "--data", "synthetic:sentiment", *SMALL, "--units", "3",
                    "--limit", "30", "--epochs", "1", "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    import keras

    import apps.sentiment.model  # noqa: F401

    model = keras.saving.load_model(out / "model.keras")
    layer = model.get_layer("bidirectional_1").forward_layer
    assert layer.units == 3 and model.model_config.units == 3
