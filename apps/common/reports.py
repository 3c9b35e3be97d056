"""Reports of a classifier: metrics (scikit-learn), plots (matplotlib), fold tables, JSON.

Plots are drawn on a `matplotlib.figure.Figure` (no `pyplot`, no global state, no display)
and written as PNG.

Example:

>>> m = classification_metrics([0, 1, 1, 0], [0, 1, 0, 0], ["neg", "pos"])
>>> m["accuracy"], m["n"], m["confusion_matrix"]
(0.75, 4, [[2, 0], [1, 1]])
>>> round(m["per_class"]["pos"]["recall"], 2), m["per_class"]["pos"]["support"]
(0.5, 2)
>>> print(format_table([{"fold": 1, "accuracy": 0.75}], ["fold", "accuracy"]))
fold  accuracy
----  --------
1     0.7500
"""

import json
import math
import os
import pathlib
import statistics
import tempfile

import numpy as np
from sklearn import metrics as sk_metrics


def classification_metrics(y_true, y_pred, class_names):
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    Args:
        y_true: true class ids.
        y_pred: predicted class ids.
        class_names: the class names, in id order (every class is reported, seen or not).

    Returns:
        A JSON-ready dict: `accuracy`, `macro_f1`, `n`, `per_class` (class name ->
        `precision`, `recall`, `f1`, `support`), `confusion_matrix` (rows: true class,
        columns: predicted class, in `class_names` order) and `class_names`.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    names = [str(c) for c in class_names]
    ids = list(range(len(names)))
    if y_true.size == 0:
        raise ValueError("no examples to score")
    precision, recall, f1, support = sk_metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=ids, zero_division=0
    )
    return {
        "accuracy": float(sk_metrics.accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            sk_metrics.f1_score(y_true, y_pred, labels=ids, average="macro", zero_division=0)
        ),
        "n": int(y_true.size),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
        "confusion_matrix": sk_metrics.confusion_matrix(y_true, y_pred, labels=ids).tolist(),
        "class_names": names,
    }


def mean_std(values):
    """`(mean, sample standard deviation)` of `values` (std 0 for a single value)."""
    values = [float(v) for v in values]
    if not values:
        return float("nan"), float("nan")
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), std


def _cell(value, spec=".4f"):
    if isinstance(value, float):
        return "nan" if math.isnan(value) else format(value, spec)
    return str(value)


def format_table(rows, columns, formats=None):
    """A plain-text table of `rows` (dicts) with the given `columns`.

    Args:
        rows: dicts column -> value (missing values print empty).
        columns: the columns, in order.
        formats: format specs of float columns (default `".4f"`), e.g. `{"seconds": ".1f"}`.
    """
    formats = formats or {}
    cells = [[_cell(row.get(c, ""), formats.get(c, ".4f")) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def write_json(path, obj):
    """Writes `obj` as indented JSON to `path` atomically (temporary file, then rename)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def plot_confusion_matrix(matrix, class_names, path, title="Confusion matrix"):
    """Writes the confusion matrix (rows: true, columns: predicted) as a PNG to `path`."""
    matrix = np.asarray(matrix)
    size = max(4.5, 0.6 * len(class_names) + 3.0)
    fig = _figure(size, size)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ticks = range(len(class_names))
    ax.set_xticks(ticks, labels=class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, labels=class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        color = "white" if count > threshold else "black"
        ax.text(j, i, str(count), ha="center", va="center", color=color)
    fig.savefig(path)
    return pathlib.Path(path)


def plot_training_curves(history, path, title="Training curves"):
    """Writes loss and accuracy (and `grad_norm` when logged) per epoch as a PNG to `path`.

    Args:
        history: a dict metric name -> list of per-epoch values (`History.history`).
        path: the PNG file to write.
        title: the figure title.
    """
    panels = [("loss", ("loss", "val_loss")), ("accuracy", ("accuracy", "val_accuracy"))]
    if history.get("grad_norm"):
        panels.append(("gradient norm (before clipping)", ("grad_norm",)))
    fig = _figure(4.0 * len(panels), 3.5)
    fig.suptitle(title)
    for index, (label, keys) in enumerate(panels, 1):
        ax = fig.add_subplot(1, len(panels), index)
        for key in keys:
            values = history.get(key)
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.savefig(path)
    return pathlib.Path(path)


def per_class_table(metrics):
    """The per-class precision / recall / F1 / support table of a metrics dict."""
    rows = [{"class": name, **values} for name, values in metrics["per_class"].items()]
    return format_table(rows, ["class", "precision", "recall", "f1", "support"])


def cv_table(cv):
    """The fold table of a `cv` dict (`apps.common.flow.fold_summary`), with mean and std."""
    columns = [c for c in cv["folds"][0] if c not in ("accuracy", "macro_f1")]
    columns += ["accuracy", "macro_f1"]
    rows = [*cv["folds"], {"fold": "mean", **cv["mean"]}, {"fold": "std", **cv["std"]}]
    return format_table(rows, columns, formats={"seconds": ".1f", "C": "g"})
