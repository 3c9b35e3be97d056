"""Reads labelled text from folders, class files, CSV/TSV tables and fastText files.

Five formats (`FORMATS`; see the CLI contract, `CLI.md`, "Data sources"), picked by
`load_text_source` from `format` (the CLI's `--format`), else from what the path is:

- **folders** (`load_class_folders`, the Keras layout): one sub-folder per class, one
  example per `.txt` file. Other files, and hidden files and folders, are ignored.
- **lines** (`load_class_files`): one example per line; the class is the file suffix
  (`rt-polarity.pos` -> `pos`), or the stem when the suffix is `.txt` or absent (`neg.txt` ->
  `neg`). In a folder that holds files with another suffix than `.txt` (like the MR folder),
  `.txt` files are documentation (README, SOURCE) and ignored; `.md` files always are. One
  such file holds one class, so this format takes the folder, never a single file.
- **csv**, **tsv** (`load_table`): a `.csv` file is read with the `csv` module (standard
  quoting, quoted fields may span lines, no limit on a field's size); a `.tsv`/`.tab` file,
  or `delimiter="\\t"`, is read with **no quote processing**: every line is one row, split on
  tabs, so a stray `"` is text.
- **fasttext** (`load_fasttext`): one example per line, `__label__NAME text...`. A line
  without the prefix, with several `__label__` prefixes (multi-label) or an empty name is an
  error naming file and line.

Without `format`: a folder with sub-folders is `folders`, another folder `lines`; a file
ending in `.csv`, `.tsv` or `.tab` is that table; a `delimiter` makes any file a table (tab:
tsv, else csv). **Any other file** (`.txt`, `.data`, no suffix, ...) is **detected from its
content**: `__label__` at the start of the first non-blank line -> fasttext; else the first
20 non-blank lines all holding the same number (>= 1) of tabs -> tsv, else all parsing (csv
quoting) into the same number (>= 2) of comma-separated fields -> csv; else an error
suggesting `--format`. The result says what was detected in `TextExamples.detected`, one
line for the CLI to print (`"data.txt: detected tab-separated values without a header (2
columns; text column 0, label column 1 chosen by their values); pass --format to override"`).

Table header and columns:

- `header=None` (what `load_text_source` uses when unset, for a detected file) means
  "detect": a column name given for `text_column`/`label_column` means a header; else the
  first row is a header when it does not fit the columns below it, by votes per column:
  the later values are all numbers and the first is not (header) or is (none); the later
  values are few distinct short strings (labels) and the first is not among them (header)
  or is (none). A tie falls back to: the first row is all name-like words (`sentence`,
  `label_id`) while most of some column's later values are not. An explicit `header` wins.
  For a file named `.csv`/`.tsv`/`.tab`, or one read with an explicit `format`, `header`
  defaults to True (`--no-header` says otherwise).
- Without `text_column` and `label_column`, a 2-column table defaults them: the label
  column is the one whose values are few distinct short strings (at most 40 characters, at
  most half as many distinct values as rows, or 2); when both are, the one with fewer
  distinct values; when that does not decide, an error asking for `--text-column` and
  `--label-column`. Any other width needs both; one without the other is an error.
- A column is a name (with a header) or a 0-based index: an int, or digits that name no
  header column. The same column for text and label is an error naming both options.

Rules shared by all readers:

- Files are decoded whole with `encoding`; an undecodable byte is an error naming the file,
  line and byte offset and suggesting `--encoding` (MR needs `windows-1252`). A UTF-8 byte
  order mark is dropped.
- Lines are split on `"\\n"` only (a trailing `"\\r"` is dropped), never with
  `str.splitlines()`, which also splits on `"\\x85"` (an ellipsis in Windows-1252) and others.
- Texts are kept as read (a fastText text starts after the whitespace that follows its
  label). An empty or whitespace-only text (file, line or text field) is **skipped and
  counted** in `TextExamples.skipped`; blank table and fastText lines are ignored. When
  every text is empty, that is an error ("no non-empty texts") naming the source.
- A class folder or class file with no examples, or fewer than 2 classes, is an error naming
  it. An empty label in a table is an error naming file, line and column.
- An empty data source (`""`) is an error, not the current folder.

Every error is a `TextSourceError`, a `ValueError`. This module imports no TensorFlow (the
CLI imports `FORMATS` for its `--format` choices).

Example:

>>> import pathlib, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "t.tsv").write_text('text\\tlabel\\nHe said "hi\\tpos\\nmeh\\tneg\\n')
>>> ex = load_text_source(root / "t.tsv", text_column="text", label_column="label")
>>> ex.texts, ex.labels, ex.class_names, ex.sources[0].endswith("t.tsv:2")
(['He said "hi', 'meh'], ['pos', 'neg'], ['neg', 'pos'], True)
>>> _ = (root / "d.txt").write_text("great film\\t1\\ndull\\t0\\nfun\\t1\\n")
>>> ex = load_text_source(root / "d.txt")
>>> ex.texts, ex.labels, "tab-separated values without a header" in ex.detected
(['great film', 'dull', 'fun'], ['1', '0', '1'], True)
"""

