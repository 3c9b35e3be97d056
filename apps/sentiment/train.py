"""The sentiment app in the shared flow: `SentimentApp` (`apps.common.flow.ClassifierApp`).

`apps.common.flow` makes the split or the folds, calls `SentimentApp.fit` on each, and
scores the test parts; this module holds what is the sentiment app's own:

- the vectorizer is adapted on the train texts only; with `--embeddings` the embedding
  starts from the word vectors (read once per run, for every fold);
- the recurrent branch trains with Adam and global-norm gradient clipping
  (`seqcore.training.clipped_optimizer`), logs the gradient norm before clipping per epoch
  (`grad_norm`), and early-stops on the validation part, keeping the best epoch;
- with an n-gram branch (the hybrid `base` preset, `apps.sentiment.ngram`) the branch is
  fitted on the train part first; early stopping then watches `val_hybrid_loss`, the
  validation log-loss of the best mixture of the two branches; the weight is chosen on the
  validation part, the validation probabilities of that hybrid are kept for the report, and
  only then is the branch refitted on train + validation.

The model is built and compiled inside the plan's `tf.distribute` strategy scope. Nothing
here prints: progress goes to `report`.
"""

import dataclasses
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from apps.common.flow import ClassifierApp, Fit
from apps.common.progress import progress_callback
from apps.sentiment import APP_NAME, baseline, ngram
from apps.sentiment.data import load_examples, take
from apps.sentiment.embeddings import read_vectors, vectors_for_vocabulary
from apps.sentiment.layers import standardizer
from apps.sentiment.model import build_hybrid, build_model, build_vectorizer
from apps.sentiment.predict import predict_proba
from pipelines.text import text_dataset
from seqcore.training import GradientNormLogger, GradientNormTracker, clipped_optimizer

_BUCKETS = (8, 16, 32, 64, 128, 256, 512)


def _vocabulary_of_all(texts, name):
    layer = keras.layers.TextVectorization(standardize=standardizer(name))
    layer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024))
    return set(layer.get_vocabulary()[2:])


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


class SentimentApp(ClassifierApp):
    """Texts and labels in, a `SentimentClassifier` out (see the module docstring)."""

    name = APP_NAME
    baseline_name = baseline.DESCRIPTION

    def load_examples(self, data, seed):
        return load_examples(data, seed=seed)

    def subset(self, examples, idx):
        return take(examples.texts, idx)

    def predict_proba(self, model, inputs):
        return predict_proba(model, inputs)

    def prepare(self, plan):
        if plan.run.embeddings is None:
            return None
        words = _vocabulary_of_all(plan.examples.texts, plan.model.standardize)
        return read_vectors(plan.run.embeddings, words)

    def baseline(self, plan, split):
        return baseline.score_baseline(
            plan.examples.texts, plan.examples.labels, split, plan.class_names, plan.run.seed
        )

    def fit(self, plan, parts, seed, report, prefix=""):
        start = time.perf_counter()
        keras.utils.set_random_seed(seed)
        (train_texts, train_ids), val = parts["train"], parts["val"]
        model, config, vectors = self._compiled_model(plan, train_texts, train_ids, seed)
        if vectors is not None:
            report(
                f"{prefix}pretrained vectors: {vectors.found}/{vectors.words} vocabulary "
                f"words found ({vectors.coverage:.1%}), dim {vectors.dim}; the rest random"
            )
        classes = len(plan.class_names)
        branch = None
        if config.uses_ngrams:
            branch = _fit_ngram_branch(config, train_texts, train_ids, classes)
        stopper, callbacks = _callbacks(plan.run, config, val, branch, report, prefix)
        history = _train(model, plan.run, config, (train_texts, train_ids), val, callbacks, seed)
        epochs_run = len(history.get("loss", []))
        best = int(stopper.best_epoch) + 1 if stopper and stopper.best_weights else epochs_run
        fit = Fit(model, history, best, epochs_run, 0.0)
        if vectors is not None:
            fit.details["embeddings"] = vectors.summary()
        if branch is not None:
            _add_ngram_branch(fit, plan, branch, parts, report, prefix)
        fit.seconds = time.perf_counter() - start
        return fit

    def _compiled_model(self, plan, texts, ids, seed):
        """`(model, config, vectors)`: built and compiled in the strategy's scope."""
        config, vectors, ratios = plan.model, None, None
        with plan.strategy.scope():
            vectorizer = build_vectorizer(config, texts)
            if plan.context is not None:
                vocabulary = vectorizer.get_vocabulary()
                vectors = vectors_for_vocabulary(*plan.context, vocabulary, seed=seed,
                                                 path=str(plan.run.embeddings))  # fmt: skip
                config = dataclasses.replace(config, embedding_dim=vectors.dim)
            if config.token_ratios:
                ratios = ngram.token_log_ratios(vectorizer, texts, ids, len(plan.class_names))
            model = build_model(config, vectorizer, plan.class_names, token_ratios=ratios)
            if vectors is not None:
                model.get_layer("embedding").set_weights([vectors.matrix])
            model.compile(
                optimizer=GradientNormTracker(
                    clipped_optimizer("adam", plan.run.learning_rate, plan.run.clip_norm)
                ),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
        return model, config, vectors


def _callbacks(run, config, val, branch, report, prefix):
    """`(early stopper or None, callbacks)`: grad norms, hybrid loss, stopping, progress."""
    callbacks, stopper, monitor = [GradientNormLogger()], None, run.monitor
    if len(val[1]):
        if branch is not None and config.ngram_weight == "auto":
            # The epoch kept is the one whose recurrent branch makes the best hybrid.
            callbacks.append(_HybridValidation(val[0], val[1], branch))
            monitor = "val_hybrid_loss"
        stopper = keras.callbacks.EarlyStopping(
            monitor=monitor,
            mode="max" if monitor == "val_accuracy" else "min",
            patience=run.patience or run.epochs,
            restore_best_weights=True,
        )
        callbacks.append(stopper)
    callbacks.append(progress_callback(run.epochs, report, prefix=prefix))
    return stopper, callbacks


def _train(model, run, config, train, val, callbacks, seed):
    """`model.fit` on length-bucketed string batches; returns the history as floats."""
    boundaries = [b for b in _BUCKETS if b < config.max_length] if run.bucket else None
    train_ds = text_dataset(*train, run.batch_size, shuffle=True, seed=seed,
                            bucket_boundaries=boundaries or None)  # fmt: skip
    val_ds = text_dataset(*val, run.batch_size) if len(val[1]) else None
    with warnings.catch_warnings():
        # Bucketed batches have no known count, so Keras warns at the end of epoch 1.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        fitted = model.fit(train_ds, validation_data=val_ds, epochs=run.epochs,
                           callbacks=callbacks, shuffle=False, verbose=0)  # fmt: skip
    return {key: [float(v) for v in values] for key, values in fitted.history.items()}


