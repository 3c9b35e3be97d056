"""Training the sentiment model: one seeded train/val/test split, or k-fold cross-validation.

`plan_training(config)` reads and checks everything a run needs from the user (data,
split, model config, word-vector file); its errors are `ValueError`s naming what is wrong,
which the CLI reports as bad input. `run_holdout(plan)` and `run_cv(plan)` then train:

- **holdout** (no `cv`): seeded stratified train/val/test split (`config.fractions`); the
  vectorizer is adapted on the train texts only; early stopping on the validation part
  keeps the best epoch's weights; the test part is scored once, at the end.
- **cross-validation** (`cv=K`): stratified K-fold (`pipelines.splits.stratified_kfold`);
  in every fold a fresh vectorizer (adapted on that fold's train texts) and model, with a
  validation part carved from the fold's training part for early stopping (as Kim 2014
  does for MR), scored on the fold's test part. The folds' test parts cover every example
  once.

With an n-gram branch (the hybrid `base` preset, `apps.sentiment.ngram`) the branch is
fitted on the train part first; early stopping then watches `val_hybrid_loss`, the
validation log-loss of the best mixture of the two branches, the weight is chosen on the
validation part, and the branch is refitted on train + validation.

Training uses Adam with global-norm gradient clipping (`seqcore.training.clipped_optimizer`,
on by default) and logs the gradient norm before clipping per epoch (`grad_norm`, by
`seqcore.training.GradientNormLogger`). The model is built and compiled inside the
`tf.distribute` strategy's scope. Nothing here prints: progress goes to `report`.
"""

import dataclasses
import datetime
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from apps import __version__
from apps.common.progress import EpochProgress
from apps.common.reports import classification_metrics, mean_std
from apps.sentiment import APP_NAME, ngram
from apps.sentiment.data import cv_splits, holdout_split, load_examples, take
from apps.sentiment.embeddings import read_vectors, vectors_for_vocabulary
from apps.sentiment.model import (
    STANDARDIZERS,
    build_hybrid,
    build_model,
    build_vectorizer,
    model_config,
    uses_ngrams,
)
from apps.sentiment.predict import predict_proba
from pipelines.splits import split_record
from pipelines.text import encode_labels, text_dataset
from seqcore.training import GradientNormLogger, clipped_optimizer

_BUCKETS = (8, 16, 32, 64, 128, 256, 512)


@dataclasses.dataclass(eq=False)
class Plan:
    """What a run needs, read and checked: see `plan_training`.

    Attributes:
        config: the `TrainConfig`.
        data: the `TextExamples` read.
        ids: int class id of every example.
        class_names: the class names, in id order.
        model_config: the model config (preset with overrides).
        splits: `[{"train", "val"?, "test"}]`: one split (holdout) or one per fold run.
        fold_numbers: the 1-based fold number of each split (cross-validation), else `None`.
        word_table: `(vectors, dim)` read from `config.embeddings`, or `None`.
    """

    config: object
    data: object
    ids: np.ndarray
    class_names: list
    model_config: dict
    splits: list
    fold_numbers: list | None
    word_table: tuple | None = None


@dataclasses.dataclass(eq=False)
class FitResult:
    """A trained model and how it got there.

    Attributes:
        model: the trained `keras.Model` (best epoch's weights when validated).
        history: metric name -> per-epoch values (`loss`, `accuracy`, `val_*`, `grad_norm`).
        best_epoch: the 1-based epoch whose weights were kept.
        epochs_run: epochs trained before stopping.
        model_config: the model config used (`embedding_dim` from the vector file if any).
        embeddings: `WordVectors.summary()` when pretrained vectors were loaded, else `None`.
        seconds: training time.
        ngram: the n-gram branch (`features`, chosen `weight`, validation log-loss per
            weight) when the config has one, else `None`.
    """

    model: object
    history: dict
    best_epoch: int
    epochs_run: int
    model_config: dict
    embeddings: dict | None
    seconds: float
    ngram: dict | None = None


def _vocabulary_of_all(texts, standardize):
    layer = keras.layers.TextVectorization(standardize=STANDARDIZERS[standardize])
    layer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024))
    return set(layer.get_vocabulary()[2:])


def plan_training(config):
    """Reads the data, makes the split(s) and checks the model config of `config`.

    Raises:
        ValueError: bad data, options, model settings or word-vector file (named).
    """
    cfg = model_config(config.preset, **config.model_overrides)
    data = load_examples(config.data, seed=config.seed)
    ids, mapping = encode_labels(data.labels, data.class_names)
    if config.cv:
        folds = cv_splits(
            data.labels, k=config.cv, seed=config.seed, val_fraction=config.val_fraction
        )
        numbers = list(config.folds or range(1, config.cv + 1))
        splits = [folds[n - 1] for n in numbers]
    else:
        splits = [holdout_split(data.labels, config.fractions, seed=config.seed)]
        numbers = None
    table = None
    if config.embeddings is not None:
        words = _vocabulary_of_all(data.texts, cfg["standardize"])
        table = read_vectors(config.embeddings, words)
    return Plan(config, data, ids, list(mapping), cfg, splits, numbers, table)