import collections
import csv
import dataclasses
import itertools
import pathlib
import re
import sys

FORMATS = ("csv", "tsv", "lines", "folders", "fasttext")
"""The formats `load_text_source(format=...)` reads (the CLI's `--format` choices)."""

TABLE_SUFFIXES = (".csv", ".tsv", ".tab")
"""File suffixes `load_text_source` reads as tables (`.tsv` and `.tab` are tab-separated)."""

_SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv"}
_DOC_SUFFIXES = frozenset({".md", ".rst"})
_SNIFF_LINES = 20
_LABEL_CHARS = 40
_FASTTEXT_LABEL = re.compile(r"\s*__label__(\S*)")
_FASTTEXT_MORE = re.compile(r"(?:^|\s)__label__")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,39}")


def _raise_field_size_limit():
    """Sets the csv module's field size limit to the largest the platform accepts."""
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return limit
        except OverflowError:
            limit //= 2


_raise_field_size_limit()  # a CSV field (a long review) may exceed the default 131072 chars


class TextSourceError(ValueError):
    """A text source that cannot be read as asked; the message names file, line, column."""


@dataclasses.dataclass(frozen=True, eq=False)
class TextExamples:
    """Labelled texts read from a source.

    Attributes:
        texts: the example texts.
        labels: the class name of every example (strings).
        class_names: the sorted distinct class names.
        sources: where every example comes from, `"file:line"`.
        skipped: number of empty or whitespace-only texts skipped.
        detected: `None`, or one human-readable line saying what was detected rather than
            given (format, header, text and label columns) and how to override it; the CLI
            prints it on stderr.
    """

    texts: list
    labels: list
    class_names: list
    sources: list
    skipped: int = 0
    detected: str | None = None

    def __len__(self):
        return len(self.texts)

    def class_counts(self):
        """Number of examples per class, as a dict in `class_names` order."""
        counts = collections.Counter(self.labels)
        return {name: counts[name] for name in self.class_names}


def decode(path, data, encoding):
    """Decodes `data` read from `path`; raises `TextSourceError` naming line and byte offset."""
    try:
        text = data.decode(encoding)
    except LookupError:
        raise TextSourceError(
            f"{path}: unknown encoding. Received: encoding={encoding!r}"
        ) from None
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise TextSourceError(
            f"{path}, line {line}, column {column} (byte offset {e.start}): cannot decode byte "
            f"0x{data[e.start]:02x} as {encoding}; pass the file's encoding with --encoding "
            "(e.g. --encoding windows-1252 for the MR rt-polarity files)"
        ) from None
    return text.removeprefix("\ufeff")


