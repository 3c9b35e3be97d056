"""Reading `--data SRC` and splitting it: the one split `train` and `baseline` share.

- `load_examples(data_config, seed)`: `pipelines.sources.load_source(..., "text")` with the
  options that apply, and `--limit` as a seeded stratified sample for file sources.
- `holdout_split(labels, fractions, seed)`: seeded stratified train/val/test index arrays.
- `cv_splits(labels, k, seed, val_fraction)`: stratified k-fold; each fold's training part
  split again (stratified, seeded) into train and a validation part for early stopping.

The same labels, fractions / k and seed give the same indices, so `train` and `baseline`
with the same `--seed` see the same test examples.

Example:

>>> labels = ["neg", "pos"] * 10
>>> parts = holdout_split(labels, (0.8, 0.1, 0.1), seed=0)
>>> {name: len(idx) for name, idx in parts.items()}
{'train': 16, 'val': 2, 'test': 2}
>>> folds = cv_splits(labels, k=5, seed=0, val_fraction=0.25)
>>> len(folds), {name: len(idx) for name, idx in folds[0].items()}
(5, {'train': 12, 'val': 4, 'test': 4})
"""

import numpy as np

from pipelines.sources import load_source
from pipelines.splits import stratified_kfold, stratified_split
from pipelines.text_source import TextExamples


def source_options(data_config):
    """The keyword options `load_source` gets for `data_config` (unset ones left out)."""
    kind = data_config.kind
    options = {}
    if kind == "synthetic":
        options = {"n": data_config.limit, "seed": data_config.data_seed}
    elif kind == "tfds":
        options = {"max_examples": data_config.limit}
    options.update(
        text_column=data_config.text_column,
        label_column=data_config.label_column,
        header=None if data_config.header else False,
        encoding=data_config.encoding,
    )
    return {key: value for key, value in options.items() if value is not None}


def load_examples(data_config, seed=0):
    """Reads the labelled texts of `data_config` (a `DataConfig`).

    Args:
        data_config: the source and its options.
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
    return TextExamples(
        [data.texts[i] for i in idx],
        [data.labels[i] for i in idx],
        data.class_names,
        [data.sources[i] for i in idx],
        data.skipped,
    )


def holdout_split(labels, fractions=(0.8, 0.1, 0.1), seed=0):
    """Seeded stratified split: `{"train", ["val",] "test"}` sorted index arrays."""
    return stratified_split(labels, fractions=fractions, seed=seed)


def cv_splits(labels, k=10, seed=0, val_fraction=0.1):
    """Stratified k-fold with a validation part carved out of every fold's training part.

    Returns:
        A list of `k` dicts `{"train", ["val",] "test"}` of sorted index arrays into
        `labels`; the test parts cover every example once. Without `val_fraction` there is
        no `"val"`.
    """
    labels = np.asarray([str(x) for x in labels])
    folds = []
    for fold in stratified_kfold(labels, k=k, seed=seed):
        if not val_fraction:
            folds.append(fold)
            continue
        inner = stratified_split(labels[fold["train"]], test_size=val_fraction, seed=seed)
        folds.append(
            {
                "train": fold["train"][inner["train"]],
                "val": fold["train"][inner["test"]],
                "test": fold["test"],
            }
        )
    return folds


def take(items, idx):
    """`[items[i] for i in idx]`."""
    return [items[int(i)] for i in idx]
