"""Seeded splits of examples into parts: stratified by class, or disjoint by group.

Every function returns index arrays (sorted `int64`) into the examples, so one split serves
texts, labels, groups and any other per-example array alike; shuffling is the dataset's job.

- `stratified_split`: train/val/test (or train/test) with the class ratios of the whole set
  in every part (scikit-learn `StratifiedShuffleSplit`).
- `stratified_kfold`: k folds for cross-validation (`StratifiedKFold(shuffle=True)`), the MR
  protocol (seeded stratified 10-fold).
- `group_split` / `leave_one_group_out`: no group (e.g. a speaker) in two parts
  (`GroupShuffleSplit` / `LeaveOneGroupOut`), the FSDD speaker-independent protocol.
- `split_record`: a JSON-able description of a split to save beside a trained model.

A split that cannot be made (a class with fewer examples than parts, k above the smallest
class, a single group) is a `SplitError` (a `ValueError`) naming the class or group.

Example:

>>> labels = ["a"] * 10 + ["b"] * 10
>>> parts = stratified_split(labels, fractions=(0.8, 0.2), seed=0)
>>> {name: len(idx) for name, idx in parts.items()}
{'train': 16, 'test': 4}
>>> split_record(parts, labels, method="stratified", seed=0)["class_counts"]["test"]
{'a': 2, 'b': 2}
"""

import collections
import math

import numpy as np
from sklearn import model_selection


class SplitError(ValueError):
    """A split that cannot be made as asked; the message names the class or group at fault."""


def _sorted(idx):
    return np.sort(np.asarray(idx, dtype=np.int64))


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise SplitError(f"`seed` must be an integer. Received: seed={seed!r}")
    return int(seed)


def _check_classes(labels, parts, what):
    """Raises if a class has fewer members than `parts`; returns the labels as an array."""
    labels = np.asarray([str(x) for x in labels])
    if labels.size == 0:
        raise SplitError("no examples to split")
    names, counts = np.unique(labels, return_counts=True)
    for name, count in zip(names, counts, strict=True):
        if count < parts:
            raise SplitError(
                f"class {str(name)!r} has {count} example(s); "
                f"{what} needs at least {parts} per class"
            )
    return labels


def _fractions(fractions, test_size):
    if test_size is not None:
        fractions = (1.0 - test_size, test_size)
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) not in (2, 3) or any(not 0 < f < 1 for f in fractions):
        raise SplitError(
            "`fractions` must be 2 or 3 values between 0 and 1 (train, [val,] test). "
            f"Received: fractions={fractions!r}"
        )
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise SplitError(f"`fractions` must sum to 1. Received: fractions={fractions!r}")
    return fractions


def _shuffle_split(labels, idx, n_cut, seed, what):
    if n_cut < 1:
        raise SplitError(f"the {what} part would be empty; use a larger fraction or more data")
    splitter = model_selection.StratifiedShuffleSplit(
        n_splits=1, test_size=n_cut, random_state=seed
    )
    try:
        keep, cut = next(splitter.split(np.zeros(len(idx)), labels[idx]))
    except ValueError as e:
        raise SplitError(f"cannot make the {what} part: {e}") from None
    return idx[keep], idx[cut]


def stratified_split(labels, fractions=(0.8, 0.1, 0.1), *, test_size=None, seed=0):
    """Splits indices into train/val/test (or train/test) parts with equal class ratios.

    Args:
        labels: the class of every example.
        fractions: (train, val, test) or (train, test) fractions summing to 1.
        test_size: shorthand for `fractions=(1 - test_size, test_size)`.
        seed: the random seed; the same seed gives the same split.

    Returns:
        A dict `{"train": idx, ["val": idx,] "test": idx}` of sorted index arrays; the val
        and test parts hold `round(fraction * len(labels))` examples each.
    """
    seed = _check_seed(seed)
    fractions = _fractions(fractions, test_size)
    labels = _check_classes(labels, len(fractions), f"a split into {len(fractions)} parts")
    n = labels.size
    rest, test = _shuffle_split(labels, np.arange(n), round(fractions[-1] * n), seed, "test")
    if len(fractions) == 2:
        return {"train": _sorted(rest), "test": _sorted(test)}
    train, val = _shuffle_split(labels, rest, round(fractions[1] * n), seed, "validation")
    return {"train": _sorted(train), "val": _sorted(val), "test": _sorted(test)}


def stratified_kfold(labels, k=10, seed=0):
    """Splits indices into `k` stratified folds; every example is tested exactly once.

    Returns:
        A list of `k` dicts `{"train": idx, "test": idx}`.
    """
    seed = _check_seed(seed)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise SplitError(f"`k` must be an integer >= 2. Received: k={k!r}")
    labels = _check_classes(labels, k, f"stratified {k}-fold cross-validation")
    folds = model_selection.StratifiedKFold(n_splits=int(k), shuffle=True, random_state=seed)
    return [
        {"train": _sorted(train), "test": _sorted(test)}
        for train, test in folds.split(np.zeros(labels.size), labels)
    ]


