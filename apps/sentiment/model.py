"""The sentiment model: raw strings in, class probabilities out.

`build_model(config, vectorizer, class_names)` assembles

    text (string) -> TextVectorization (adapted on the train texts only)
      -> TokenWindow(max_length) -> Embedding(mask_zero=True) -> Dropout
      -> encoder (default: seqcore recurrent layers, bidirectional, stacked)
      -> pooling ("last" state, or "max" / "mean" over the unmasked steps)
      -> Dense head (relu + Dropout per size) -> Dense(num_classes, softmax)

from a `ModelConfig` (`apps.sentiment.config`; presets in `apps.sentiment.presets`).
Padding (id 0) is masked from the embedding on, and every text is cut to its first
`max_length` tokens, so a text's probabilities do not depend on the other texts of its batch,
and a 10k-word text costs no more than `max_length` tokens.

The model is a `SentimentClassifier`: a registered functional `keras.Model` whose
`get_config()` also holds its `ModelConfig` and class names, so `model.keras` alone loads in
a fresh process (with `apps.sentiment.model` imported) and knows what it predicts.

Example:

>>> import tensorflow as tf
>>> from apps.sentiment.presets import PRESETS
>>> import dataclasses
>>> config = dataclasses.replace(PRESETS["small"], units=4, embedding_dim=8)
>>> vectorizer = build_vectorizer(config, ["good movie", "bad movie"])
>>> model = build_model(config, vectorizer, ["neg", "pos"])
>>> model(tf.constant(["a good one", ""])).shape, model.class_names
(TensorShape([2, 2]), ('neg', 'pos'))
"""

import keras

import seqcore
from apps.common.config import from_dict, to_dict
from apps.common.settings import CELL_LAYERS
from apps.sentiment import ngram
from apps.sentiment.config import ModelConfig
from apps.sentiment.layers import PACKAGE, MaskedPooling, TokenWindow, standardizer
from pipelines.text import make_vectorizer


@keras.saving.register_keras_serializable(package=PACKAGE)
class SentimentClassifier(keras.Model):
    """A functional model from strings to class probabilities that knows its config.

    Built like any functional model, `SentimentClassifier(inputs, outputs, model_config=...,
    class_names=...)`; `get_config()` adds the two, so a saved `.keras` file reloads with
    them.

    Args:
        *args, **kwargs: `keras.Model`'s functional arguments (`inputs`, `outputs`, `name`).
        model_config: the `ModelConfig` (or its dict) the model was built from.
        class_names: the class names, in probability-column order.
    """

    def __init__(self, *args, model_config=None, class_names=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.model_config = model_config
        self.class_names = tuple(class_names or ())

    def get_config(self):
        return {
            **super().get_config(),
            "model_config": to_dict(self.model_config),
            "class_names": list(self.class_names),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        model_config = from_dict(ModelConfig, config.pop("model_config"))
        class_names = config.pop("class_names")
        model = super().from_config(config, custom_objects=custom_objects)
        model.model_config, model.class_names = model_config, tuple(class_names)
        check_class_names(model)
        return model


def check_class_names(model):
    """Raises `ValueError` when `model.class_names` do not match its output columns."""
    width = model.output_shape[-1]
    if len(model.class_names) != width:
        raise ValueError(
            f"the model has {width} output column(s) but {len(model.class_names)} class "
            f"name(s) {list(model.class_names)}; the file is inconsistent"
        )


def build_vectorizer(config, train_texts):
    """The `TextVectorization` layer of `config`, adapted on `train_texts` (train only)."""
    return make_vectorizer(
        list(train_texts),
        max_tokens=config.max_tokens,
        sequence_length=None,
        standardize=standardizer(config.standardize),
    )


def _rnn_encoder(x, config):
    """Stacked (bi)directional seqcore layers; the last returns its final state for "last"."""
    layer_class = getattr(seqcore, CELL_LAYERS[config.cell])
    for index in range(config.num_layers):
        last = index == config.num_layers - 1
        layer = layer_class(
            units=config.units,
            return_sequences=not (last and config.pooling == "last"),
            recurrent_dropout=config.recurrent_dropout,
            name=f"{config.cell}_{index + 1}",
        )
        if config.bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{index + 1}")
        x = layer(x)
    return x


_ENCODERS = {"rnn": _rnn_encoder}
"""Encoder builders by `ModelConfig.encoder` (`config.ENCODERS`): `fn(sequence, config)`,
returning `(batch, features)` when `config.pooling == "last"`, else a masked sequence."""


def _word_features(ids, config, vocabulary_size, token_ratios):
    """Embedding (+ dropout), and the frozen per-word log-count ratios beside it."""
    x = keras.layers.Embedding(
        vocabulary_size, config.embedding_dim, mask_zero=True, name="embedding"
    )(ids)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name="embedding_dropout")(x)
    if not config.token_ratios:
        return x
    if token_ratios is None:
        raise ValueError("the config has token_ratios: pass the `token_ratios` matrix")
    ratios = keras.layers.Embedding(
        token_ratios.shape[0], token_ratios.shape[1], mask_zero=True, trainable=False,
        name="token_ratios",
    )  # fmt: skip
    features = ratios(ids)
    ratios.set_weights([token_ratios])
    return keras.layers.Concatenate(name="word_features")([x, features])


def _head(x, config, num_classes):
    """Pooling, dropout, the relu layers of `dense`, then softmax probabilities."""
    if config.pooling != "last":
        x = MaskedPooling(config.pooling, name=f"{config.pooling}_pooling")(x)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name="pooled_dropout")(x)
    for index, size in enumerate(config.dense, 1):
        x = keras.layers.Dense(size, activation="relu", name=f"dense_{index}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dense_{index}_dropout")(x)
    return keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)


