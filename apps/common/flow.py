"""The training flow every classification app shares: plan, holdout, K-fold, baseline.

An app fills in a `ClassifierApp` (its data source, its model fit, its predictions, its
baseline); this module does the rest, the same way for every app:

- `make_plan(app, data, model, run)`: reads the examples, maps labels to ids, makes the
  seeded stratified split (`run.fractions`) or the K folds (`run.cv`, each with a validation
  part carved from its training part), and lets the app prepare what every fit shares.
- `holdout(plan, report)`: one fit, the test part scored once at the end; returns the `Fit`,
  the metrics (with what each score saw) and the split record.
- `cross_validate(plan, report, on_fold)`: one fresh fit per fold, the fold table.
- `baseline(plan)`: the app's non-neural reference on the same split or folds.

Nothing here writes files or prints: `apps.common.run_files` writes, the CLI reports.
"""

import dataclasses
import time

import numpy as np

from apps.common.reports import classification_metrics, mean_std
from pipelines.splits import split_record, stratified_kfold, stratified_split
from pipelines.text import encode_labels

TEST_SAW = "never seen in training or model selection"


@dataclasses.dataclass(eq=False)
class Fit:
    """A trained model and how it got there.

    Attributes:
        model: the trained model to ship (best epoch's weights when validated).
        history: metric name -> per-epoch values (`History.history`).
        best_epoch: the 1-based epoch whose weights were kept.
        epochs_run: epochs trained before stopping.
        seconds: training time.
        val_probabilities: the shipped model's probabilities on the validation part as
            selected, before any part of it was refitted on validation data; `None` to
            score the returned model.
        validation_saw: what the validation part was used for, in words.
        details: app-specific JSON-ready facts (e.g. the n-gram branch, word vectors).
    """

    model: object
    history: dict
    best_epoch: int
    epochs_run: int
    seconds: float
    val_probabilities: object = None
    validation_saw: str = "early stopping (the epoch kept)"
    details: dict = dataclasses.field(default_factory=dict)


class ClassifierApp:
    """What an app fills in for the shared flow (a subclass per app, one instance).

    Attributes:
        name: the app's name (`"sentiment"`), as in `seqapps <name>`.
        baseline_name: what the baseline is, in words.
    """

    name = "app"
    baseline_name = "baseline"

    def load_examples(self, data, seed):
        """The labelled examples of `data` (`.labels`, `.class_names`, `len()`)."""
        raise NotImplementedError

    def subset(self, examples, idx):
        """The inputs of the examples at `idx`, as `fit` and `predict_proba` take them."""
        raise NotImplementedError

    def prepare(self, plan):
        """What every fit of the plan shares (e.g. word vectors); stored as `plan.context`."""
        return None

    def fit(self, plan, parts, seed, report, prefix=""):
        """Trains one model on `parts["train"]`, early-stopping on `parts["val"]`; a `Fit`.

        `parts` maps `"train"`, `"val"` (maybe empty) to `(inputs, ids)`.
        """
        raise NotImplementedError

    def predict_proba(self, model, inputs):
        """Class probabilities `(n, classes)` of `model` on `inputs`."""
        raise NotImplementedError

    def baseline(self, plan, split):
        """The baseline's test metrics on `split` (`classification_metrics` and more)."""
        raise NotImplementedError


@dataclasses.dataclass(eq=False)
class Plan:
    """A run, read and checked: see `make_plan`."""

    app: ClassifierApp
    data: object
    model: object
    run: object
    examples: object
    ids: np.ndarray
    class_names: list
    splits: list
    fold_numbers: list | None
    strategy: object = None
    context: object = None


def holdout_split(labels, fractions, seed):
    """Seeded stratified split: `{"train", ["val",] "test"}` sorted index arrays."""
    return stratified_split(labels, fractions=fractions, seed=seed)


