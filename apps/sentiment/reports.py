"""The files a `train` run writes, and the text the CLI prints for them.

Holdout run, in `--out DIR`:

- `model.keras`: the trained model (strings in, probabilities out);
- `config.json`: run settings, class names, preset, model config, data, versions;
- `metrics.json`: test (and validation) accuracy, macro-F1, per-class precision / recall /
  F1 / support, confusion matrix, history (with `grad_norm`), best epoch;
- `split.json`: the split (`pipelines.splits.split_record`, with the indices);
- `confusion_matrix.json`, `confusion_matrix.png`: the test confusion matrix;
- `training_curves.png`: loss, accuracy and gradient norm per epoch.

Cross-validation run: `config.json`, `metrics.json` (fold table, means, per-fold metrics
and histories) and `folds.json` (the folds' split records); no model is kept.
"""

import pathlib

from apps.common.reports import (
    format_table,
    plot_confusion_matrix,
    plot_training_curves,
    write_json,
)

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
SPLIT_FILE = "split.json"
FOLDS_FILE = "folds.json"


def write_holdout(out, fit, metrics, record, description):
    """Writes a holdout run's files into `out`; returns their paths."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    test = metrics["test"]
    fit.model.save(out / MODEL_FILE)
    paths = [out / MODEL_FILE]
    paths.append(write_json(out / CONFIG_FILE, description))
    paths.append(write_json(out / METRICS_FILE, metrics))
    paths.append(write_json(out / SPLIT_FILE, record))
    paths.append(
        write_json(
            out / "confusion_matrix.json",
            {
                "class_names": test["class_names"],
                "rows": "true class",
                "columns": "predicted class",
                "matrix": test["confusion_matrix"],
            },
        )
    )
    paths.append(
        plot_confusion_matrix(
            test["confusion_matrix"],
            test["class_names"],
            out / "confusion_matrix.png",
            title=f"test part: n={test['n']}, accuracy {test['accuracy']:.3f}",
        )
    )
    paths.append(plot_training_curves(fit.history, out / "training_curves.png"))
    return paths


def write_cv(out, result, description):
    """Writes a cross-validation run's files into `out`; returns their paths."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metrics = {key: value for key, value in result.items() if key != "splits"}
    return [
        write_json(out / CONFIG_FILE, description),
        write_json(out / METRICS_FILE, metrics),
        write_json(out / FOLDS_FILE, result["splits"]),
    ]


def per_class_table(metrics):
    """The per-class precision / recall / F1 / support table of a metrics dict."""
    rows = [{"class": name, **values} for name, values in metrics["per_class"].items()]
    return format_table(rows, ["class", "precision", "recall", "f1", "support"])


def cv_table(cv, extra_columns=()):
    """The fold table of a `cv` dict, with mean and std rows."""
    columns = [c for c in cv["folds"][0] if c not in ("accuracy", "macro_f1", *extra_columns)]
    columns += ["accuracy", "macro_f1"]
    rows = list(cv["folds"])
    rows.append({"fold": "mean", **cv["mean"]})
    rows.append({"fold": "std", **cv["std"]})
    return format_table(rows, columns, formats={"seconds": ".1f", "C": "g"})