def split_lines(text):
    """Splits on `"\\n"` only, drops one trailing `"\\r"` per line and the empty final piece."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _visible(paths):
    return sorted(p for p in paths if not p.name.startswith("."))


def _require_texts(texts, skipped, where):
    if not texts:
        raise TextSourceError(
            f"{where}: no non-empty texts ({skipped} empty or whitespace-only text(s) skipped)"
        )


def _finish(texts, labels, sources, skipped, where):
    _require_texts(texts, skipped, where)
    class_names = sorted(set(labels))
    if len(class_names) < 2:
        raise TextSourceError(
            f"{where}: found {len(class_names)} class(es) {class_names}; at least 2 are needed"
        )
    return TextExamples(texts, labels, class_names, sources, skipped)


def load_class_folders(root, encoding="utf-8"):
    """Reads one example per `.txt` file from one sub-folder per class (the Keras layout).

    Args:
        root: the folder holding one sub-folder per class.
        encoding: text encoding of the files.

    Returns:
        `TextExamples`; each source is `"file:1"`.
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise TextSourceError(f"{root}: no such folder")
    folders = [p for p in _visible(root.iterdir()) if p.is_dir()]
    if not folders:
        raise TextSourceError(f"{root}: no class sub-folders")
    texts, labels, sources, skipped, empty = [], [], [], 0, []
    for folder in folders:
        count = 0
        for path in _visible(folder.glob("*.txt")):
            text = decode(path, path.read_bytes(), encoding)
            if not text.strip():
                skipped += 1
                continue
            texts.append(text)
            labels.append(folder.name)
            sources.append(f"{path}:1")
            count += 1
        if count == 0:
            empty.append(folder)
    if skipped:
        _require_texts(texts, skipped, root)
    if empty:
        raise TextSourceError(
            f"{empty[0]}: class folder {empty[0].name!r} has no examples (no non-empty .txt files)"
        )
    return _finish(texts, labels, sources, skipped, root)


def class_of_file(path):
    """The class a class file holds: its suffix, or its stem for `.txt` or no suffix."""
    path = pathlib.Path(path)
    if path.suffix and path.suffix.lower() != ".txt":
        return path.suffix[1:]
    return path.stem


def _class_files_in(root):
    files = [p for p in _visible(root.iterdir()) if p.is_file()]
    files = [p for p in files if p.suffix.lower() not in _DOC_SUFFIXES]
    suffixed = [p for p in files if p.suffix and p.suffix.lower() != ".txt"]
    return suffixed or files


def load_class_files(root_or_files, encoding="utf-8"):
    """Reads one example per line from one file per class (class = suffix, or stem).

    Args:
        root_or_files: a folder (its class files are picked as the module docstring says)
            or a list of files.
        encoding: text encoding of the files (`"windows-1252"` for MR).

    Returns:
        `TextExamples`; each source is `"file:line"` (1-based, counting skipped lines).
    """
    if isinstance(root_or_files, (str, pathlib.Path)):
        root = pathlib.Path(root_or_files)
        if not root.is_dir():
            raise TextSourceError(f"{root}: no such folder")
        files, where = _class_files_in(root), root
    else:
        files = [pathlib.Path(p) for p in root_or_files]
        where = ", ".join(str(p) for p in files) or "(no files)"
    if not files:
        raise TextSourceError(f"{where}: no class files")
    texts, labels, sources, skipped, empty = [], [], [], 0, []
    for path in files:
        if not path.is_file():
            raise TextSourceError(f"{path}: no such file")
        name, count = class_of_file(path), 0
        for number, line in enumerate(split_lines(decode(path, path.read_bytes(), encoding)), 1):
            if not line.strip():
                skipped += 1
                continue
            texts.append(line)
            labels.append(name)
            sources.append(f"{path}:{number}")
            count += 1
        if count == 0:
            empty.append((path, name))
    if skipped:
        _require_texts(texts, skipped, where)
    if empty:
        raise TextSourceError(
            f"{empty[0][0]}: class file for class {empty[0][1]!r} has no examples"
        )
    return _finish(texts, labels, sources, skipped, where)


