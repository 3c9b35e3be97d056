"""The demo job: train, evaluate, export and serve seqcore models on built-in data.

1. Trains `Input -> seqcore.LSTM -> Dense(softmax)` on the synthetic "order" task of
   `pipelines.synthetic`, exports it as a SavedModel in TF Serving layout
   (`<out>/demo/<version>/saved_model.pb`), reloads the export in a new Python process with
   `tf.saved_model.load` and checks that its `serve` signature reproduces the Keras
   predictions.
2. Runs the sentiment app (`apps.sentiment`) on `synthetic:sentiment` (`train_size +
   test_size` sentences, split 80/10/10): trains a small bidirectional seqcore LSTM on raw
   strings, exports it to `<out>/sentiment/<version>/`, and checks in a new process that the
   export's `serving_default` signature gives the Keras probabilities for a few texts
   (an empty one, non-ASCII, emoji and a 10,000-word text among them).
"""

import dataclasses
import pathlib

import keras
import numpy as np

import seqcore
from apps.common.export import export_versioned, next_version
from apps.common.progress import EpochProgress
from apps.common.serving import ServingCheckError, predict_in_new_process
from pipelines import synthetic

APP_NAME = "demo"
SERVE_SIGNATURE = "serve"

__all__ = [
    "DemoConfig",
    "ServingCheckError",
    "build_model",
    "export_versioned",
    "next_version",
    "predict_in_new_process",
    "run_demo",
    "run_sentiment_demo",
]


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Run settings of the demo (the model architecture lives in the model's config)."""

    out: pathlib.Path = pathlib.Path("saved_models")
    epochs: int = 5
    seed: int = 0
    train_size: int = 2000
    test_size: int = 500
    batch_size: int = 32
    timesteps: int = 16
    features: int = 4
    units: int = 16
    learning_rate: float = 0.01
    check_examples: int = 4
    atol: float = 1e-5
    sentiment: bool = True
    sentiment_epochs: int = 8


def build_model(timesteps, features, units, num_classes):
    """Returns the (uncompiled) demo classifier."""
    inputs = keras.Input((timesteps, features), name="sequence")
    hidden = seqcore.LSTM(units, name="lstm")(inputs)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(hidden)
    return keras.Model(inputs, outputs, name="order_classifier")


def _train_order_model(config, report):
    """`(model, history, test data, (test loss, test accuracy))` of the order task."""
    keras.utils.set_random_seed(config.seed)
    shape = {"timesteps": config.timesteps, "features": config.features}
    x_train, y_train = synthetic.make_order(config.train_size, **shape, seed=config.seed)
    x_test, y_test = synthetic.make_order(config.test_size, **shape, seed=config.seed + 1)
    train = synthetic.to_dataset(x_train, y_train, config.batch_size, seed=config.seed)
    test = synthetic.to_dataset(x_test, y_test, config.batch_size, shuffle=False)
    model = build_model(
        config.timesteps, config.features, config.units, synthetic.ORDER_NUM_CLASSES
    )
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    report(
        f"training {model.name} ({model.count_params()} parameters) on {config.train_size} "
        f"synthetic 'order' sequences for {config.epochs} epochs"
    )
    history = model.fit(
        train, epochs=config.epochs, shuffle=False,  # the dataset shuffles itself
        verbose=0, callbacks=[EpochProgress(config.epochs, report)],
    )  # fmt: skip
    scores = model.evaluate(test, verbose=0)
    report(f"test accuracy {scores[1]:.3f} on {config.test_size} sequences (chance 0.5)")
    return model, history, (x_test, y_test), scores


def _serving_check(model, export_dir, x, y, config):
    """The export run in a new process on the first test examples, against Keras."""
    examples = x[: config.check_examples]
    keras_predictions = model.predict(examples, verbose=0)
    served = predict_in_new_process(export_dir, examples, signature=SERVE_SIGNATURE)
    if served.shape == keras_predictions.shape:
        max_abs_diff = float(np.max(np.abs(served - keras_predictions)))
    else:
        max_abs_diff = float("inf")
    return {
        "signature": SERVE_SIGNATURE,
        "labels": y[: config.check_examples].tolist(),
        "keras_predictions": keras_predictions.tolist(),
        "served_predictions": served.tolist(),
        "max_abs_diff": max_abs_diff,
        "atol": config.atol,
        "match": max_abs_diff <= config.atol,
    }


def run_demo(config, report=None):
    """Trains, evaluates, exports and checks the demo model; returns a JSON-ready summary.

    Args:
        config: a `DemoConfig`.
        report: optional callable taking one line of progress (e.g. an echo to stderr).

    Raises:
        ServingCheckError: the export could not be run in a new process.
    """
    report = report or (lambda line: None)
    model, history, (x_test, y_test), (test_loss, test_accuracy) = _train_order_model(
        config, report
    )
    export_dir = export_versioned(model, pathlib.Path(config.out) / APP_NAME)
    report(f"exported {export_dir}")
    result = {
        "app": APP_NAME,
        "export_dir": str(export_dir),
        "version": int(export_dir.name),
        "epochs": config.epochs,
        "seed": config.seed,
        "train": {
            "loss": float(history.history["loss"][-1]),
            "accuracy": float(history.history["accuracy"][-1]),
            "n": config.train_size,
        },
        "test": {"loss": float(test_loss), "accuracy": float(test_accuracy), "n": config.test_size},
        "serving_check": _serving_check(model, export_dir, x_test, y_test, config),
    }
    if config.sentiment:
        result["sentiment"] = run_sentiment_demo(config, report)
    return result


def run_sentiment_demo(config, report=None):
    """Trains, exports and serve-checks the sentiment app on `synthetic:sentiment`.

    Returns:
        A JSON-ready dict: `export_dir`, `version`, `test` (accuracy, macro-F1, n),
        `best_epoch` and `serving_check` (`apps.sentiment.serving.serving_check`).

    Raises:
        ServingCheckError: the export failed in a new process or differs from Keras.
    """
    import dataclasses

    from apps.common import flow
    from apps.common.distribute import get_strategy
    from apps.sentiment.config import SentimentRun, TextDataConfig
    from apps.sentiment.export import export_model
    from apps.sentiment.presets import PRESETS
    from apps.sentiment.serving import serving_check
    from apps.sentiment.train import SentimentApp

    report = report or (lambda line: None)
    data = TextDataConfig("synthetic:sentiment", limit=config.train_size + config.test_size)
    model = dataclasses.replace(PRESETS["small"], units=16, embedding_dim=16)
    run = SentimentRun(
        epochs=config.sentiment_epochs, batch_size=config.batch_size,
        learning_rate=config.learning_rate, patience=0, seed=config.seed, out=None,
    )  # fmt: skip  (patience 0: train every epoch; the best one on validation is kept)
    plan = flow.make_plan(SentimentApp(), data, model, run, strategy=get_strategy())
    report(f"sentiment: training the 'small' preset (units 16) on {len(plan.examples)} "
           f"synthetic:sentiment sentences for {run.epochs} epochs")  # fmt: skip
    fit, metrics, _ = flow.holdout(plan, report=lambda line: report(f"sentiment: {line}"))
    test = metrics["test"]
    report(f"sentiment: test accuracy {test['accuracy']:.3f} on {test['n']} sentences")
    export_dir = export_model(
        fit.model, plan.class_names, pathlib.Path(config.out) / SentimentApp.name,
        metadata={"preset": "small", "data": "synthetic:sentiment"},
    )  # fmt: skip
    report(f"sentiment: exported {export_dir}")
    check = serving_check(fit.model, export_dir, atol=config.atol)
    report(
        f"sentiment: served in a new process, signature '{check['signature']}': "
        f"max |served - keras| = {check['max_abs_diff']:.2g} on {check['n']} texts, labels "
        f"{'match' if check['labels_match'] else 'DIFFER'}"
    )
    if not check["match"]:
        raise ServingCheckError(
            f"sentiment export {export_dir} differs from the Keras model: max |served - keras| "
            f"= {check['max_abs_diff']:.3g} (allowed {check['atol']:g}), labels match: "
            f"{check['labels_match']}"
        )
    return {
        "export_dir": str(export_dir),
        "version": int(export_dir.name),
        "test": {"accuracy": test["accuracy"], "macro_f1": test["macro_f1"], "n": test["n"]},
        "best_epoch": metrics["best_epoch"],
        "serving_check": check,
    }
