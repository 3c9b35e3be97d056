"""Scores a sentiment classifier (training folder or export) on labelled texts.

Example:

>>> import numpy as np
>>> class Always:  # a stand-in classifier that always says "pos"
...     class_names = ["neg", "pos"]
...     def predict_proba(self, texts, batch_size=64):
...         return np.tile([[0.2, 0.8]], (len(texts), 1))
>>> result = evaluate(Always(), ["a", "b"], ["pos", "neg"])
>>> result["accuracy"], result["n"], result["per_class"]["pos"]["recall"]
(0.5, 2, 1.0)
>>> evaluate(Always(), ["a"], ["meh"])
Traceback (most recent call last):
...
ValueError: label(s) 'meh' in the data are not classes of the model; it knows 'neg', 'pos'
"""

from apps.common.reports import classification_metrics


def check_labels(labels, class_names):
    """Raises `ValueError` naming the labels that are not among `class_names`."""
    unknown = sorted(set(map(str, labels)) - set(class_names))
    if unknown:
        raise ValueError(
            f"label(s) {', '.join(map(repr, unknown))} in the data are not classes of the "
            f"model; it knows {', '.join(map(repr, class_names))}"
        )


def evaluate(classifier, texts, labels, batch_size=64):
    """Accuracy, macro-F1, per-class scores and confusion matrix of `classifier`.

    Args:
        classifier: anything with `class_names` and `predict_proba(texts, batch_size)`
            (an `apps.sentiment.predict.Classifier`).
        texts: the texts.
        labels: their true class names.
        batch_size: texts per batch.

    Returns:
        `apps.common.reports.classification_metrics`'s dict (`accuracy`, `macro_f1`, `n`,
        `per_class`, `confusion_matrix`, `class_names`).

    Raises:
        ValueError: a label the model does not know (named).
    """
    names = list(classifier.class_names)
    check_labels(labels, names)
    index = {name: i for i, name in enumerate(names)}
    y_true = [index[str(label)] for label in labels]
    probabilities = classifier.predict_proba(texts, batch_size=batch_size)
    return classification_metrics(y_true, probabilities.argmax(axis=-1), names)