def _bucket_boundaries(max_length):
    return [b for b in _BUCKETS if b < max_length] or None


def fit_model(
    train_texts,
    train_ids,
    val_texts,
    val_ids,
    num_classes,
    cfg,
    config,
    strategy=None,
    report=None,
    prefix="",
    word_table=None,
    seed=None,
):
    """Builds, compiles (inside `strategy.scope()`) and trains one model.

    Args:
        train_texts, train_ids: the training texts and class ids.
        val_texts, val_ids: the validation part (early stopping, best epoch), or empty.
        num_classes: number of classes.
        cfg: the model config.
        config: the `TrainConfig` (epochs, batch size, learning rate, clipping, ...).
        strategy: a `tf.distribute.Strategy` (default: the current one).
        report: a callable taking one line of progress.
        prefix: put before every progress line.
        word_table: `(vectors, dim)` of pretrained word vectors, or `None`.
        seed: seed of the weights and the shuffle (default `config.seed`).

    Returns:
        A `FitResult`.
    """
    report = report or (lambda line: None)
    strategy = strategy or tf.distribute.get_strategy()
    seed = config.seed if seed is None else seed
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    vectors = None
    with strategy.scope():
        vectorizer = build_vectorizer(cfg, train_texts)
        if word_table is not None:
            vectors = vectors_for_vocabulary(
                word_table[0],
                word_table[1],
                vectorizer.get_vocabulary(),
                seed=seed,
                path=str(config.embeddings),
            )
            cfg = {**cfg, "embedding_dim": vectors.dim}
        token_ratios = None
        if cfg["token_ratios"]:
            token_ratios = ngram.token_log_ratios(vectorizer, train_texts, train_ids, num_classes)
        model = build_model(cfg, vectorizer, num_classes, token_ratios=token_ratios)
        if vectors is not None:
            model.get_layer("embedding").set_weights([vectors.matrix])
        model.compile(
            optimizer=clipped_optimizer("adam", config.learning_rate, config.clip_norm),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    if vectors is not None:
        report(
            f"{prefix}pretrained vectors: {vectors.found}/{vectors.words} vocabulary words "
            f"found ({vectors.coverage:.1%}), dim {vectors.dim}; the rest random"
        )
    boundaries = _bucket_boundaries(cfg["max_length"]) if config.bucket else None
    train_ds = text_dataset(
        train_texts,
        train_ids,
        config.batch_size,
        shuffle=True,
        seed=seed,
        bucket_boundaries=boundaries,
    )
    callbacks = [GradientNormLogger()]
    val_ds = None
    stopper = None
    branch = None
    monitor = config.monitor
    if uses_ngrams(cfg):
        branch = _fit_ngram_branch(cfg, train_texts, train_ids, num_classes)
    if len(val_texts):
        val_ds = text_dataset(val_texts, val_ids, config.batch_size)
        if branch is not None and cfg["ngram_weight"] == "auto":
            # The epoch kept is the one whose recurrent branch makes the best hybrid.
            callbacks.append(_HybridValidation(val_texts, val_ids, branch))
            monitor = "val_hybrid_loss"
        stopper = keras.callbacks.EarlyStopping(
            monitor=monitor,
            mode="max" if monitor == "val_accuracy" else "min",
            patience=config.patience or config.epochs,
            restore_best_weights=True,
        )
        callbacks.append(stopper)
    callbacks.append(EpochProgress(config.epochs, report, prefix=prefix))
    with warnings.catch_warnings():
        # Bucketed batches have no known count, so Keras warns at the end of epoch 1.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        fitted = model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=config.epochs,
            callbacks=callbacks,
            shuffle=False,  # the dataset shuffles itself
            verbose=0,
        )
    history = {key: [float(v) for v in values] for key, values in fitted.history.items()}
    epochs_run = len(history.get("loss", []))
    best_epoch = epochs_run
    if stopper is not None and stopper.best_weights is not None:
        best_epoch = int(stopper.best_epoch) + 1
    ngram_summary = None
    if uses_ngrams(cfg):
        model, ngram_summary = _add_ngram_branch(
            model, cfg, branch, (train_texts, train_ids), (val_texts, val_ids), strategy, report,
            prefix,
        )  # fmt: skip
    return FitResult(
        model,
        history,
        best_epoch,
        epochs_run,
        cfg,
        None if vectors is None else vectors.summary(),
        time.perf_counter() - start,
        ngram_summary,
    )


