"""Reads labelled text from folders, class files and CSV/TSV tables into `TextExamples`.

Three layouts (see the CLI contract, `CLI.md`, "Data sources"), picked by `load_text_source`:

- **Class folders** (`load_class_folders`, the Keras layout): one sub-folder per class, one
  example per `.txt` file. Other files, and hidden files and folders, are ignored.
- **Class files** (`load_class_files`): one example per line; the class is the file suffix
  (`rt-polarity.pos` -> `pos`), or the stem when the suffix is `.txt` or absent (`neg.txt` ->
  `neg`). In a folder that holds files with another suffix than `.txt` (like the MR folder),
  `.txt` files are documentation (README, SOURCE) and ignored; `.md` files always are.
- **Tables** (`load_table`): a `.csv` file is read with the `csv` module (standard quoting,
  quoted fields may span lines); a `.tsv`/`.tab` file, or `delimiter="\\t"`, is read with
  **no quote processing**: every line is one row, split on tabs, so a stray `"` is text.

Rules shared by all readers:

- Files are decoded whole with `encoding`; an undecodable byte is an error naming the file,
  line and byte offset and suggesting `--encoding` (MR needs `windows-1252`). A UTF-8 byte
  order mark is dropped.
- Lines are split on `"\\n"` only (a trailing `"\\r"` is dropped), never with
  `str.splitlines()`, which also splits on `"\\x85"` (an ellipsis in Windows-1252) and others.
- Texts are kept as read. An empty or whitespace-only text (file, line or text field) is
  **skipped and counted** in `TextExamples.skipped`; blank table lines are ignored.
- A class folder or class file with no examples, or fewer than 2 classes, is an error naming
  it. An empty label in a table is an error naming file, line and column.

Every error is a `TextSourceError`, a `ValueError`.

Example:

>>> import pathlib, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "t.tsv").write_text('text\\tlabel\\nHe said "hi\\tpos\\nmeh\\tneg\\n')
>>> ex = load_text_source(root / "t.tsv", text_column="text", label_column="label")
>>> ex.texts, ex.labels, ex.class_names, ex.sources[0].endswith("t.tsv:2")
(['He said "hi', 'meh'], ['pos', 'neg'], ['neg', 'pos'], True)
"""

import collections
import csv
import dataclasses
import pathlib

TABLE_SUFFIXES = (".csv", ".tsv", ".tab")
"""File suffixes `load_text_source` reads as tables (`.tsv` and `.tab` are tab-separated)."""

_DOC_SUFFIXES = frozenset({".md", ".rst"})


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
    """

    texts: list
    labels: list
    class_names: list
    sources: list
    skipped: int = 0

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


def _finish(texts, labels, sources, skipped, where):
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
    texts, labels, sources, skipped = [], [], [], 0
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
            raise TextSourceError(
                f"{folder}: class folder {folder.name!r} has no examples (no non-empty .txt files)"
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
    texts, labels, sources, skipped = [], [], [], 0
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
            raise TextSourceError(f"{path}: class file for class {name!r} has no examples")
    return _finish(texts, labels, sources, skipped, where)


def _column(path, header, width, column, what):
    """The 0-based index of `column` (a name, an int, or digits without a header)."""
    if isinstance(column, str) and header is None and column.strip().isdigit():
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


def _read_table(path, text, delimiter, text_column, label_column, header):
    """Returns (line, text, label) for every row; checks field counts and labels."""
    rows = _rows(text, delimiter)
    names = None
    if header:
        first = next(rows, None)
        if first is None:
            raise TextSourceError(f"{path}: the file is empty (no header row)")
        names = [name.strip() for name in first[1]]
    rows = list(rows)
    if not rows:
        raise TextSourceError(f"{path}: no data rows")
    width = len(names) if names is not None else len(rows[0][1])
    t = _column(path, names, width, text_column, "text column")
    c = _column(path, names, width, label_column, "label column")
    out = []
    for line, fields in rows:
        if len(fields) != width:
            raise TextSourceError(
                f"{path}, line {line}: expected {width} fields "
                f"({'as in the header' if names else 'as in the first row'}), found {len(fields)}"
            )
        label = fields[c].strip()
        if not label:
            where = repr(names[c]) if names else c
            raise TextSourceError(f"{path}, line {line}, column {where}: empty label")
        out.append((line, fields[t], label))
    return out


def load_table(path, text_column, label_column, header=True, encoding="utf-8", delimiter=None):
    """Reads texts and labels from two columns of a CSV or TSV file.

    Args:
        path: the table file.
        text_column: the text column: a name (with `header`) or a 0-based index.
        label_column: the label column, likewise.
        header: whether the first non-blank row holds column names.
        encoding: text encoding of the file.
        delimiter: field separator; default tab for `.tsv`/`.tab`, else comma. A tab means
            TSV: no quote processing.

    Returns:
        `TextExamples`; each source is `"file:line"` (the first line of a multi-line CSV row).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise TextSourceError(f"{path}: no such file")
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    text = decode(path, path.read_bytes(), encoding)
    try:
        rows = _read_table(path, text, delimiter, text_column, label_column, header)
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
    return _finish(texts, labels, sources, skipped, path)


_OPTIONS = {
    "folders": ("encoding",),
    "files": ("encoding",),
    "table": ("text_column", "label_column", "header", "encoding", "delimiter"),
}


def load_text_source(spec, **options):
    """Reads a text source, choosing the reader from what `spec` is.

    A folder with sub-folders -> `load_class_folders`; a folder of files ->
    `load_class_files`; a `.csv`/`.tsv`/`.tab` file -> `load_table`. Options set to `None`
    are ignored (as the CLI passes unset options); an option the reader does not take is an
    error. `synthetic:` and `tfds:` sources are not read here.
    """
    text = str(spec)
    if text.startswith(("synthetic:", "tfds:")):
        raise TextSourceError(
            f"{text}: synthetic: and tfds: sources are not read by load_text_source"
        )
    path = pathlib.Path(spec)
    if path.is_dir():
        has_folders = any(p.is_dir() for p in _visible(path.iterdir()))
        kind = "folders" if has_folders else "files"
    elif path.is_file() and path.suffix.lower() in TABLE_SUFFIXES:
        kind = "table"
    elif path.is_file():
        raise TextSourceError(
            f"{path}: not a text source; expected a folder or a file ending in "
            f"{', '.join(TABLE_SUFFIXES)}"
        )
    else:
        raise TextSourceError(f"{path}: no such file or folder")
    options = {k: v for k, v in options.items() if v is not None}
    extra = sorted(set(options) - set(_OPTIONS[kind]))
    if extra:
        raise TextSourceError(
            f"{path}: option(s) {', '.join(extra)} do not apply to a {kind} source; it takes "
            f"{', '.join(_OPTIONS[kind])}"
        )
    if kind == "folders":
        return load_class_folders(path, **options)
    if kind == "files":
        return load_class_files(path, **options)
    for name in ("text_column", "label_column"):
        if name not in options:
            raise TextSourceError(
                f"{path}: a table source needs {name} (--{name.replace('_', '-')})"
            )
    return load_table(path, **options)