def _check_groups(groups):
    groups = np.asarray([str(g) for g in groups])
    names = np.unique(groups)
    if names.size < 2:
        raise SplitError(
            f"a group split needs at least 2 groups; found {names.size}: {names.tolist()}"
        )
    return groups, names


def group_split(groups, test_groups=0.2, seed=0):
    """Splits indices into train and test parts that share no group.

    Args:
        groups: the group (e.g. speaker) of every example.
        test_groups: a fraction of the groups (float in (0, 1)), a number of groups (int),
            or the names of the test groups (a string or a list of strings).
        seed: the random seed (unused when groups are named).

    Returns:
        `{"train": idx, "test": idx}`.
    """
    seed = _check_seed(seed)
    groups, names = _check_groups(groups)
    if isinstance(test_groups, str) or (
        not isinstance(test_groups, (bool, float, int, np.number)) and test_groups is not None
    ):
        chosen = [test_groups] if isinstance(test_groups, str) else [str(g) for g in test_groups]
        unknown = sorted(set(chosen) - set(names))
        if unknown or not chosen or len(set(chosen)) == names.size:
            raise SplitError(
                "`test_groups` must name some, not all, of the groups "
                f"{names.tolist()}. Received: test_groups={test_groups!r}"
            )
        test = np.isin(groups, chosen)
        return {"train": _sorted(np.flatnonzero(~test)), "test": _sorted(np.flatnonzero(test))}
    if isinstance(test_groups, bool) or not (
        (isinstance(test_groups, float) and 0 < test_groups < 1)
        or (isinstance(test_groups, (int, np.integer)) and 1 <= test_groups < names.size)
    ):
        raise SplitError(
            "`test_groups` must be a fraction in (0, 1), a count below the number of groups "
            f"({names.size}), or group names. Received: test_groups={test_groups!r}"
        )
    splitter = model_selection.GroupShuffleSplit(
        n_splits=1, test_size=test_groups, random_state=seed
    )
    try:
        train, test = next(splitter.split(np.zeros(groups.size), groups=groups))
    except ValueError as e:
        raise SplitError(f"cannot split {names.size} groups: {e}") from None
    return {"train": _sorted(train), "test": _sorted(test)}


def leave_one_group_out(groups):
    """One fold per group: that group is the test part, every other group trains.

    Returns:
        A list of dicts `{"group": name, "train": idx, "test": idx}`, in sorted group order.
    """
    groups, _ = _check_groups(groups)
    folds = []
    for train, test in model_selection.LeaveOneGroupOut().split(groups, groups=groups):
        folds.append(
            {"group": str(groups[test[0]]), "train": _sorted(train), "test": _sorted(test)}
        )
    return folds


def split_record(
    parts, labels=None, groups=None, *, method, seed=None, include_indices=False, **params
):
    """Describes a split as a JSON-able dict, to save beside a trained model.

    Args:
        parts: a dict of part name -> index array (as the functions above return; a
            `"group"` entry is kept as a parameter).
        labels: the class of every example, for per-class counts (optional).
        groups: the group of every example, for the groups of every part (optional).
        method: a name for how the split was made (e.g. `"stratified"`, `"kfold"`).
        seed: the seed used.
        include_indices: also store every part's indices (lists of ints).
        **params: other settings to record (fractions, k, fold, ...), JSON-able values.

    Returns:
        A dict with `method`, `seed`, `params`, `n`, `sizes`, and where given
        `class_counts`, `groups` and `indices`.
    """
    parts = dict(parts)
    if "group" in parts:
        params["group"] = str(parts.pop("group"))
    parts = {str(name): np.asarray(idx, dtype=np.int64) for name, idx in parts.items()}
    record = {
        "method": str(method),
        "seed": None if seed is None else int(seed),
        "params": params,
        "n": int(sum(idx.size for idx in parts.values())),
        "sizes": {name: int(idx.size) for name, idx in parts.items()},
    }
    if labels is not None:
        labels = np.asarray([str(x) for x in labels])
        record["class_counts"] = {
            name: dict(sorted(collections.Counter(labels[idx].tolist()).items()))
            for name, idx in parts.items()
        }
    if groups is not None:
        groups = np.asarray([str(g) for g in groups])
        record["groups"] = {name: sorted(set(groups[idx].tolist())) for name, idx in parts.items()}
    if include_indices:
        record["indices"] = {name: idx.tolist() for name, idx in parts.items()}
    return record