def cv_splits(labels, k, seed, val_fraction):
    """Stratified k-fold, each fold's training part split again into train and `"val"`."""
    labels = np.asarray([str(x) for x in labels])
    folds = []
    for fold in stratified_kfold(labels, k=k, seed=seed):
        if not val_fraction:
            folds.append(fold)
            continue
        inner = stratified_split(labels[fold["train"]], test_size=val_fraction, seed=seed)
        train, val = fold["train"][inner["train"]], fold["train"][inner["test"]]
        folds.append({"train": train, "val": val, "test": fold["test"]})
    return folds


def make_plan(app, data, model, run, strategy=None):
    """Reads the data of `data` and makes the split(s) of `run` (see the module docstring).

    Raises:
        ValueError: bad data or a split the data cannot give (the message names it).
    """
    examples = app.load_examples(data, seed=run.seed)
    ids, mapping = encode_labels(examples.labels, examples.class_names)
    if run.cv:
        folds = cv_splits(examples.labels, run.cv, run.seed, run.val_fraction)
        splits = [folds[n - 1] for n in run.fold_numbers]
    else:
        splits = [holdout_split(examples.labels, run.fractions, run.seed)]
    plan = Plan(app, data, model, run, examples, ids, list(mapping), splits, run.fold_numbers,
                strategy)  # fmt: skip
    plan.context = app.prepare(plan)
    return plan


def _part(plan, split, name):
    idx = split.get(name, np.zeros(0, np.int64))
    return plan.app.subset(plan.examples, idx), plan.ids[idx]


def score(plan, model, part):
    """`classification_metrics` of `model` on `part` (`(inputs, ids)`)."""
    inputs, ids = part
    probabilities = plan.app.predict_proba(model, inputs)
    return classification_metrics(ids, probabilities.argmax(axis=-1), plan.class_names)


def _fit_split(plan, split, seed, report, prefix=""):
    parts = {name: _part(plan, split, name) for name in ("train", "val", "test")}
    fit = plan.app.fit(plan, parts, seed=seed, report=report, prefix=prefix)
    return fit, parts, score(plan, fit.model, parts["test"])


def _validation(plan, fit, val):
    if not len(val[1]):
        return None
    if fit.val_probabilities is None:
        return score(plan, fit.model, val)
    return classification_metrics(val[1], fit.val_probabilities.argmax(axis=-1), plan.class_names)


def holdout(plan, report=None):
    """Trains on the train part, keeps the best epoch on val, scores the test part once.

    Returns:
        `(fit, metrics, record)`: the `Fit`, a JSON-ready metrics dict (`test`,
        `validation`, `scores_saw`, `history`, `best_epoch`, ...) and the split record.
    """
    report = report or (lambda line: None)
    (split,) = plan.splits
    sizes = " / ".join(f"{name} {len(split.get(name, ()))}" for name in ("train", "val", "test"))
    report(f"{len(plan.examples)} examples, classes {plan.class_names}; split {sizes} "
           f"(seed {plan.run.seed})")  # fmt: skip
    fit, parts, test = _fit_split(plan, split, plan.run.seed, report)
    metrics = {
        "app": plan.app.name,
        "test": test,
        "accuracy": test["accuracy"],
        "macro_f1": test["macro_f1"],
        "validation": _validation(plan, fit, parts["val"]),
        "scores_saw": {"test": TEST_SAW, "validation": fit.validation_saw},
        "best_epoch": fit.best_epoch,
        "epochs_run": fit.epochs_run,
        "history": fit.history,
        "train_seconds": fit.seconds,
        "parameters": int(fit.model.count_params()),
        **fit.details,
    }
    record = split_record(
        split, plan.examples.labels, method="stratified", seed=plan.run.seed,
        include_indices=True, fractions=list(plan.run.fractions),
    )  # fmt: skip
    return fit, metrics, record