class _HybridValidation(keras.callbacks.Callback):
    """Adds `val_hybrid_loss`: the validation log-loss of the best recurrent/n-gram mixture."""

    def __init__(self, texts, ids, branch):
        super().__init__()
        self.texts, self.ids = texts, ids
        self.ngram_probabilities = ngram.probabilities(*branch, texts)

    def on_epoch_end(self, epoch, logs=None):
        recurrent = predict_proba(self.model, self.texts)
        weight, losses = ngram.choose_weight(recurrent, self.ngram_probabilities, self.ids)
        if logs is not None:
            logs["val_hybrid_loss"] = losses[weight]


def _fit_ngram_branch(cfg, texts, ids, num_classes):
    """The n-gram vectorizers of `cfg` adapted on `texts`, and their fitted weights."""
    vectorizers = ngram.ngram_vectorizers(
        texts,
        word_ngrams=cfg["word_ngrams"],
        char_ngrams=cfg["char_ngrams"],
        max_ngrams=cfg["max_ngrams"],
        standardize=STANDARDIZERS[cfg["standardize"]],
    )
    x = ngram.features(vectorizers, texts)
    return vectorizers, ngram.fit_nb_logistic(x, ids, num_classes, C=cfg["ngram_c"])


def _add_ngram_branch(recurrent, cfg, branch, train, val, strategy, report, prefix):
    """Averages `recurrent` with the n-gram `branch` (fitted on the train part).

    With `ngram_weight: "auto"` the weight is the one whose mixture has the least log-loss
    on the validation part (0.5 without one); the branch is then refitted on train +
    validation. Returns `(hybrid model, summary dict)`.
    """
    (train_texts, train_ids), (val_texts, val_ids) = train, val
    num_classes = recurrent.output.shape[-1]
    vectorizers, fit = branch
    summary = {"weight_losses": None, "refit_on_validation": False}
    weight = cfg["ngram_weight"]
    if weight == "auto" and len(val_texts):
        weight, summary["weight_losses"] = ngram.choose_weight(
            predict_proba(recurrent, val_texts),
            ngram.probabilities(vectorizers, fit, val_texts),
            val_ids,
        )
    elif weight == "auto":
        weight = 0.5
    if len(val_texts):
        # The weight is chosen: like the baseline, the convex n-gram fit then uses the
        # validation part too (the recurrent branch keeps its early-stopped weights).
        vectorizers, fit = _fit_ngram_branch(
            cfg,
            list(train_texts) + list(val_texts),
            np.concatenate([train_ids, val_ids]),
            num_classes,
        )
        summary["refit_on_validation"] = True
    summary["features"] = int(fit["kernel"].shape[0])
    summary["weight"] = float(weight)
    report(
        f"{prefix}n-gram branch: {summary['features']} n-gram features, weight {weight:.1f} "
        f"(recurrent {1 - weight:.1f})"
    )
    with strategy.scope():
        model = build_hybrid(recurrent, vectorizers, fit, float(weight), name=recurrent.name)
    return model, summary


def score(model, texts, ids, class_names, batch_size=64):
    """`classification_metrics` of `model` on `texts` with true class `ids`."""
    probabilities = predict_proba(model, texts, batch_size=batch_size)
    return classification_metrics(ids, probabilities.argmax(axis=-1), class_names)


def _parts(plan, split):
    data, ids = plan.data, plan.ids
    val = split.get("val", np.zeros(0, np.int64))
    return (
        take(data.texts, split["train"]),
        ids[split["train"]],
        take(data.texts, val),
        ids[val],
        take(data.texts, split["test"]),
        ids[split["test"]],
    )


def run_description(plan, fit_config=None):
    """The `config.json` of a run: settings, class names, model config, data, versions."""
    data = plan.data
    return {
        "app": APP_NAME,
        "class_names": plan.class_names,
        "preset": plan.config.preset,
        "model": fit_config or plan.model_config,
        "train": plan.config.to_dict(),
        "data": {
            **plan.config.data.to_dict(),
            "n": len(data),
            "class_counts": data.class_counts(),
            "skipped": data.skipped,
        },
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": {
            "seqapps": __version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
    }


