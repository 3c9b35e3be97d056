"""`seqapps sentiment ...` end to end on a tiny model (see conftest.py), and bad input."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from sentiment_helpers import TINY_MODEL, TINY_RUN, invoke

PROJECT = pathlib.Path(__file__).resolve().parents[3]
MR = (
    __import__("pathlib").Path(__file__).resolve().parents[3].parent
    / "shared"
    / "data"
    / "mr_polarity"
)


def test_help_of_every_command_skips_tensorflow():
    code = (
        "import sys\n"
        "from apps.cli import main\n"
        "for verb in ('train', 'evaluate', 'predict', 'export', 'baseline'):\n"
        "    try:\n"
        "        main(['sentiment', verb, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--clip-norm" in proc.stdout and "--embeddings" in proc.stdout
    assert proc.stdout.strip().endswith("[]")


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--data", "no_such_folder"], "no_such_folder: no such file or folder"),
        (["train", "--data", "synthetic:sentiment", "--units", "0"], "Received: units=0"),
        (["train", "--data", "synthetic:sentiment", "--out", "setup.cfg/run"], "lies under"),
        (["export", "--model", ".", "--to", "setup.cfg/models"], "--to must be a folder"),
    ],
)
def test_typos_fail_before_tensorflow_is_imported(tmp_path, args, message):
    (tmp_path / "setup.cfg").write_text("a file")
    code = (
        "import sys\n"
        "from apps.cli import main\n"
        "try:\n"
        f"    main(['sentiment', *{args!r}])\n"
        "except SystemExit as e:\n"
        "    heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "    print('exit', e.code, heavy)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env=env, check=False)  # fmt: skip
    assert message in proc.stderr, proc.stderr
    assert proc.stdout.strip() == "exit 2 []", proc.stdout + proc.stderr


def test_train_writes_model_metrics_split_and_plots(trained):
    folder, summary = trained
    for name in (
        "model.keras", "config.json", "metrics.json", "split.json",
        "confusion_matrix.json", "confusion_matrix.png", "training_curves.png",
    ):  # fmt: skip
        assert (folder / name).is_file(), name
    assert (folder / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert summary["accuracy"] == metrics["test"]["accuracy"]
    assert set(metrics["test"]["per_class"]) == {"negative", "positive"}
    assert {"precision", "recall", "f1", "support"} <= set(metrics["test"]["per_class"]["negative"])
    assert len(metrics["history"]["grad_norm"]) == metrics["epochs_run"] == 2
    assert all(g > 0 for g in metrics["history"]["grad_norm"])
    assert np.sum(metrics["test"]["confusion_matrix"]) == metrics["test"]["n"] == 6
    config = json.loads((folder / "config.json").read_text())
    assert config["class_names"] == ["negative", "positive"]
    assert config["preset"] == "base" and config["model"]["units"] == 4
    assert config["model"]["ngram_weight"] == "auto" and config["model"]["token_ratios"]
    ngram = metrics["ngram"]
    assert ngram["features"] > 0 and 0 <= ngram["weight"] <= 1
    assert min(ngram["weight_losses"], key=ngram["weight_losses"].get) == str(ngram["weight"])
    # the epoch kept is picked by the validation log-loss of the whole hybrid
    best = metrics["history"]["val_hybrid_loss"][metrics["best_epoch"] - 1]
    assert best == min(metrics["history"]["val_hybrid_loss"])
    assert abs(best - min(ngram["weight_losses"].values())) < 1e-6
    assert config["train"]["clip_norm"] == 1.0
    split = json.loads((folder / "split.json").read_text())
    assert split["sizes"] == {"train": 48, "val": 6, "test": 6}
    indices = split["indices"]
    assert not set(indices["train"]) & set(indices["test"])


def test_evaluate_split_test_scores_the_saved_test_part(trained):
    folder, summary = trained
    result = invoke("sentiment", "evaluate", "--model", folder, "--split", "test", "--json")
    assert result.exit_code == 0, result.output
    scored = json.loads(result.stdout)
    assert scored["n"] == summary["test"]["n"]
    assert scored["accuracy"] == pytest.approx(summary["test"]["accuracy"])


def test_evaluate_rejects_labels_the_model_does_not_know(trained, tmp_path):
    folder, _ = trained
    table = tmp_path / "reviews.csv"
    table.write_text("text,label\ngood film,positive\nhmm,neutral\nawful,negative\n")
    result = invoke(
        "sentiment", "evaluate", "--model", folder, "--data", table,
        "--text-column", "text", "--label-column", "label",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "Error: label(s) 'neutral' in the data are not classes of the model" in result.output


def test_predict_text_input_and_stdin(trained, tmp_path):
    folder, _ = trained
    lines = tmp_path / "texts.txt"
    lines.write_text("the plot was good\n\nloved it 😍\n", encoding="utf-8")
    result = invoke(
        "sentiment", "predict", "--model", folder, "--text", "it was dull",
        "--input", lines, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["predictions"]
    assert [r["text"] for r in rows] == ["it was dull", "the plot was good", "", "loved it 😍"]
    for row in rows:
        assert set(row["probabilities"]) == {"negative", "positive"}
        assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert row["label"] == max(row["probabilities"], key=row["probabilities"].get)
    piped = invoke("sentiment", "predict", "--model", folder, "--input", "-", input="good\nbad\n")
    assert piped.exit_code == 0, piped.output
    assert len(piped.stdout.strip().splitlines()) == 2
    assert piped.stdout.split("\t")[1].startswith("negative=")


def test_export_serves_like_keras_and_evaluates_alike(exported, trained):
    to, summary = exported
    folder, _ = trained
    assert summary["version"] == 1
    version = to / "1"
    assert (version / "saved_model.pb").is_file()
    meta = json.loads((version / "assets.extra" / "metadata.json").read_text())
    assert meta["class_names"] == ["negative", "positive"] and meta["preset"] == "base"
    check = summary["serving_check"]
    assert check["match"] and check["labels_match"] and check["max_abs_diff"] <= 1e-5
    assert "" in check["texts"] and check["n"] == 6
    assert np.all(np.isfinite(check["served_probabilities"]))

    import tensorflow as tf

    from apps.sentiment.predict import load_classifier

    serve = tf.saved_model.load(str(version)).signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == ["text"]
    text = "the acting was not good, but the music was great"
    out = serve(text=tf.constant([" ".join(["dull"] * 5000), text, ""]))
    alone = serve(text=tf.constant([text]))
    np.testing.assert_allclose(out["probabilities"][1], alone["probabilities"][0], atol=1e-5)
    assert out["classes"].shape == (3, 2) and out["label"].shape == (3,)
    keras_model = load_classifier(folder)
    np.testing.assert_allclose(
        keras_model.predict_proba([text]), alone["probabilities"].numpy(), atol=1e-5
    )

    # evaluate gives the same scores from the training folder and from the export
    data = ["--data", "synthetic:sentiment", "--limit", "40", "--data-seed", "9", "--json"]
    keras_run = invoke("sentiment", "evaluate", "--model", folder, *data)
    served_run = invoke("sentiment", "evaluate", "--model", to / "1", *data)
    assert keras_run.exit_code == 0, keras_run.output
    assert served_run.exit_code == 0, served_run.output
    a, b = json.loads(keras_run.stdout), json.loads(served_run.stdout)
    assert {"accuracy", "macro_f1", "n", "per_class"} <= set(a)
    assert a["n"] == b["n"] == 40
    assert (a["kind"], b["kind"]) == ("keras", "saved_model")
    assert a["confusion_matrix"] == b["confusion_matrix"]


def test_export_versions_increment_and_are_never_overwritten(trained, tmp_path):
    folder, _ = trained
    to = tmp_path / "sentiment"
    first = invoke("sentiment", "export", "--model", folder, "--to", to, "--no-check")
    second = invoke("sentiment", "export", "--model", folder, "--to", to, "--no-check")
    assert first.exit_code == second.exit_code == 0, first.output + second.output
    assert sorted(p.name for p in to.iterdir()) == ["1", "2"]
    clash = invoke("sentiment", "export", "--model", folder, "--to", to, "--version", "2")
    assert clash.exit_code == 2
    assert "version 2 exists already" in clash.output
    again = invoke("sentiment", "export", "--model", to / "1", "--to", to)
    assert again.exit_code == 2 and "is an export already" in again.output
    latest = invoke("sentiment", "predict", "--model", to, "--text", "good", "--json")
    assert latest.exit_code == 0, latest.output
    assert json.loads(latest.stdout)["model"].endswith("2")


def test_baseline_uses_the_same_test_part_as_train(trained):
    _, summary = trained
    result = invoke("sentiment", "baseline", "--data", "synthetic:sentiment", *TINY_RUN[:2],
                    "--seed", "3", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["split"]["n_test"] == summary["test"]["n"]
    assert {"accuracy", "macro_f1", "per_class"} <= set(report["test"])
    assert report["test"]["C"] > 0


def test_baseline_cross_validation_prints_a_fold_table():
    result = invoke("sentiment", "baseline", "--data", "synthetic:sentiment", "--limit", "40",
                    "--cv", "3")  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[0] == "fold" and "accuracy" in lines[0]
    assert [line.split()[0] for line in lines[2:7]] == ["1", "2", "3", "mean", "std"]


def test_train_cross_validation_runs_the_asked_folds(tmp_path):
    result = invoke(
        "sentiment", "train", "--data", "synthetic:sentiment", *TINY_MODEL, "--limit", "40",
        "--epochs", "1", "--cv", "4", "--folds", "2", "--out", tmp_path, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["k"] == 4 and summary["folds_run"] == [2]
    assert summary["folds"][0]["n_test"] == 10
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["cv"]["mean"]["accuracy"] == summary["accuracy"]
    assert (tmp_path / "folds.json").is_file() and not (tmp_path / "model.keras").exists()


def test_multiclass_csv_with_pretrained_vectors(tmp_path):
    rows = ["review,stars"]
    words = {"low": "awful dull", "mid": "okay fine", "high": "great good"}
    for i in range(36):
        label = ["low", "mid", "high"][i % 3]
        rows.append(f'"the movie {i}, {words[label]}",{label}')
    table = tmp_path / "reviews.csv"
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("great 1 0 0\nawful 0 1 0\nMovie 0 0 1\nunseen 1 1 1\n", encoding="utf-8")
    result = invoke(
        "sentiment", "train", "--data", table, "--text-column", "review", "--label-column",
        "stars", *TINY_MODEL[:4], "--epochs", "1", "--embeddings", vectors,
        "--out", tmp_path / "run", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["embeddings"]["dim"] == 3 and summary["embeddings"]["found"] == 3
    assert "pretrained vectors: 3/" in result.stderr
    assert list(summary["test"]["per_class"]) == ["high", "low", "mid"]
    assert np.shape(summary["test"]["confusion_matrix"]) == (3, 3)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["embedding_dim"] == 3
    assert config["class_names"] == ["high", "low", "mid"]
    predicted = invoke("sentiment", "predict", "--model", tmp_path / "run", "--text", "x", "--json")
    assert set(json.loads(predicted.stdout)["predictions"][0]["probabilities"]) == {
        "high", "low", "mid",
    }  # fmt: skip


def test_train_with_mirrored_strategy(tmp_path):
    result = invoke(
        "sentiment", "train", "--data", "synthetic:sentiment", *TINY_MODEL, "--limit", "30",
        "--epochs", "1", "--strategy", "mirrored", "--standardize", "none",
        "--out", tmp_path, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "MirroredStrategy" in result.stderr
    assert json.loads(result.stdout)["test"]["n"] == 3
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"]["standardize"] == "none"


def _bad(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_text_column", "text column 'review' not found. Available columns: text, label"),
        ("unknown_label_column", "label column 'stars' not found"),
        (
            "undecodable",
            "latin.csv, line 3, column 4 (byte offset 23): cannot decode byte 0xe9 as utf-8",
        ),
        ("missing_path", "no_such_dir: no such file or folder"),
        ("cv_1", "Invalid value for '--cv': expected an integer >= 2 (or none). Received: cv=1"),
        ("bad_clip_norm", "Invalid value for '--clip-norm': expected a number > 0"),
        ("too_many_folds", "class 'negative' has 5 example(s); stratified 20-fold"),
        ("option_not_for_source", "option(s) text_column do not apply"),
    ],
)
def test_bad_input_exits_2_with_one_error_line(tmp_path, case, message):
    table = _bad(tmp_path, "t.csv", b"text,label\ngood,pos\nbad,neg\n")
    latin = _bad(tmp_path, "latin.csv", b"text,label\ngood,pos\ncaf\xe9 bad,neg\n")
    data = {
        "missing_text_column": [table, "--text-column", "review", "--label-column", "label"],
        "unknown_label_column": [table, "--text-column", "text", "--label-column", "stars"],
        "undecodable": [latin, "--text-column", "text", "--label-column", "label"],
        "missing_path": [tmp_path / "no_such_dir"],
        "cv_1": ["synthetic:sentiment", "--cv", "1"],
        "bad_clip_norm": ["synthetic:sentiment", "--clip-norm", "-1"],
        "too_many_folds": ["synthetic:sentiment", "--limit", "10", "--cv", "20"],
        "option_not_for_source": ["synthetic:sentiment", "--text-column", "text"],
    }[case]
    result = invoke("sentiment", "train", "--data", *data, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert "Traceback" not in result.output


def test_bad_model_folder_and_missing_inputs_exit_2(tmp_path):
    empty = invoke("sentiment", "predict", "--model", tmp_path, "--text", "hi")
    assert empty.exit_code == 2 and "not a sentiment model" in empty.output
    none = invoke("sentiment", "predict", "--model", tmp_path)
    assert none.exit_code == 2 and "Give texts with --text TEXT or --input FILE" in none.output


@pytest.mark.skipif(not MR.is_dir(), reason=f"MR data not found at {MR}")
def test_mr_reads_as_windows_1252_with_its_published_size():
    result = invoke(
        "sentiment", "baseline", "--data", MR, "--encoding", "windows-1252", "--limit", "600",
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "10662 examples" not in result.stderr  # --limit applies to files too
    report = json.loads(result.stdout)
    assert report["split"]["n_test"] == 60
    utf8 = invoke("sentiment", "baseline", "--data", MR)
    assert utf8.exit_code == 2 and "--encoding windows-1252" in utf8.output