def _fasttext_line(path, number, line):
    """(label, text) of one non-blank fastText line."""
    match = _FASTTEXT_LABEL.match(line)
    if match is None:
        raise TextSourceError(
            f"{path}, line {number}: no __label__ prefix; every line of a fastText file starts "
            "with __label__NAME (pass another --format if this is not a fastText file)"
        )
    if not match.group(1):
        raise TextSourceError(f"{path}, line {number}: empty label (__label__ with no name)")
    body = line[match.end() :].lstrip()
    if _FASTTEXT_MORE.search(body):
        raise TextSourceError(
            f"{path}, line {number}: several __label__ prefixes; multi-label lines are not "
            "supported, give each line one __label__NAME"
        )
    return match.group(1), body


def _read_fasttext(path, text):
    texts, labels, sources, skipped = [], [], [], 0
    for number, line in enumerate(split_lines(text), 1):
        if not line.strip():
            continue
        label, body = _fasttext_line(path, number, line)
        if not body.strip():
            skipped += 1
            continue
        texts.append(body)
        labels.append(label)
        sources.append(f"{path}:{number}")
    return _finish(texts, labels, sources, skipped, path)


def load_fasttext(path, encoding="utf-8"):
    """Reads one example per line, `__label__NAME text...` (the fastText format).

    Args:
        path: the file.
        encoding: text encoding of the file.

    Returns:
        `TextExamples`; each source is `"file:line"`; the labels are the names without
        `__label__`.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise TextSourceError(f"{path}: no such file")
    return _read_fasttext(path, decode(path, path.read_bytes(), encoding))


def _column(path, header, width, column, what):
    """The 0-based index of `column` (a name, an int, or digits that name no header column)."""
    if isinstance(column, str) and column.strip().isdigit() and column not in (header or ()):
        column = int(column)
    if isinstance(column, bool) or not isinstance(column, (int, str)):
        raise TextSourceError(
            f"{path}: {what} must be a name or a 0-based index. Received: {column!r}"
        )
    if isinstance(column, int):
        if not 0 <= column < width:
            raise TextSourceError(
                f"{path}: {what} index {column} is out of range; the file has {width} columns"
            )
        return column
    if header is None:
        raise TextSourceError(
            f"{path}: {what} {column!r} is a name but the file has no header; give a 0-based index"
        )
    if column not in header:
        raise TextSourceError(
            f"{path}: {what} {column!r} not found. Available columns: {', '.join(header)}"
        )
    return header.index(column)


def _rows(text, delimiter):
    """Yields (first line number, fields) of the non-blank rows."""
    lines = split_lines(text)
    if delimiter == "\t":  # TSV: no quote processing at all
        for number, line in enumerate(lines, 1):
            if line.strip():
                yield number, line.split("\t")
        return
    reader = csv.reader((line + "\n" for line in lines), delimiter=delimiter)
    start = 1
    for fields in reader:
        if fields and any(f.strip() for f in fields):
            yield start, fields
        start = reader.line_num + 1


def _vote(name, values):
    """+1: `name` does not fit the column's `values` (a header); -1: it does; 0: no idea."""
    if all(_NUMBER.fullmatch(v) for v in values):
        return -1 if _NUMBER.fullmatch(name) else 1
    distinct = set(values)
    if 2 <= len(distinct) <= len(values) // 2 and max(map(len, distinct)) <= _LABEL_CHARS:
        return -1 if name in distinct else 1
    return 0


def _guess_header(rows):
    """Whether the first of `rows` looks like column names (see the module docstring)."""
    first = [field.strip() for field in rows[0][1]]
    later = [fields for _, fields in rows[1:] if len(fields) == len(first)]
    if not later:
        return False
    votes, prose_below = 0, False
    for i, name in enumerate(first):
        values = [fields[i].strip() for fields in later]
        votes += _vote(name, values)
        prose_below |= 2 * sum(bool(_NAME.fullmatch(v)) for v in values) < len(values)
    if votes:
        return votes > 0
    return prose_below and all(_NAME.fullmatch(name) for name in first)