def fold_summary(rows, k):
    """The `cv` dict of fold `rows`: `k`, `folds_run`, `folds`, `mean` and `std`."""
    stats = {key: mean_std(row[key] for row in rows) for key in ("accuracy", "macro_f1")}
    return {
        "k": k,
        "folds_run": [row["fold"] for row in rows],
        "folds": rows,
        "mean": {key: value[0] for key, value in stats.items()},
        "std": {key: value[1] for key, value in stats.items()},
    }


def _fold_row(number, split, test, **extra):
    sizes = {f"n_{name}": len(split.get(name, ())) for name in ("train", "val", "test")}
    return {"fold": number, **sizes, **extra,
            "accuracy": test["accuracy"], "macro_f1": test["macro_f1"]}  # fmt: skip


def cross_validate(plan, report=None, on_fold=None, end_fold=None):
    """K-fold cross-validation: one fresh fit per fold (`plan.fold_numbers`).

    Args:
        plan: from `make_plan` with `run.cv` set.
        report: a callable taking one line of progress.
        on_fold: optional callable `(row, fit, parts)` after every fold.
        end_fold: optional callable after every fold, e.g. to free the fold's model.

    Returns:
        A JSON-ready dict: `cv` (`fold_summary`), `accuracy` and `macro_f1` (means),
        per-fold metrics and histories (`folds`) and the folds' split records (`splits`).
    """
    report = report or (lambda line: None)
    run = plan.run
    report(f"{len(plan.examples)} examples, classes {plan.class_names}; {run.cv}-fold CV")
    rows, details, records = [], [], []
    for number, split in zip(plan.fold_numbers, plan.splits, strict=True):
        prefix = f"fold {number}/{run.cv}: "
        fit, parts, test = _fit_split(plan, split, run.seed + number, report, prefix)
        row = _fold_row(number, split, test, best_epoch=fit.best_epoch,
                        seconds=round(fit.seconds, 1))  # fmt: skip
        rows.append(row)
        details.append({"fold": number, "test": test, "history": fit.history, **fit.details})
        records.append(split_record(split, plan.examples.labels, method="kfold", seed=run.seed,
                                    k=run.cv, fold=number))  # fmt: skip
        if on_fold is not None:
            on_fold(row, fit, parts)
        if end_fold is not None:
            end_fold()
    cv = fold_summary(rows, run.cv)
    return {"app": plan.app.name, "cv": cv, "accuracy": cv["mean"]["accuracy"],
            "macro_f1": cv["mean"]["macro_f1"], "folds": details, "splits": records}  # fmt: skip


def baseline(plan):
    """The app's baseline on the plan's split or folds, scored like the model.

    Returns:
        Holdout: `split` sizes, `test` metrics, `accuracy`, `macro_f1`. CV: `cv`
        (`fold_summary`, with the baseline's own columns), `accuracy`, `macro_f1`, `folds`.
    """
    base = {"app": plan.app.name, "seed": plan.run.seed}
    if not plan.run.cv:
        (split,) = plan.splits
        test = plan.app.baseline(plan, split)
        sizes = {f"n_{name}": len(split.get(name, ())) for name in ("train", "val", "test")}
        return {**base, "split": sizes, "test": test, "accuracy": test["accuracy"],
                "macro_f1": test["macro_f1"]}  # fmt: skip
    rows, details = [], []
    for number, split in zip(plan.fold_numbers, plan.splits, strict=True):
        start = time.perf_counter()
        test = plan.app.baseline(plan, split)
        extra = {key: test[key] for key in test.get("table_columns", ())}
        rows.append(_fold_row(number, split, test, **extra,
                              seconds=round(time.perf_counter() - start, 1)))  # fmt: skip
        details.append({"fold": number, "test": test})
    cv = fold_summary(rows, plan.run.cv)
    return {**base, "cv": cv, "accuracy": cv["mean"]["accuracy"],
            "macro_f1": cv["mean"]["macro_f1"], "folds": details}  # fmt: skip
