"""`text_source` formats: `format=`, content detection, fastText, and the checks around them."""

import re
import subprocess
import sys

import pytest

from pipelines.sources import SourceError, load_source
from pipelines.text_source import (
    FORMATS,
    TextExamples,
    TextSourceError,
    load_fasttext,
    load_table,
    load_text_source,
)

# sentiment-labelled-sentences style: `sentence\tlabel`, no header, a comma in the first text
IMDB_LABELLED = (
    "A very, very slow-moving, aimless movie.\t0\n"
    "Not sure who was more lost - the flat characters or the audience.\t0\n"
    "The best scene in the movie was when Gerardo is trying to find a song.\t1\n"
    "Saw the movie today and thought it was a good effort.\t1\n"
    "Loved the casting of Jimmy Buffet as the science teacher.\t1\n"
    "Wasted two hours.\t0\n"
)


def _write(path, data):
    """Writes `data` (str as UTF-8, or bytes) exactly; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _raises(*parts):
    """Context manager: a TextSourceError whose message names every part, in order."""
    return pytest.raises(TextSourceError, match=".*".join(re.escape(str(p)) for p in parts))


def _class_files(root):
    _write(root / "r.pos", "fun\n")
    _write(root / "r.neg", "dull\n")
    return root


# --- FORMATS and format= -------------------------------------------------------------------


def test_formats_constant_and_no_tensorflow_import():
    assert FORMATS == ("csv", "tsv", "lines", "folders", "fasttext")
    code = (
        "import sys, pipelines.text_source as t; "
        "print(t.FORMATS, 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split(")")[-1].split() == ["False", "False"]


def test_format_overrides_the_suffix(tmp_path):
    tabbed = _write(tmp_path / "t.csv", 'text\tlabel\n"a, b\tpos\nc\tneg\n')
    ex = load_text_source(tabbed, format="tsv", text_column="text", label_column="label")
    assert ex.texts == ['"a, b', "c"] and ex.labels == ["pos", "neg"] and ex.detected is None
    quoted = _write(tmp_path / "t.tsv", 'text,label\n"x\ty, z",pos\nw,neg\n')
    ex = load_source(quoted, "text", format="csv", text_column="text", label_column="label")
    assert ex.texts == ["x\ty, z", "w"]
    semi = _write(tmp_path / "s.txt", "text;label\nx;pos\ny;neg\n")
    ex = load_text_source(semi, format="csv", delimiter=";", text_column=0, label_column=1)
    assert ex.texts == ["x", "y"] and ex.labels == ["pos", "neg"]
    with _raises(semi, "'tsv'", "';'"):
        load_text_source(semi, format="tsv", delimiter=";", text_column=0, label_column=1)
    with _raises(semi, "'csv'", "use format 'tsv'"):
        load_text_source(semi, format="csv", delimiter="\t", text_column=0, label_column=1)


def test_format_lines_and_folders(tmp_path):
    files = _class_files(tmp_path / "files")
    assert load_text_source(files, format="lines").class_counts() == {"neg": 1, "pos": 1}
    _write(tmp_path / "folders" / "pos" / "a.txt", "good")
    _write(tmp_path / "folders" / "neg" / "b.txt", "bad")
    _write(tmp_path / "folders" / "loose.neg", "a class file, ignored as folders")
    ex = load_text_source(tmp_path / "folders", format="folders")
    assert ex.texts == ["bad", "good"] and ex.detected is None
    assert load_text_source(tmp_path / "folders").texts == ex.texts  # sub-folders: folders
    with _raises(tmp_path / "folders", "at least 2"):  # as class files: one file, one class
        load_text_source(tmp_path / "folders", format="lines")


def test_format_that_does_not_fit_the_path(tmp_path):
    files = _class_files(tmp_path / "files")
    one = files / "r.pos"
    with _raises(one, "'lines'", "one file holds one class", "pass the folder", files):
        load_text_source(one, format="lines")
    with _raises(one, "'folders'", "this is a file"):
        load_text_source(one, format="folders")
    for name in ("csv", "tsv", "fasttext"):
        with _raises(files, f"'{name}'", "needs a file", "this is a folder"):
            load_text_source(files, format=name)
    with _raises(one, "unknown format 'json'", "csv, tsv, lines, folders, fasttext"):
        load_text_source(one, format="json")
    with _raises(one, "header", "do not apply to a fasttext source"):
        load_text_source(one, format="fasttext", header=False)


# --- fastText ------------------------------------------------------------------------------


def test_fasttext_reads_labels_and_texts(tmp_path):
    text = "__label__pos great film\n\n__label__neg  dull,\tand long\r\n__label__pos   \n"
    path = _write(tmp_path / "train.ft", text)
    ex = load_text_source(path, format="fasttext")
    assert ex.texts == ["great film", "dull,\tand long"]
    assert ex.labels == ["pos", "neg"] and ex.class_names == ["neg", "pos"]
    assert ex.sources == [f"{path}:1", f"{path}:3"] and ex.skipped == 1
    assert ex.detected is None
    detected = load_text_source(_write(tmp_path / "train.txt", text))
    assert detected.texts == ex.texts and detected.labels == ex.labels
    assert detected.detected == (
        f"{tmp_path / 'train.txt'}: detected fastText lines (__label__NAME text); "
        "pass --format to override"
    )


def test_fasttext_errors_name_file_and_line(tmp_path):
    path = _write(tmp_path / "a.ft", "__label__pos ok\n__label__pos __label__neg both\n")
    with _raises(path, "line 2", "several __label__ prefixes"):
        load_fasttext(path)
    path = _write(tmp_path / "b.ft", "__label__pos ok\n\nplain text line\n")
    with _raises(path, "line 3", "no __label__ prefix"):
        load_fasttext(path)
    path = _write(tmp_path / "c.txt", "__label__pos ok\n__label__ nameless\n")
    with _raises(path, "line 2", "empty label"):
        load_text_source(path)
    with _raises(tmp_path / "none.ft", "no such file"):
        load_fasttext(tmp_path / "none.ft")


# --- detection from the content ------------------------------------------------------------


def test_detects_tsv_without_header(tmp_path):
    path = _write(tmp_path / "imdb_labelled.txt", IMDB_LABELLED)
    ex = load_text_source(path)
    assert len(ex) == 6 and ex.texts[0] == "A very, very slow-moving, aimless movie."
    assert ex.labels == ["0", "0", "1", "1", "1", "0"]
    assert ex.sources[0] == f"{path}:1"
    assert ex.detected == (
        f"{path}: detected tab-separated values without a header (2 columns; text column 0, "
        "label column 1 chosen by their values); pass --format to override"
    )
    assert load_source(str(path), "text", header=None).texts == ex.texts
    eaten = load_text_source(path, header=True)  # an explicit header wins over detection
    assert len(eaten) == 5 and eaten.texts[0].startswith("Not sure")
    given = load_text_source(path, text_column=0, label_column=1)
    assert given.texts == ex.texts
    assert given.detected.endswith("without a header (2 columns); pass --format to override")


def test_detects_header_and_label_column_first(tmp_path):
    rows = "great film\tpos\ndull\tneg\nfun, really\tpos\nawful\tneg\n"
    path = _write(tmp_path / "reviews.data", "sentence\tlabel\n" + rows)
    ex = load_text_source(path)
    assert ex.texts == ["great film", "dull", "fun, really", "awful"]
    assert ex.detected == (
        f"{path}: detected tab-separated values with a header (2 columns; text column "
        "'sentence', label column 'label' chosen by their values); pass --format to override"
    )
    flipped = "".join(f"{b}\t{a}\n" for a, b in (line.split("\t") for line in rows.splitlines()))
    path = _write(tmp_path / "flipped", "label\ttext\n" + flipped)
    ex = load_text_source(path)
    assert ex.labels == ["pos", "neg", "pos", "neg"] and ex.texts[2] == "fun, really"
    assert "text column 'text', label column 'label'" in ex.detected
    headerless = _write(tmp_path / "plain", flipped)
    assert load_text_source(headerless).texts == ex.texts
    assert "without a header" in load_text_source(headerless).detected
    data_row = load_text_source(path, header=False, text_column=1, label_column=0)
    assert data_row.texts[0] == "text" and "label" in data_row.labels


def test_header_fallback_when_the_values_do_not_decide(tmp_path):
    rows = (
        "the match went to extra time\tsports\nrates rose again today\tmoney\n"
        "a new phone was shown\ttech\nthe band played late\tmusic\n"
    )
    path = _write(tmp_path / "topics.txt", "text\ttopic\n" + rows)  # 4 labels in 4 rows
    ex = load_text_source(path, text_column=0, label_column=1)
    assert len(ex) == 4 and ex.labels[0] == "sports" and "with a header" in ex.detected
    headerless = _write(tmp_path / "plain.txt", rows)
    ex = load_text_source(headerless, text_column=0, label_column=1)
    assert len(ex) == 4 and "without a header" in ex.detected


def test_detects_csv_and_names_imply_header(tmp_path):
    text = 'id,review,stars\n1,"good, really",5\n2,"two\nlines",1\n3,meh,1\n4,fine,5\n'
    path = _write(tmp_path / "reviews.txt", text)
    ex = load_text_source(path, text_column="review", label_column="stars")
    assert ex.texts == ["good, really", "two\nlines", "meh", "fine"]
    assert ex.labels == ["5", "1", "1", "5"]
    assert ex.detected == (
        f"{path}: detected comma-separated values with a header (3 columns); "
        "pass --format to override"
    )
    by_index = load_text_source(path, text_column="1", label_column="2")  # header detected
    assert by_index.texts == ex.texts
    with _raises(path, "3 columns", "columns: id, review, stars", "--text-column"):
        load_text_source(path)


def test_detection_failures_suggest_format(tmp_path):
    prose = _write(tmp_path / "notes.txt", "one line, with a comma\nanother line\n")
    with _raises(prose, "not a text source", "pass --format", "csv, tsv, lines"):
        load_text_source(prose)
    ragged = _write(tmp_path / "ragged.dat", "a\tpos\nb\tpos\tx\n")
    with _raises(ragged, "tabs", "--format"):
        load_text_source(ragged)
    with _raises(tmp_path / "blank.txt", "the file is empty"):
        load_text_source(_write(tmp_path / "blank.txt", "\n  \n"))
    rows = "".join(f"text {i}\t{'pos' if i % 2 else 'neg'}\n" for i in range(25))
    late = _write(tmp_path / "late.txt", rows + "b\tneg\textra\n")
    with _raises(late, "line 26", "expected 2 fields"):
        load_text_source(late)


# --- columns -------------------------------------------------------------------------------


def test_two_column_defaults_and_their_errors(tmp_path):
    path = _write(tmp_path / "t.csv", "review,sentiment\nnice film,pos\nawful,neg\nok,pos\n")
    ex = load_text_source(path)
    assert ex.texts == ["nice film", "awful", "ok"] and ex.labels == ["pos", "neg", "pos"]
    assert ex.detected == (
        f"{path}: text column 'review', label column 'sentiment' chosen by their values; "
        "pass --text-column and --label-column to override"
    )
    assert load_table(path, "review", "sentiment").detected is None
    tie = _write(tmp_path / "tie.csv", "a,b\nnice,pos\nawful,neg\n")
    with _raises(tie, "cannot tell the text column", "--text-column and --label-column"):
        load_text_source(tie)
    with _raises(path, "needs text_column", "--text-column"):
        load_text_source(path, label_column="sentiment")
    wide = _write(tmp_path / "wide.tsv", "x\tpos\t1\ny\tneg\t2\n")
    with _raises(wide, "3 columns", "no header; 0-based indices 0 to 2", "--label-column"):
        load_table(wide, header=False)


def test_same_text_and_label_column(tmp_path):
    path = _write(tmp_path / "t.csv", "text,label\nnice,pos\nawful,neg\n")
    for text_column, label_column in (("label", "label"), (1, 1), ("label", 1), (0, "text")):
        with _raises(path, "--text-column", "--label-column", "same column", "index"):
            load_table(path, text_column, label_column)
    with _raises(path, "same column ('text', index 0)"):
        load_text_source(path, text_column="text", label_column=0)
    headerless = _write(tmp_path / "h.csv", "nice,pos\nawful,neg\n")
    with _raises(headerless, "'1'", "'1'", "same column (index 1)"):
        load_table(headerless, "1", "1", header=False)


def test_csv_field_over_the_default_size_limit(tmp_path):
    long = "x" * 200_000
    path = _write(tmp_path / "long.csv", f'text,label\n"{long}",pos\nshort,neg\n')
    ex = load_table(path, "text", "label")
    assert len(ex.texts[0]) == 200_000 and ex.texts[1] == "short"


# --- nothing left, empty specs -------------------------------------------------------------


def test_all_texts_empty_is_an_error_for_every_reader(tmp_path):
    folders = tmp_path / "folders"
    _write(folders / "pos" / "a.txt", "  ")
    _write(folders / "neg" / "b.txt", "\n")
    with _raises(folders, "no non-empty texts", "2 empty"):
        load_text_source(folders)
    files = tmp_path / "files"
    _write(files / "r.pos", "\n \n")
    _write(files / "r.neg", " \n")
    with _raises(files, "no non-empty texts", "3 empty"):
        load_text_source(files)
    table = _write(tmp_path / "t.csv", "text,label\n ,pos\n\t,neg\n")
    with _raises(table, "no non-empty texts", "2 empty"):
        load_text_source(table, text_column="text", label_column="label")
    tsv = _write(tmp_path / "t.txt", " \tpos\n \tneg\n  \tneg\n")
    with _raises(tsv, "no non-empty texts", "3 empty"):
        load_text_source(tsv, text_column=0, label_column=1)
    fasttext = _write(tmp_path / "f.ft", "__label__pos\n__label__neg   \n")
    with _raises(fasttext, "no non-empty texts", "2 empty"):
        load_fasttext(fasttext)


def test_empty_spec_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(_class_files(tmp_path))  # the current folder is a readable source
    for spec in ("", "   "):
        with _raises("data source is empty"):
            load_text_source(spec)
        with pytest.raises(SourceError, match="data source is empty"):
            load_source(spec, "text")
    assert issubclass(SourceError, ValueError)
    assert load_text_source(".").class_names == ["neg", "pos"]


def test_text_examples_positional_constructor_keeps_working():
    ex = TextExamples(["a", "b"], ["x", "y"], ["x", "y"], ["f:1", "f:2"], 1)
    assert ex.detected is None and ex.skipped == 1 and len(ex) == 2