def build_model(config, vectorizer, class_names, token_ratios=None, name="sentiment_classifier"):
    """Builds the (uncompiled) recurrent classifier of `config` around an adapted `vectorizer`.

    Args:
        config: a `ModelConfig`.
        vectorizer: a `TextVectorization` adapted on the training texts.
        class_names: the class names (at least 2), in output order.
        token_ratios: with `config.token_ratios`, the `(vocabulary, k)` log-count ratios of
            `apps.sentiment.ngram.token_log_ratios`, a frozen feature beside the embedding.
        name: the model name.

    Returns:
        A `SentimentClassifier` from a batch of strings `(batch,)` to probabilities
        `(batch, classes)` (float32, output name `probabilities`).
    """
    if len(class_names) < 2:
        raise ValueError(f"at least 2 classes are needed. Received: class_names={class_names!r}")
    text = keras.Input(shape=(), dtype="string", name="text")
    ids = TokenWindow(config.max_length, name="token_window")(vectorizer(text))
    x = _word_features(ids, config, vectorizer.vocabulary_size(), token_ratios)
    x = _ENCODERS[config.encoder](x, config)
    outputs = _head(x, config, len(class_names))
    return SentimentClassifier(
        text, outputs, model_config=config, class_names=class_names, name=name
    )


def build_hybrid(recurrent, vectorizers, ngram_fit, ngram_weight):
    """Averages a trained recurrent classifier with the frozen n-gram branch.

    Args:
        recurrent: the trained `SentimentClassifier` of `build_model`.
        vectorizers: the n-gram layers of `apps.sentiment.ngram.ngram_vectorizers`.
        ngram_fit: their fitted weights (`apps.sentiment.ngram.fit_nb_logistic`).
        ngram_weight: the n-gram branch's weight in `[0, 1]`; the recurrent branch gets
            the rest.

    Returns:
        A `SentimentClassifier` (same config, class names and name as `recurrent`) from
        strings `(batch,)` to probabilities `(batch, classes)`, output name `probabilities`.
    """
    num_classes = len(recurrent.class_names)
    text = keras.Input(shape=(), dtype="string", name="text")
    recurrent_probabilities = recurrent(text)
    logits = ngram.ngram_logits(text, vectorizers, ngram_fit, num_classes)
    ngram_probabilities = keras.layers.Softmax(dtype="float32", name="ngram_probabilities")(logits)
    mixed = keras.layers.Add(dtype="float32", name="probabilities")(
        [
            keras.layers.Rescaling(1.0 - ngram_weight, name="recurrent_share")(
                recurrent_probabilities
            ),
            keras.layers.Rescaling(ngram_weight, name="ngram_share")(ngram_probabilities),
        ]
    )
    return SentimentClassifier(
        text, mixed, model_config=recurrent.model_config, class_names=recurrent.class_names,
        name=recurrent.name,
    )  # fmt: skip
