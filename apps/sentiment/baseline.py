"""The classical reference: TF-IDF (1-2 grams) + logistic regression (scikit-learn).

It sees the same split as `train` (same `apps.sentiment.data` functions, same seed) and
uses it the same way: the validation part selects the inverse regularisation strength `C`
(of `C_GRID`, the one with the best validation accuracy), as it selects `train`'s best
epoch; the model is then refitted with that `C` on every non-test example (train +
validation) and scored on the same test part, or on the same folds with `cv`. Without a
validation part `C` is 1. What the recurrent model scores above it is what word order and
learned embeddings buy.

Example:

>>> texts = ["good fun", "great film", "bad plot", "dull film"] * 5
>>> labels = ["pos", "pos", "neg", "neg"] * 5
>>> model = fit_baseline(texts, labels)
>>> model.predict(["good film", "dull plot"]).tolist()
['pos', 'neg']
"""

import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from apps.common.reports import classification_metrics, mean_std
from apps.sentiment import APP_NAME
from apps.sentiment.data import cv_splits, holdout_split, take

DESCRIPTION = (
    "TF-IDF (word 1-2 grams, sublinear tf) + logistic regression (lbfgs), C chosen on the "
    "validation part"
)

C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
"""Values of `C` the validation part chooses from."""


def _vectorizer():
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)


def _classifier(C, seed):
    return LogisticRegression(C=C, max_iter=1000, random_state=seed)


def fit_baseline(texts, labels, C=1.0, seed=0):
    """A fitted scikit-learn pipeline: TF-IDF 1-2 grams -> logistic regression."""
    model = make_pipeline(_vectorizer(), _classifier(C, seed))
    return model.fit(list(texts), [str(x) for x in labels])


def select_c(texts, labels, split, seed=0):
    """The `C` of `C_GRID` with the best accuracy on `split["val"]` (1.0 without one)."""
    if "val" not in split or not len(split["val"]):
        return 1.0
    vectorizer = _vectorizer()
    train_x = vectorizer.fit_transform(take(texts, split["train"]))
    val_x = vectorizer.transform(take(texts, split["val"]))
    train_y, val_y = take(labels, split["train"]), np.asarray(take(labels, split["val"]))
    scores = []
    for c in C_GRID:
        model = _classifier(c, seed).fit(train_x, train_y)
        scores.append(float(np.mean(model.predict(val_x) == val_y)))
    return C_GRID[int(np.argmax(scores))]  # the smallest C among ties


def score_baseline(texts, labels, split, class_names, seed=0):
    """Selects `C` on the validation part, refits on train + val, scores the test part.

    Runs single-threaded: on these small sparse problems BLAS/OpenMP threads only contend
    (measured 10-25x slower with 2 threads on a busy 2-core machine).

    Returns:
        `classification_metrics` of the test part, plus `C` and `seconds`.
    """
    with threadpool_limits(limits=1):
        return _score_baseline(texts, labels, split, class_names, seed)


def _score_baseline(texts, labels, split, class_names, seed):
    start = time.perf_counter()
    c = select_c(texts, labels, split, seed=seed)
    train_idx = _train_part(split)
    model = fit_baseline(take(texts, train_idx), take(labels, train_idx), C=c, seed=seed)
    predicted = model.predict(take(texts, split["test"]))
    index = {name: i for i, name in enumerate(class_names)}
    result = classification_metrics(
        [index[labels[i]] for i in split["test"]], [index[p] for p in predicted], class_names
    )
    result["C"] = c
    result["seconds"] = time.perf_counter() - start
    return result


def _train_part(split):
    parts = [split["train"]] + ([split["val"]] if "val" in split else [])
    return np.sort(np.concatenate(parts))


def run_baseline(data, fractions=(0.8, 0.1, 0.1), seed=0, cv=None, folds=None, val_fraction=0.1):
    """The baseline on `data` (`TextExamples`), on `train`'s split or its CV folds.

    Args:
        data: the labelled texts.
        fractions: the holdout fractions `train` uses (`TrainConfig.fractions`).
        seed: the split seed (`--seed`).
        cv: number of folds, or `None` for the holdout split.
        folds: with `cv`, the 1-based folds to run (default all).
        val_fraction: `train`'s validation part of each fold (the baseline trains on it too).

    Returns:
        A JSON-ready dict: holdout: `test` metrics, `accuracy`, `macro_f1`, sizes; CV: `cv`
        (`folds` rows, `mean`, `std`), `accuracy` and `macro_f1` (means).
    """
    names = list(data.class_names)
    base = {"app": APP_NAME, "model": DESCRIPTION, "seed": seed}
    if not cv:
        split = holdout_split(data.labels, fractions, seed=seed)
        test = score_baseline(data.texts, data.labels, split, names, seed)
        return {
            **base,
            "split": {
                "n_train": int(split["train"].size),
                "n_val": int(split["val"].size) if "val" in split else 0,
                "n_test": int(split["test"].size),
            },
            "test": test,
            "accuracy": test["accuracy"],
            "macro_f1": test["macro_f1"],
        }
    all_folds = cv_splits(data.labels, k=cv, seed=seed, val_fraction=val_fraction)
    rows, details = [], []
    for number in folds or range(1, cv + 1):
        split = all_folds[number - 1]
        test = score_baseline(data.texts, data.labels, split, names, seed)
        rows.append(
            {
                "fold": number,
                "n_train": int(split["train"].size),
                "n_val": int(split["val"].size) if "val" in split else 0,
                "n_test": int(split["test"].size),
                "C": test["C"],
                "accuracy": test["accuracy"],
                "macro_f1": test["macro_f1"],
                "seconds": round(test["seconds"], 1),
            }
        )
        details.append({"fold": number, "test": test})
    mean = {key: mean_std(r[key] for r in rows)[0] for key in ("accuracy", "macro_f1")}
    std = {key: mean_std(r[key] for r in rows)[1] for key in ("accuracy", "macro_f1")}
    return {
        **base,
        "cv": {
            "k": cv,
            "folds_run": [r["fold"] for r in rows],
            "folds": rows,
            "mean": mean,
            "std": std,
        },
        "accuracy": mean["accuracy"],
        "macro_f1": mean["macro_f1"],
        "folds": details,
    }