def _label_like(values):
    distinct = set(values)
    few = len(distinct) <= max(2, len(values) // 2)
    return bool(distinct) and few and max(map(len, distinct)) <= _LABEL_CHARS


def _listing(names, width):
    if names:
        return f"columns: {', '.join(names)}"
    return f"no header; 0-based indices 0 to {width - 1}"


def _default_columns(path, names, rows, width):
    """(text, label) indices of a 2-column table: the label column holds few short values."""
    if width != 2:
        raise TextSourceError(
            f"{path}: the file has {width} columns ({_listing(names, width)}); pass "
            "--text-column and --label-column"
        )
    values = [[fields[i].strip() for _, fields in rows if len(fields) == width] for i in (0, 1)]
    likely = [i for i in (0, 1) if _label_like(values[i])]
    if len(likely) == 2:
        counts = [len(set(v)) for v in values]
        likely = [] if counts[0] == counts[1] else [counts.index(min(counts))]
    if len(likely) != 1:
        raise TextSourceError(
            f"{path}: cannot tell the text column from the label column of its 2 columns "
            f"({_listing(names, width)}); pass --text-column and --label-column"
        )
    return 1 - likely[0], likely[0]


def _resolve_columns(path, names, rows, width, columns):
    """(text index, label index, whether they were chosen by their values)."""
    text_column, label_column = columns
    if text_column is None and label_column is None:
        return (*_default_columns(path, names, rows, width), True)
    for name, value in (("text_column", text_column), ("label_column", label_column)):
        if value is None:
            raise TextSourceError(
                f"{path}: a table source needs {name} (--{name.replace('_', '-')}); give both "
                "columns, or neither for a 2-column file"
            )
    t = _column(path, names, width, text_column, "text column")
    c = _column(path, names, width, label_column, "label column")
    if t == c:
        column = f"{names[t]!r}, index {t}" if names else f"index {t}"
        raise TextSourceError(
            f"{path}: --text-column {text_column!r} and --label-column {label_column!r} are "
            f"the same column ({column}); give two different columns"
        )
    return t, c, False


def _label(path, line, fields, width, names, c):
    """The stripped label of one row; checks the row's field count."""
    if len(fields) != width:
        raise TextSourceError(
            f"{path}, line {line}: expected {width} fields "
            f"({'as in the header' if names else 'as in the first row'}), found {len(fields)}"
        )
    label = fields[c].strip()
    if not label:
        where = repr(names[c]) if names else c
        raise TextSourceError(f"{path}, line {line}, column {where}: empty label")
    return label


_Layout = collections.namedtuple("_Layout", "header width names text label chosen")


def _read_table(path, text, delimiter, columns, header):
    """Returns (line, text, label) for every row, and the table's `_Layout`."""
    rows = list(_rows(text, delimiter))
    if header is None:
        names_given = any(isinstance(c, str) and not c.strip().isdigit() for c in columns)
        header = names_given or (bool(rows) and _guess_header(rows))
    names = None
    if header:
        if not rows:
            raise TextSourceError(f"{path}: the file is empty (no header row)")
        names = [name.strip() for name in rows[0][1]]
        rows = rows[1:]
    if not rows:
        raise TextSourceError(f"{path}: no data rows")
    width = len(names) if names is not None else len(rows[0][1])
    t, c, chosen = _resolve_columns(path, names, rows, width, columns)
    out = [(line, fields[t], _label(path, line, fields, width, names, c)) for line, fields in rows]
    return out, _Layout(bool(header), width, names, t, c, chosen)


def _note(path, layout, what):
    """The `TextExamples.detected` line, or None when nothing was detected."""
    columns = ""
    if layout.chosen:
        show = (lambda i: repr(layout.names[i])) if layout.names else str
        columns = (
            f"text column {show(layout.text)}, label column {show(layout.label)} chosen by "
            "their values"
        )
    if what is None:
        if not columns:
            return None
        return f"{path}: {columns}; pass --text-column and --label-column to override"
    header = "with a header" if layout.header else "without a header"
    detail = f"{layout.width} columns" + (f"; {columns}" if columns else "")
    return f"{path}: detected {what} {header} ({detail}); pass --format to override"


def _table(path, text, delimiter, columns, header, what=None):
    """`TextExamples` of a decoded table; `what` names a format detected from the content."""
    try:
        rows, layout = _read_table(path, text, delimiter, columns, header)
    except csv.Error as e:
        raise TextSourceError(f"{path}: malformed CSV: {e}") from None
    texts, labels, sources, skipped = [], [], [], 0
    for line, body, label in rows:
        if not body.strip():
            skipped += 1
            continue
        texts.append(body)
        labels.append(label)
        sources.append(f"{path}:{line}")
    examples = _finish(texts, labels, sources, skipped, path)
    note = _note(path, layout, what)
    return dataclasses.replace(examples, detected=note) if note else examples


def load_table(
    path, text_column=None, label_column=None, header=True, encoding="utf-8", delimiter=None
):
    """Reads texts and labels from two columns of a CSV or TSV file.

    Args:
        path: the table file.
        text_column: the text column: a name (with `header`) or a 0-based index. With
            `label_column`, may be left out for a 2-column file (chosen by the values).
        label_column: the label column, likewise.
        header: whether the first non-blank row holds column names; `None`: detect it.
        encoding: text encoding of the file.
        delimiter: field separator; default tab for `.tsv`/`.tab`, else comma. A tab means
            TSV: no quote processing.

    Returns:
        `TextExamples`; each source is `"file:line"` (the first line of a multi-line CSV row);
        `detected` says what was detected (header, columns), else `None`.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise TextSourceError(f"{path}: no such file")
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    text = decode(path, path.read_bytes(), encoding)
    return _table(path, text, delimiter, (text_column, label_column), header)


def _same_width_csv(text):
    """Whether the first rows parse (csv quoting) into the same number >= 2 of fields."""
    try:
        widths = {len(f) for _, f in itertools.islice(_rows(text, ","), _SNIFF_LINES)}
    except csv.Error:
        return False
    return len(widths) == 1 and min(widths) >= 2


def _sniff(path, text):
    """(format, description) of a file whose name does not say its format."""
    lines = list(itertools.islice((ln for ln in split_lines(text) if ln.strip()), _SNIFF_LINES))
    if not lines:
        raise TextSourceError(f"{path}: the file is empty")
    if lines[0].lstrip().startswith("__label__"):
        return "fasttext", "fastText lines (__label__NAME text)"
    tabs = {line.count("\t") for line in lines}
    if len(tabs) == 1 and min(tabs) >= 1:
        return "tsv", "tab-separated values"
    if _same_width_csv(text):
        return "csv", "comma-separated values"
    raise TextSourceError(
        f"{path}: not a text source by its name or content (no __label__ "
        f"prefix; the first {len(lines)} non-blank lines do not all hold the same number of "
        f"tabs, or of comma-separated fields); pass --format ({', '.join(FORMATS)}). A file "
        "of one example per line holds one class: pass the folder of class files"
    )


_TABLE_OPTIONS = ("text_column", "label_column", "header", "encoding", "delimiter")
_OPTIONS = {
    "folders": ("encoding",),
    "lines": ("encoding",),
    "fasttext": ("encoding",),
    "csv": _TABLE_OPTIONS,
    "tsv": _TABLE_OPTIONS,
}


def _source_path(spec):
    """The existing file or folder `spec` names."""
    text = str(spec)
    if not text.strip():
        raise TextSourceError(
            "the data source is empty (an empty path); pass a folder or a file, "
            "e.g. --data reviews.csv"
        )
    if text.startswith(("synthetic:", "tfds:")):
        raise TextSourceError(
            f"{text}: synthetic: and tfds: sources are not read by load_text_source"
        )
    path = pathlib.Path(spec)
    if not path.is_dir() and not path.is_file():
        raise TextSourceError(f"{path}: no such file or folder")
    return path


def _check_format(path, format):
    """`format` when it is one of `FORMATS` and fits what `path` is (file or folder)."""
    if format not in FORMATS:
        raise TextSourceError(
            f"{path}: unknown format {format!r} (--format); expected one of {', '.join(FORMATS)}"
        )
    if format == "lines" and path.is_file():
        raise TextSourceError(
            f"{path}: format 'lines' (--format lines) reads one file per class, and one file "
            f"holds one class; pass the folder that holds the class files (e.g. {path.parent})"
        )
    if format == "folders" and not path.is_dir():
        raise TextSourceError(
            f"{path}: format 'folders' (--format folders) needs a folder with one sub-folder "
            "per class; this is a file"
        )
    if format not in ("lines", "folders") and path.is_dir():
        raise TextSourceError(
            f"{path}: format {format!r} (--format {format}) needs a file; this is a folder"
        )
    return format


def _format_of(path, format, delimiter):
    """The format to read `path` as, or `None`: detect it from the file's content."""
    if format is not None:
        return _check_format(path, format)
    if path.is_dir():
        return "folders" if any(p.is_dir() for p in _visible(path.iterdir())) else "lines"
    if delimiter is not None:
        return "tsv" if delimiter == "\t" else "csv"
    return _SUFFIX_FORMATS.get(path.suffix.lower())


def _check_options(path, kind, options):
    extra = sorted(set(options) - set(_OPTIONS[kind]))
    if extra:
        raise TextSourceError(
            f"{path}: option(s) {', '.join(extra)} do not apply to a {kind} source; it takes "
            f"{', '.join(_OPTIONS[kind])}"
        )


def _delimiter(path, kind, delimiter):
    """The delimiter of a `kind` ("csv" or "tsv") table; a contradicting one is an error."""
    if kind == "tsv":
        if delimiter not in (None, "\t"):
            raise TextSourceError(
                f"{path}: format 'tsv' is tab-separated; delimiter {delimiter!r} contradicts "
                "it (use format 'csv' with that delimiter)"
            )
        return "\t"
    if delimiter == "\t":
        raise TextSourceError(
            f"{path}: format 'csv' with delimiter '\\t' contradicts it; use format 'tsv' "
            "(tab-separated, no quote processing)"
        )
    return delimiter or ","


def _read_as(path, kind, options):
    if kind == "folders":
        return load_class_folders(path, **options)
    if kind == "lines":
        return load_class_files(path, **options)
    if kind == "fasttext":
        return load_fasttext(path, **options)
    delimiter = _delimiter(path, kind, options.pop("delimiter", None))
    return load_table(path, delimiter=delimiter, **options)


def _load_detected(path, options):
    """Reads a file whose name does not say its format, detecting it from the content."""
    text = decode(path, path.read_bytes(), options.get("encoding", "utf-8"))
    kind, what = _sniff(path, text)
    _check_options(path, kind, options)
    if kind == "fasttext":
        examples = _read_fasttext(path, text)
        return dataclasses.replace(
            examples, detected=f"{path}: detected {what}; pass --format to override"
        )
    columns = (options.get("text_column"), options.get("label_column"))
    return _table(path, text, "\t" if kind == "tsv" else ",", columns, options.get("header"), what)


def load_text_source(spec, format=None, **options):
    """Reads a text source, choosing the reader from `format` or from what `spec` is.

    Args:
        spec: a folder or file (`synthetic:` and `tfds:` sources are not read here).
        format: one of `FORMATS`, overriding what the path's suffix says; `None`: a folder
            with sub-folders is "folders", another folder "lines", a `.csv`/`.tsv`/`.tab`
            file (or any file with a `delimiter`) that table, any other file is detected
            from its content (with the header, when `header` is unset), as the module
            docstring says.
        **options: the reader's options (`encoding`; for tables `text_column`,
            `label_column`, `header`, `delimiter`). Options set to `None` are ignored (as
            the CLI passes unset options); an option the reader does not take is an error.

    Returns:
        `TextExamples`; `detected` says what was detected, if anything.
    """
    path = _source_path(spec)
    options = {k: v for k, v in options.items() if v is not None}
    kind = _format_of(path, format, options.get("delimiter"))
    if kind is None:
        return _load_detected(path, options)
    _check_options(path, kind, options)
    return _read_as(path, kind, options)
