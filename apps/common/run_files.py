"""The files a `train` run writes into its (staged) `--out` folder.

Holdout run:

- `model.keras`: the trained model; it carries its model config and class names, so it
  loads and predicts on its own;
- `config.json`: a report of the run for people and tools: app, class names, preset,
  model config, data settings and counts, run settings, date, versions;
- `metrics.json`: test and validation scores (accuracy, macro-F1, per class, confusion
  matrix), what each score saw, history, best epoch;
- `split.json`: the split (`pipelines.splits.split_record`, with the indices);
- `confusion_matrix.json`, `confusion_matrix.png`, `training_curves.png`.

Cross-validation run: `config.json`, `metrics.json` (fold table, means, per-fold metrics and
histories) and `folds.json` (the folds' split records); no model is kept.

Every file goes into the temporary folder of `apps.common.staging.staged_folder`, which
replaces `--out` only when all of them are written.
"""

import datetime
import pathlib

from apps import __version__
from apps.common.config import to_dict
from apps.common.loading import MODEL_FILE
from apps.common.reports import plot_confusion_matrix, plot_training_curves, write_json

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
SPLIT_FILE = "split.json"
FOLDS_FILE = "folds.json"


def run_description(plan, preset=None, model_config=None):
    """The `config.json` of a run (see the module docstring)."""
    import keras
    import tensorflow as tf

    examples = plan.examples
    return {
        "app": plan.app.name,
        "class_names": plan.class_names,
        "preset": preset,
        "model": to_dict(model_config or plan.model),
        "train": to_dict(plan.run),
        "data": {
            **to_dict(plan.data),
            "n": len(examples),
            "class_counts": examples.class_counts(),
            "skipped": getattr(examples, "skipped", 0),
        },
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"seqapps": __version__, "tensorflow": tf.__version__,
                     "keras": keras.__version__},  # fmt: skip
    }


def write_holdout(folder, fit, metrics, record, description):
    """Writes a holdout run's files into `folder`; returns their paths."""
    folder = pathlib.Path(folder)
    test = metrics["test"]
    fit.model.save(folder / MODEL_FILE)
    paths = [folder / MODEL_FILE]
    paths.append(write_json(folder / CONFIG_FILE, description))
    paths.append(write_json(folder / METRICS_FILE, metrics))
    paths.append(write_json(folder / SPLIT_FILE, record))
    matrix = {"class_names": test["class_names"], "rows": "true class",
              "columns": "predicted class", "matrix": test["confusion_matrix"]}  # fmt: skip
    paths.append(write_json(folder / "confusion_matrix.json", matrix))
    paths.append(
        plot_confusion_matrix(
            test["confusion_matrix"], test["class_names"], folder / "confusion_matrix.png",
            title=f"test part: n={test['n']}, accuracy {test['accuracy']:.3f}",
        )
    )  # fmt: skip
    paths.append(plot_training_curves(fit.history, folder / "training_curves.png"))
    return paths


def write_cv(folder, result, description):
    """Writes a cross-validation run's files into `folder`; returns their paths."""
    folder = pathlib.Path(folder)
    metrics = {key: value for key, value in result.items() if key != "splits"}
    return [
        write_json(folder / CONFIG_FILE, description),
        write_json(folder / METRICS_FILE, metrics),
        write_json(folder / FOLDS_FILE, result["splits"]),
    ]
