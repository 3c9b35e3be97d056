"""The sentiment model: raw strings in, class probabilities out.

`build_model(config, vectorizer, num_classes)` assembles

    text (string) -> TextVectorization (adapted on the train texts only)
      -> TokenWindow(max_length) -> Embedding(mask_zero=True) -> Dropout
      -> encoder (default: seqcore recurrent layers, bidirectional, stacked)
      -> pooling ("last" state, or "max" / "mean" over the unmasked steps)
      -> Dense head (relu + Dropout per size) -> Dense(num_classes, softmax)

from a **model config**: a plain dict, a preset of `PRESETS` updated with overrides by
`model_config`. Padding (id 0) is masked from the embedding on, and every text is cut to
its first `max_length` tokens, so a text's probabilities do not depend on the other texts
of its batch, and a 10k-word text costs no more than `max_length` tokens.

Model config keys (all plain JSON values):

- `max_tokens`: vocabulary size including padding (0) and OOV (1).
- `max_length`: the most tokens read per text (the rest is ignored).
- `standardize`: `"lower_split_punctuation"` (lower-case, punctuation as its own tokens),
  or a `TextVectorization` name: `"lower_and_strip_punctuation"`, `"lower"`,
  `"strip_punctuation"`, `"none"` or `None` (no change).
- `embedding_dim`: size of the word vectors (taken from the file with pretrained ones).
- `encoder`: a key of `ENCODERS` (`"rnn"`).
- `cell`: `"lstm"`, `"gru"` or `"simple_rnn"` (seqcore layers).
- `units`: units per direction; `num_layers`: stacked layers; `bidirectional`: bool.
- `dropout`: rate after the embedding, after the pooling and after each head layer;
  `recurrent_dropout`: seqcore's recurrent dropout (slower: no fused loop).
- `pooling`: `"last"`, `"max"` or `"mean"`.
- `dense`: sizes of the relu layers of the head (a list, may be empty).

Example:

>>> import tensorflow as tf
>>> config = model_config("small", units=4, embedding_dim=8)
>>> vectorizer = build_vectorizer(config, ["good movie", "bad movie"])
>>> model = build_model(config, vectorizer, num_classes=2)
>>> model(tf.constant(["a good one", ""])).shape
TensorShape([2, 2])
"""

import copy

import keras

import seqcore
from apps.sentiment import ngram
from apps.sentiment.layers import POOLINGS, MaskedPooling, TokenWindow, lower_split_punctuation
from pipelines.text import make_vectorizer

PRESETS = {
    "small": {
        "max_tokens": 20000,
        "max_length": 400,
        "standardize": "lower_split_punctuation",
        "embedding_dim": 64,
        "encoder": "rnn",
        "cell": "lstm",
        "units": 32,
        "num_layers": 1,
        "bidirectional": True,
        "dropout": 0.2,
        "recurrent_dropout": 0.0,
        "pooling": "last",
        "dense": [],
        "token_ratios": False,
        "ngram_weight": 0.0,
        "word_ngrams": 3,
        "char_ngrams": True,
        "max_ngrams": 500000,
        "ngram_c": 0.3,
    },
    "base": {
        "max_tokens": 20000,
        "max_length": 400,
        "standardize": "lower_split_punctuation",
        "embedding_dim": 128,
        "encoder": "rnn",
        "cell": "gru",
        "units": 64,
        "num_layers": 1,
        "bidirectional": True,
        "dropout": 0.5,
        "recurrent_dropout": 0.0,
        "pooling": "max",
        "dense": [],
        "token_ratios": True,
        "ngram_weight": "auto",
        "word_ngrams": 3,
        "char_ngrams": True,
        "max_ngrams": 500000,
        "ngram_c": 0.3,
    },
}
"""Model configs by name (plain data). `model_config(name, **overrides)` copies one."""

DEFAULT_PRESET = "base"

CELLS = {"lstm": seqcore.LSTM, "gru": seqcore.GRU, "simple_rnn": seqcore.SimpleRNN}
"""Recurrent layer per `cell` name."""

