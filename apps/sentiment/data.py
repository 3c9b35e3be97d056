"""Reading `--data SRC` into labelled texts (`load_examples`), the same way for every command.

- `load_examples(data_config, seed)`: `pipelines.sources.load_source(..., "text")` with the
  options of a `TextDataConfig` that apply, and `--limit` as a seeded stratified sample for
  file sources. A source whose format was detected from its content says so in
  `TextExamples.detected` (the CLI prints that line).
- `take(items, idx)`: `[items[i] for i in idx]`.

The split itself is the shared flow's (`apps.common.flow`): the same labels, fractions or
folds and seed give the same indices, so `train` and `baseline` see the same test examples.

Example:

>>> from apps.sentiment.config import TextDataConfig
>>> examples = load_examples(TextDataConfig("synthetic:sentiment", limit=20))
>>> len(examples), examples.class_names
(20, ['negative', 'positive'])
"""

import dataclasses

from pipelines.sources import load_source
from pipelines.splits import stratified_split


def source_options(data_config):
    """The keyword options `load_source` gets for `data_config` (unset ones left out)."""
    kind = data_config.kind
    options = {}
    if kind == "synthetic":
        options = {"n": data_config.limit, "seed": data_config.data_seed}
    elif kind == "tfds":
        options = {"max_examples": data_config.limit, "download": data_config.download or None}
    options.update(
        text_column=data_config.text_column,
        label_column=data_config.label_column,
        header=data_config.header,
        encoding=data_config.encoding,
        format=data_config.format,
    )
    return {key: value for key, value in options.items() if value is not None}


def load_examples(data_config, seed=0):
    """Reads the labelled texts of `data_config` (a `DataConfig`).

    Args:
        data_config: a `TextDataConfig`: the source and its options.
        seed: seed of the `limit` sample of a file source.

    Returns:
        `TextExamples`.

    Raises:
        ValueError: the source cannot be read (the message names file, line, column or option).
    """
    data = load_source(data_config.source, "text", **source_options(data_config))
    if data_config.kind != "path" or not data_config.limit or data_config.limit >= len(data):
        return data
    keep = stratified_split(data.labels, test_size=data_config.limit / len(data), seed=seed)
    idx = keep["test"]
    return dataclasses.replace(
        data, texts=take(data.texts, idx), labels=take(data.labels, idx),
        sources=take(data.sources, idx),
    )  # fmt: skip


def take(items, idx):
    """`[items[i] for i in idx]`."""
    return [items[int(i)] for i in idx]