def run_holdout(plan, report=None, strategy=None):
    """Trains on the train part, keeps the best epoch on val, scores the test part.

    Returns:
        `(fit, metrics, split)`: the `FitResult`, a JSON-ready metrics dict (`test`,
        `validation`, `history`, `best_epoch`, ...) and the split record (with indices).
    """
    report = report or (lambda line: None)
    config = plan.config
    (split,) = plan.splits
    train_t, train_y, val_t, val_y, test_t, test_y = _parts(plan, split)
    report(
        f"{len(plan.data)} examples, classes {plan.class_names}; split "
        f"train {len(train_t)} / val {len(val_t)} / test {len(test_t)} (seed {config.seed})"
    )
    fit = fit_model(
        train_t,
        train_y,
        val_t,
        val_y,
        len(plan.class_names),
        plan.model_config,
        config,
        strategy=strategy,
        report=report,
        word_table=plan.word_table,
    )
    test = score(fit.model, test_t, test_y, plan.class_names)
    metrics = {
        "app": APP_NAME,
        "test": test,
        "accuracy": test["accuracy"],
        "macro_f1": test["macro_f1"],
        "validation": score(fit.model, val_t, val_y, plan.class_names) if len(val_t) else None,
        "best_epoch": fit.best_epoch,
        "epochs_run": fit.epochs_run,
        "history": fit.history,
        "embeddings": fit.embeddings,
        "ngram": fit.ngram,
        "train_seconds": fit.seconds,
        "parameters": int(fit.model.count_params()),
    }
    record = split_record(
        split,
        plan.data.labels,
        method="stratified",
        seed=config.seed,
        include_indices=True,
        fractions=list(config.fractions),
    )
    return fit, metrics, record


FOLD_COLUMNS = (
    "fold",
    "n_train",
    "n_val",
    "n_test",
    "best_epoch",
    "accuracy",
    "macro_f1",
    "seconds",
)
"""Columns of the cross-validation fold table."""


def run_cv(plan, report=None, strategy=None, on_fold=None):
    """K-fold cross-validation: one fresh vectorizer and model per fold.

    Args:
        plan: from `plan_training` with `config.cv` set.
        report: a callable taking one line of progress.
        strategy: a `tf.distribute.Strategy`.
        on_fold: optional callable `(row, fit)` after every fold (e.g. to print its row).

    Returns:
        A JSON-ready dict: `cv` (`k`, `folds_run`, `folds` rows, `mean`, `std`), `accuracy`
        and `macro_f1` (means), per-fold metrics and histories, and the fold split records.
    """
    report = report or (lambda line: None)
    config = plan.config
    rows, details, records = [], [], []
    report(f"{len(plan.data)} examples, classes {plan.class_names}; {config.cv}-fold CV")
    for number, split in zip(plan.fold_numbers, plan.splits, strict=True):
        train_t, train_y, val_t, val_y, test_t, test_y = _parts(plan, split)
        fit = fit_model(
            train_t,
            train_y,
            val_t,
            val_y,
            len(plan.class_names),
            plan.model_config,
            config,
            strategy=strategy,
            report=report,
            prefix=f"fold {number}/{config.cv}: ",
            word_table=plan.word_table,
            seed=config.seed + number,
        )
        test = score(fit.model, test_t, test_y, plan.class_names)
        row = {
            "fold": number,
            "n_train": len(train_t),
            "n_val": len(val_t),
            "n_test": len(test_t),
            "best_epoch": fit.best_epoch,
            "accuracy": test["accuracy"],
            "macro_f1": test["macro_f1"],
            "seconds": round(fit.seconds, 1),
        }
        rows.append(row)
        details.append({"fold": number, "test": test, "history": fit.history, "ngram": fit.ngram})
        records.append(
            split_record(
                split, plan.data.labels, method="kfold", seed=config.seed, k=config.cv, fold=number
            )
        )
        if on_fold is not None:
            on_fold(row, fit)
        keras.backend.clear_session(free_memory=True)
    mean = {key: mean_std(r[key] for r in rows)[0] for key in ("accuracy", "macro_f1")}
    std = {key: mean_std(r[key] for r in rows)[1] for key in ("accuracy", "macro_f1")}
    return {
        "app": APP_NAME,
        "cv": {
            "k": config.cv,
            "folds_run": list(plan.fold_numbers),
            "folds": rows,
            "mean": mean,
            "std": std,
        },
        "accuracy": mean["accuracy"],
        "macro_f1": mean["macro_f1"],
        "folds": details,
        "splits": records,
    }


def train(config, report=None, strategy=None):
    """`plan_training` then `run_holdout` (no `cv`) or `run_cv`; writes nothing.

    Returns:
        `(plan, result)`: with holdout, `result` is `run_holdout`'s tuple; with `cv`,
        `run_cv`'s dict.
    """
    plan = plan_training(config)
    if config.cv:
        return plan, run_cv(plan, report=report, strategy=strategy)
    return plan, run_holdout(plan, report=report, strategy=strategy)