STANDARDIZERS = {
    "lower_split_punctuation": lower_split_punctuation,
    "lower_and_strip_punctuation": "lower_and_strip_punctuation",
    "lower": "lower",
    "strip_punctuation": "strip_punctuation",
    "none": None,
    None: None,
}
"""`standardize` names and what `TextVectorization` gets for each."""


def _fail(key, value, expected):
    raise ValueError(
        f"Invalid model setting `{key}`: expected {expected}. Received: {key}={value!r}"
    )


def _positive_int(key, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _fail(key, value, "an integer >= 1")


def _rate(key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        _fail(key, value, "a number in [0, 1)")


def check_model_config(config):
    """Raises `ValueError` naming the first key of `config` that is unknown or invalid."""
    known = set(PRESETS[DEFAULT_PRESET])
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(
            f"Unknown model setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    missing = sorted(known - set(config))
    if missing:
        raise ValueError(f"Model config lacks {', '.join(missing)}")
    for key in ("max_length", "embedding_dim", "units", "num_layers"):
        _positive_int(key, config[key])
    _positive_int("max_tokens", config["max_tokens"])
    if config["max_tokens"] < 3:
        _fail("max_tokens", config["max_tokens"], "an integer >= 3")
    for key in ("dropout", "recurrent_dropout"):
        _rate(key, config[key])
    choices = {
        "standardize": list(STANDARDIZERS),
        "encoder": list(ENCODERS),
        "cell": list(CELLS),
        "pooling": list(POOLINGS),
    }
    for key, allowed in choices.items():
        if config[key] not in allowed:
            _fail(key, config[key], f"one of {allowed}")
    if not isinstance(config["bidirectional"], bool):
        _fail("bidirectional", config["bidirectional"], "true or false")
    for key in ("token_ratios", "char_ngrams"):
        if not isinstance(config[key], bool):
            _fail(key, config[key], "true or false")
    weight = config["ngram_weight"]
    if weight != "auto" and (
        isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1
    ):
        _fail("ngram_weight", weight, '"auto" or a number in [0, 1]')
    word_ngrams = config["word_ngrams"]
    if isinstance(word_ngrams, bool) or not isinstance(word_ngrams, int) or word_ngrams < 0:
        _fail("word_ngrams", word_ngrams, "an integer >= 0")
    if uses_ngrams(config) and not (word_ngrams or config["char_ngrams"]):
        _fail("word_ngrams", word_ngrams, "an integer >= 1 when char_ngrams is false")
    _positive_int("max_ngrams", config["max_ngrams"])
    c = config["ngram_c"]
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not c > 0:
        _fail("ngram_c", c, "a number > 0")
    dense = config["dense"]
    if not isinstance(dense, (list, tuple)) or any(
        isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dense
    ):
        _fail("dense", dense, "a list of integers >= 1")
    return config


def uses_ngrams(config):
    """Whether `config` has the n-gram branch (an `ngram_weight` of `"auto"` or above 0)."""
    return config["ngram_weight"] == "auto" or config["ngram_weight"] > 0


def model_config(preset=DEFAULT_PRESET, **overrides):
    """A model config: a copy of `PRESETS[preset]` updated with the overrides not `None`.

    Raises:
        ValueError: an unknown preset, or an unknown or invalid setting (named).
    """
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset; expected one of {list(PRESETS)}. Received: {preset!r}")
    config = copy.deepcopy(PRESETS[preset])
    config.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(config["dense"], tuple):
        config["dense"] = list(config["dense"])
    return check_model_config(config)


def build_vectorizer(config, train_texts):
    """The `TextVectorization` layer of `config`, adapted on `train_texts` (train only)."""
    return make_vectorizer(
        list(train_texts),
        max_tokens=config["max_tokens"],
        sequence_length=None,
        standardize=STANDARDIZERS[config["standardize"]],
    )


def _rnn_encoder(x, config):
    """Stacked (bi)directional seqcore layers; the last returns its final state for "last"."""
    layer_class = CELLS[config["cell"]]
    for index in range(config["num_layers"]):
        last = index == config["num_layers"] - 1
        layer = layer_class(
            config["units"],
            return_sequences=not (last and config["pooling"] == "last"),
            recurrent_dropout=config["recurrent_dropout"],
            name=f"{config['cell']}_{index + 1}",
        )
        if config["bidirectional"]:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{index + 1}")
        x = layer(x)
    return x


ENCODERS = {"rnn": _rnn_encoder}
"""Encoder builders by `encoder` name: `fn(embedded_sequence, config) -> tensor`. An encoder
returns `(batch, features)` when `config["pooling"] == "last"`, else a masked sequence."""


def build_model(config, vectorizer, num_classes, name="sentiment_classifier", token_ratios=None):
    """Builds the (uncompiled) classifier of `config` around an adapted `vectorizer`.

    Args:
        config: a model config (see the module docstring; `model_config` makes one).
        vectorizer: a `TextVectorization` adapted on the training texts.
        num_classes: number of classes (>= 2).
        name: the model name.
        token_ratios: with `config["token_ratios"]`, the `(vocabulary, k)` log-count ratios
            of `apps.sentiment.ngram.token_log_ratios`, a frozen feature beside the
            embedding.

    Returns:
        A `keras.Model` from a batch of strings `(batch,)` to probabilities
        `(batch, num_classes)` (float32, output name `probabilities`).
    """
    check_model_config(config)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"`num_classes` must be an integer >= 2. Received: {num_classes!r}")
    text = keras.Input(shape=(), dtype="string", name="text")
    x = vectorizer(text)
    ids = TokenWindow(config["max_length"], name="token_window")(x)
    x = keras.layers.Embedding(
        vectorizer.vocabulary_size(), config["embedding_dim"], mask_zero=True, name="embedding"
    )(ids)
    if config["dropout"]:
        x = keras.layers.Dropout(config["dropout"], name="embedding_dropout")(x)
    if config["token_ratios"]:
        if token_ratios is None:
            raise ValueError("config has token_ratios: pass the `token_ratios` matrix")
        ratios = keras.layers.Embedding(
            token_ratios.shape[0],
            token_ratios.shape[1],
            mask_zero=True,
            trainable=False,
            name="token_ratios",
        )
        features = ratios(ids)
        ratios.set_weights([token_ratios])
        x = keras.layers.Concatenate(name="word_features")([x, features])
    x = ENCODERS[config["encoder"]](x, config)
    if config["pooling"] != "last":
        x = MaskedPooling(config["pooling"], name=f"{config['pooling']}_pooling")(x)
    if config["dropout"]:
        x = keras.layers.Dropout(config["dropout"], name="pooled_dropout")(x)
    for index, size in enumerate(config["dense"], 1):
        x = keras.layers.Dense(size, activation="relu", name=f"dense_{index}")(x)
        if config["dropout"]:
            x = keras.layers.Dropout(config["dropout"], name=f"dense_{index}_dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(text, outputs, name=name)


def build_hybrid(recurrent, vectorizers, ngram_fit, ngram_weight, name="sentiment_classifier"):
    """Averages a trained recurrent classifier with the frozen n-gram branch.

    Args:
        recurrent: the trained model of `build_model` (strings -> probabilities).
        vectorizers: the n-gram layers of `apps.sentiment.ngram.ngram_vectorizers`.
        ngram_fit: their fitted weights (`apps.sentiment.ngram.fit_nb_logistic`).
        ngram_weight: the n-gram branch's weight in `[0, 1]`; the recurrent branch gets
            the rest.
        name: the model name.

    Returns:
        A `keras.Model` from strings `(batch,)` to probabilities `(batch, classes)`,
        output name `probabilities`.
    """
    num_classes = recurrent.output.shape[-1]
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
    return keras.Model(text, mixed, name=name)
