"""The classical reference: TF-IDF (1-2 grams) + logistic regression (scikit-learn).

It sees the same split as `train` (the shared flow's `apps.common.flow.baseline`, same
seed) and uses it the same way: the validation part selects the inverse regularisation strength `C`
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

from apps.common.reports import classification_metrics
from apps.sentiment.data import take

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
        `classification_metrics` of the test part, plus `C`, `seconds` and `table_columns`
        (the extra column of the fold table, `["C"]`).
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
    result.update(C=c, seconds=time.perf_counter() - start, table_columns=["C"])
    return result


def _train_part(split):
    parts = [split["train"]] + ([split["val"]] if "val" in split else [])
    return np.sort(np.concatenate(parts))
