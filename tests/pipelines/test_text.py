"""Tests of the text sources (`text_source`), splits (`splits`) and text datasets (`text`)."""

import json
import pathlib
import re

import numpy as np
import pytest

from pipelines.splits import (
    SplitError,
    group_split,
    leave_one_group_out,
    split_record,
    stratified_kfold,
    stratified_split,
)
from pipelines.text import encode_labels, make_vectorizer, text_dataset, token_counts
from pipelines.text_source import (
    TextSourceError,
    class_of_file,
    load_class_files,
    load_class_folders,
    load_table,
    load_text_source,
)

DATA = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
MR = DATA / "mr_polarity"
needs_mr = pytest.mark.skipif(
    not MR.is_dir(), reason=f"real data folder {MR} is absent (a fresh clone)"
)


def _write(path, data):
    """Writes `data` (str as UTF-8, or bytes) exactly; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _raises(*parts):
    """Context manager: a TextSourceError whose message names every part, in order."""
    return pytest.raises(TextSourceError, match=".*".join(re.escape(str(p)) for p in parts))


# --- class folders -------------------------------------------------------------------------


def _folders(tmp_path):
    _write(tmp_path / "pos" / "a.txt", "great film\n")
    _write(tmp_path / "pos" / "b.txt", "loved it")
    _write(tmp_path / "pos" / "empty.txt", "  \n")
    _write(tmp_path / "pos" / "notes.md", "ignored")
    _write(tmp_path / "neg" / "c.txt", "dull")
    _write(tmp_path / ".hidden" / "d.txt", "ignored")
    return tmp_path


def test_class_folders_reads_one_example_per_file(tmp_path):
    ex = load_class_folders(_folders(tmp_path))
    assert ex.class_names == ["neg", "pos"]
    assert ex.texts == ["dull", "great film\n", "loved it"]
    assert ex.labels == ["neg", "pos", "pos"]
    assert ex.sources[1] == f"{tmp_path / 'pos' / 'a.txt'}:1"
    assert ex.skipped == 1 and len(ex) == 3
    assert ex.class_counts() == {"neg": 1, "pos": 2}


def test_class_folders_errors(tmp_path):
    _folders(tmp_path)
    _write(tmp_path / "meh" / "only.txt", "\n")
    with _raises(tmp_path / "meh", "'meh'", "no examples"):
        load_class_folders(tmp_path)
    one = tmp_path / "one"
    _write(one / "pos" / "a.txt", "fine")
    with _raises(one, "at least 2"):
        load_class_folders(one)
    bad = tmp_path / "bad"
    _write(bad / "pos" / "a.txt", "ok")
    _write(bad / "neg" / "b.txt", b"first line\nsecond \x97 line")
    with _raises(bad / "neg" / "b.txt", "line 2", "column 8", "byte offset 18", "--encoding"):
        load_class_folders(bad)


# --- class files ---------------------------------------------------------------------------


def test_class_of_file():
    assert class_of_file("rt-polarity.pos") == "pos"
    assert class_of_file("data/neg.txt") == "neg"
    assert class_of_file("spam") == "spam"


def test_class_files_split_on_newline_only(tmp_path):
    # \x85 is an ellipsis in Windows-1252; str.splitlines() would split there.
    _write(tmp_path / "rt.pos", b"wait \x85 what\r\n\n   \nfun\n")
    _write(tmp_path / "rt.neg", b"bad\nworse")
    _write(tmp_path / "README.txt", "documentation, not a class")
    ex = load_class_files(tmp_path, encoding="windows-1252")
    assert ex.class_names == ["neg", "pos"]
    assert ex.texts == ["bad", "worse", "wait \u2026 what", "fun"]
    assert [s.rsplit(":", 1)[1] for s in ex.sources] == ["1", "2", "1", "4"]
    assert ex.sources[3] == f"{tmp_path / 'rt.pos'}:4"
    assert ex.skipped == 2


def test_class_files_by_stem_and_list(tmp_path):
    a = _write(tmp_path / "good.txt", "x\ny\n")
    b = _write(tmp_path / "bad.txt", "z\n")
    assert load_class_files(tmp_path).class_counts() == {"bad": 1, "good": 2}
    assert load_class_files([a, b]).labels == ["good", "good", "bad"]


def test_class_files_errors(tmp_path):
    _write(tmp_path / "x.pos", "fine\n")
    empty = _write(tmp_path / "x.neg", "\n \n")
    with _raises(empty, "'neg'", "no examples"):
        load_class_files(tmp_path)
    with _raises("at least 2"):
        load_class_files([tmp_path / "x.pos"])
    with _raises(tmp_path / "nope.pos", "no such file"):
        load_class_files([tmp_path / "x.pos", tmp_path / "nope.pos"])
    _write(empty, b"ok\nalso ok\nnot \x97 utf-8\n")
    with _raises(empty, "line 3", "column 5", "byte offset 15", "cannot decode byte 0x97"):
        load_class_files(tmp_path)
    with _raises("unknown encoding"):
        load_class_files(tmp_path, encoding="no-such-codec")


# --- tables --------------------------------------------------------------------------------


def test_csv_by_name_with_quotes_and_multiline_field(tmp_path):
    path = _write(
        tmp_path / "t.csv",
        'id,text,label\n1,"good, really",pos\n\n2,"two\nlines",neg\n3,  ,pos\n4,fine,neg\n',
    )
    ex = load_table(path, "text", "label")
    assert ex.texts == ["good, really", "two\nlines", "fine"]
    assert ex.labels == ["pos", "neg", "neg"]
    assert [s.rsplit(":", 1)[1] for s in ex.sources] == ["2", "4", "7"]
    assert ex.skipped == 1


def test_csv_without_header_by_index(tmp_path):
    path = _write(tmp_path / "t.csv", "pos,nice\nneg,awful\n")
    ex = load_table(path, 1, 0, header=False)
    assert ex.texts == ["nice", "awful"] and ex.labels == ["pos", "neg"]
    assert load_table(path, "1", "0", header=False).texts == ["nice", "awful"]
    with _raises(path, "text column", "out of range", "2 columns"):
        load_table(path, 5, 0, header=False)
    with _raises(path, "no header", "0-based index"):
        load_table(path, "text", 0, header=False)


def test_table_errors(tmp_path):
    path = _write(tmp_path / "t.csv", "text,label\nnice,pos\nawful\n")
    with _raises(path, "'body'", "not found", "Available columns: text, label"):
        load_table(path, "body", "label")
    with _raises(path, "line 3", "expected 2 fields", "found 1"):
        load_table(path, "text", "label")
    path = _write(tmp_path / "e.csv", "text,label\nnice,pos\nawful, \n")
    with _raises(path, "line 3", "column 'label'", "empty label"):
        load_table(path, "text", "label")
    path = _write(tmp_path / "one.csv", "text,label\nnice,pos\nawful,pos\n")
    with _raises(path, "at least 2"):
        load_table(path, "text", "label")
    path = _write(tmp_path / "w.csv", b"text,label\nnice,pos\nna\xefve,neg\n")
    with _raises(path, "line 3", "column 3", "byte offset 22", "--encoding"):
        load_table(path, "text", "label")
    assert load_table(path, "text", "label", encoding="latin-1").texts[1] == "na\xefve"


def test_tsv_has_no_quote_processing(tmp_path):
    path = _write(
        tmp_path / "t.tsv", 'text\tlabel\r\nHe said "hi\tpos\r\n"unclosed\tneg\r\nplain\tneg\r\n'
    )
    ex = load_table(path, "text", "label")
    assert ex.texts == ['He said "hi', '"unclosed', "plain"]
    assert ex.labels == ["pos", "neg", "neg"]
    assert [s.rsplit(":", 1)[1] for s in ex.sources] == ["2", "3", "4"]
    other = _write(tmp_path / "t.txt", path.read_bytes())
    assert load_table(other, "text", "label", delimiter="\t").texts == ex.texts
    tab = _write(tmp_path / "t.tab", path.read_bytes())
    assert load_table(tab, "text", "label").texts == ex.texts


def test_tsv_row_with_missing_field(tmp_path):
    path = _write(tmp_path / "t.tsv", "text\tlabel\nfine\tpos\nno label here\n")
    with _raises(path, "line 3", "expected 2 fields"):
        load_table(path, "text", "label")


# --- dispatch ------------------------------------------------------------------------------


def test_load_text_source_dispatches(tmp_path):
    folders = _folders(tmp_path / "folders")
    assert load_text_source(folders, encoding=None).class_names == ["neg", "pos"]
    _write(tmp_path / "files" / "r.pos", "a\n")
    _write(tmp_path / "files" / "r.neg", "b\n")
    assert load_text_source(tmp_path / "files").texts == ["b", "a"]
    table = _write(tmp_path / "t.tsv", "t\tl\nx\tp\ny\tn\n")
    ex = load_text_source(str(table), text_column="t", label_column="l", header=True)
    assert ex.labels == ["p", "n"]
    with _raises(table, "needs label_column"):
        load_text_source(table, text_column="t")
    with _raises(tmp_path / "files", "text_column", "do not apply"):
        load_text_source(tmp_path / "files", text_column="t")
    with _raises("synthetic:sentiment", "not read"):
        load_text_source("synthetic:sentiment")
    with _raises(tmp_path / "missing", "no such file or folder"):
        load_text_source(tmp_path / "missing")
    with _raises(tmp_path / "x.json", "not a text source"):
        load_text_source(_write(tmp_path / "x.json", "{}"))


# --- splits --------------------------------------------------------------------------------

LABELS = ["a"] * 40 + ["b"] * 20 + ["c"] * 10


def test_stratified_split_keeps_ratios_and_is_seeded():
    parts = stratified_split(LABELS, seed=3)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [56, 7, 7]
    every = np.concatenate(list(parts.values()))
    assert sorted(every.tolist()) == list(range(len(LABELS)))
    labels = np.array(LABELS)
    for idx in parts.values():
        share = {c: np.mean(labels[idx] == c) for c in "abc"}
        assert share["a"] == pytest.approx(4 / 7, abs=0.1)
        assert share["c"] == pytest.approx(1 / 7, abs=0.1)
    again = stratified_split(LABELS, seed=3)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    other = stratified_split(LABELS, seed=4)
    assert not np.array_equal(parts["test"], other["test"])
    two = stratified_split(LABELS, test_size=0.1, seed=0)
    assert sorted(two) == ["test", "train"] and len(two["test"]) == 7


def test_stratified_split_errors():
    with pytest.raises(SplitError, match="class 'rare' has 2 example.*3 per class"):
        stratified_split(["x"] * 10 + ["rare"] * 2)
    with pytest.raises(SplitError, match="sum to 1"):
        stratified_split(LABELS, fractions=(0.5, 0.2, 0.2))
    with pytest.raises(SplitError, match="seed"):
        stratified_split(LABELS, seed="1")


def test_stratified_kfold():
    folds = stratified_kfold(LABELS, k=5, seed=1)
    tested = np.concatenate([f["test"] for f in folds])
    assert sorted(tested.tolist()) == list(range(len(LABELS)))
    labels = np.array(LABELS)
    for f in folds:
        assert not set(f["train"]) & set(f["test"])
        assert [np.sum(labels[f["test"]] == c) for c in "abc"] == [8, 4, 2]
    again = stratified_kfold(LABELS, k=5, seed=1)
    assert all(np.array_equal(f["test"], g["test"]) for f, g in zip(folds, again, strict=True))
    with pytest.raises(SplitError, match="class 'c' has 10 example.*11 per class"):
        stratified_kfold(LABELS, k=11)


GROUPS = [g for g in ("ann", "bob", "cy", "dee", "eve") for _ in range(6)]


def _groups_of(idx):
    return {GROUPS[i] for i in idx}


def test_group_split_is_group_disjoint_and_seeded():
    for test_groups in (0.4, 2, ["bob", "eve"], "cy"):
        parts = group_split(GROUPS, test_groups=test_groups, seed=7)
        assert not _groups_of(parts["train"]) & _groups_of(parts["test"])
        assert len(parts["train"]) + len(parts["test"]) == len(GROUPS)
    assert _groups_of(group_split(GROUPS, ["bob", "eve"])["test"]) == {"bob", "eve"}
    a, b = group_split(GROUPS, 0.4, seed=7), group_split(GROUPS, 0.4, seed=7)
    assert np.array_equal(a["test"], b["test"]) and len(_groups_of(a["test"])) == 2
    with pytest.raises(SplitError, match="'zed'"):
        group_split(GROUPS, ["zed"])
    with pytest.raises(SplitError, match="at least 2 groups.*'solo'"):
        group_split(["solo"] * 4)


def test_leave_one_group_out():
    folds = leave_one_group_out(GROUPS)
    assert [f["group"] for f in folds] == ["ann", "bob", "cy", "dee", "eve"]
    for f in folds:
        assert _groups_of(f["test"]) == {f["group"]}
        assert f["group"] not in _groups_of(f["train"])
        assert len(f["train"]) + len(f["test"]) == len(GROUPS)


def test_split_record_is_json():
    labels = [x for x in "ab" for _ in range(15)]
    fold = leave_one_group_out(GROUPS)[1]
    record = split_record(fold, labels, GROUPS, method="logo", include_indices=True)
    record = json.loads(json.dumps(record))
    assert record["params"] == {"group": "bob"} and record["n"] == 30
    assert record["sizes"] == {"train": 24, "test": 6}
    assert record["class_counts"]["test"] == {"a": 6}
    assert record["groups"]["test"] == ["bob"] and "bob" not in record["groups"]["train"]
    assert record["indices"]["test"] == list(range(6, 12))
    parts = stratified_split(LABELS, seed=0)
    record = split_record(parts, LABELS, method="stratified", seed=0, fractions=[0.8, 0.1, 0.1])
    assert json.loads(json.dumps(record))["class_counts"]["val"] == {"a": 4, "b": 2, "c": 1}


# --- label encoding, vectorizer, datasets --------------------------------------------------


def test_encode_labels():
    ids, mapping = encode_labels(["pos", "neg", "pos"])
    assert mapping == {"neg": 0, "pos": 1} and ids.tolist() == [1, 0, 1]
    ids, mapping = encode_labels(["b"], class_names=["b", "a"])
    assert ids.tolist() == [0]
    with pytest.raises(ValueError, match=r"\['z'\]"):
        encode_labels(["z"], class_names=["a", "b"])


def test_vectorizer_adapts_on_train_only():
    train = ["the good film", "the bad film", "good good fun"]
    test = ["zebra film"]
    vectorizer = make_vectorizer(train, max_tokens=50)
    vocabulary = vectorizer.get_vocabulary()
    assert "zebra" not in vocabulary and "good" in vocabulary
    ids = vectorizer(test).numpy()[0].tolist()
    assert ids == [1, vocabulary.index("film")]  # 1 is the OOV id
    fixed = make_vectorizer(train, max_tokens=50, sequence_length=5)
    assert fixed(["good"]).shape == (1, 5)
    with pytest.raises(ValueError, match="max_tokens=1"):
        make_vectorizer(train, max_tokens=1)


def test_text_dataset_batches_and_seeded_shuffle():
    texts = [f"text {i}" for i in range(10)]
    ds = text_dataset(texts, list(range(10)), batch_size=4, shuffle=True, seed=5)

    def order(dataset):
        return [v for _, yb in dataset for v in yb.numpy().tolist()]

    first = order(ds)
    assert sorted(first) == list(range(10)) and first != list(range(10))
    again = text_dataset(texts, list(range(10)), batch_size=4, shuffle=True, seed=5)
    assert order(again) == first
    assert order(ds) != first  # reshuffled every epoch
    x, y = next(iter(ds))
    assert x.dtype.name == "string" and y.dtype.name == "int32" and x.shape == (4,)
    plain = text_dataset(texts, list(range(10)), batch_size=4)
    assert order(plain) == list(range(10))
    with pytest.raises(ValueError, match="one int per text"):
        text_dataset(texts, [0, 1], batch_size=4)


def _padding(dataset):
    total = 0
    for x, _ in dataset:
        counts = token_counts(x).numpy()
        total += int(counts.max() * counts.size - counts.sum())
    return total


def test_bucketing_reduces_padding():
    rng = np.random.default_rng(0)
    lengths = rng.permutation([2] * 48 + [40] * 16)
    texts = [" ".join(["w"] * n) for n in lengths]
    labels = np.zeros(len(texts), dtype=np.int32)
    plain = text_dataset(texts, labels, batch_size=8)
    bucketed = text_dataset(texts, labels, batch_size=8, bucket_boundaries=[5, 20])
    assert sum(int(x.shape[0]) for x, _ in bucketed) == len(texts)
    assert _padding(bucketed) == 0 < _padding(plain)


# --- real data -----------------------------------------------------------------------------


@needs_mr
def test_mr_polarity_one_example_per_line():
    ex = load_class_files([MR / "rt-polarity.pos", MR / "rt-polarity.neg"], encoding="windows-1252")
    assert len(ex) == 10662 and ex.class_counts() == {"neg": 5331, "pos": 5331}
    assert not any("\n" in t for t in ex.texts)
    for name in ("pos", "neg"):
        raw = (MR / f"rt-polarity.{name}").read_bytes()
        lines = [line for line in raw.split(b"\n") if line.strip()]
        assert ex.labels.count(name) == len(lines)
    assert any("\u2026" in t for t in ex.texts)  # a \x85 stayed inside its sentence
    assert load_text_source(MR, encoding="windows-1252").class_counts() == ex.class_counts()
    with _raises("rt-polarity", "line", "byte offset", "--encoding windows-1252"):
        load_text_source(MR)