def _fit_ngram_branch(config, texts, ids, num_classes):
    """The n-gram vectorizers of `config` adapted on `texts`, and their fitted weights."""
    vectorizers = ngram.ngram_vectorizers(
        texts, word_ngrams=config.word_ngrams, char_ngrams=config.char_ngrams,
        max_ngrams=config.max_ngrams, standardize=standardizer(config.standardize),
    )  # fmt: skip
    x = ngram.features(vectorizers, texts)
    return vectorizers, ngram.fit_nb_logistic(x, ids, num_classes, C=config.ngram_c)


def _add_ngram_branch(fit, plan, branch, parts, report, prefix):
    """Mixes `fit.model` with the n-gram `branch`; the weight is chosen on validation.

    `ngram_weight: "auto"` takes the weight whose mixture has the least validation log-loss
    (0.5 without a validation part). The validation probabilities of that hybrid are kept
    in `fit.val_probabilities`; then the branch is refitted on train + validation (as the
    baseline does: the recurrent branch keeps its early-stopped weights).
    """
    config, (val_texts, val_ids) = plan.model, parts["val"]
    vectorizers, weights = branch
    summary = {"weight_losses": None, "refit_on_validation": False}
    weight = 0.5 if config.ngram_weight == "auto" else float(config.ngram_weight)
    if len(val_ids):
        recurrent = predict_proba(fit.model, val_texts)
        grams = ngram.probabilities(vectorizers, weights, val_texts)
        if config.ngram_weight == "auto":
            weight, summary["weight_losses"] = ngram.choose_weight(recurrent, grams, val_ids)
        fit.val_probabilities = (1 - weight) * recurrent + weight * grams
        fit.validation_saw = (
            "early stopping (the epoch kept) and the choice of the n-gram weight; scored "
            "before the n-gram branch was refitted on train + validation"
        )
        texts = list(parts["train"][0]) + list(val_texts)
        ids = np.concatenate([parts["train"][1], val_ids])
        branch = _fit_ngram_branch(config, texts, ids, len(plan.class_names))
        summary["refit_on_validation"] = True
    summary.update(features=int(branch[1]["kernel"].shape[0]), weight=float(weight))
    report(f"{prefix}n-gram branch: {summary['features']} n-gram features, weight "
           f"{weight:.1f} (recurrent {1 - weight:.1f})")  # fmt: skip
    with plan.strategy.scope():
        fit.model = build_hybrid(fit.model, *branch, float(weight))
    fit.details["ngram"] = summary
