"""Custom objects saved inside the sentiment model, registered for `.keras` loading.

- `standardizer(name)`: the `TextVectorization` standardiser of each name of
  `apps.sentiment.config.STANDARDIZERS`. Every one first maps the characters that split
  lines (`LINE_BREAKS`) to a space, so no vocabulary term can hold one (Keras reloads a
  vocabulary with `str.splitlines()`). `lower_split_punctuation` lower-cases (Unicode aware)
  and puts spaces around ASCII punctuation other than the apostrophe, so `"great!"` gives
  the tokens `great` and `!` (Keras's default standardiser drops punctuation).
- `char_wb_ngrams`: a `TextVectorization` splitter giving the character 2- to 5-grams of
  every word (the n-gram branch of the hybrid model, `apps.sentiment.ngram`).
- `TokenWindow`: keeps the first `max_length` token ids of every row and pads to at least
  one step, so a batch of empty strings still has a (fully masked) time axis.
- `MaskedPooling`: `"max"` or `"mean"` over the time steps that the mask keeps.

Every object is registered under the package `seqcore_apps`; importing this module (which
imports `seqcore`, and which `apps.sentiment.model` imports) is all a fresh process needs to
load a saved model.

Example:

>>> import numpy as np
>>> TokenWindow(3)(np.array([[5, 6, 7, 8]])).numpy().tolist()
[[5, 6, 7]]
>>> x = np.array([[[1.0], [3.0], [9.0]]], dtype="float32")
>>> mask = np.array([[True, True, False]])
>>> MaskedPooling("mean")(x, mask=mask).numpy().tolist()
[[2.0]]
"""

import keras
import tensorflow as tf

import seqcore  # noqa: F401  (registers the recurrent layers a saved model holds)
from apps.sentiment.config import STANDARDIZERS

PACKAGE = "seqcore_apps"
"""The `register_keras_serializable` package of the app's custom objects."""

LINE_BREAKS = r"[\r\n\x0b\x0c\x1c-\x1e\x{85}\x{2028}\x{2029}]"
"""The characters Python's `str.splitlines()` splits on (an RE2 class). Keras writes a
vocabulary asset as `"\\n".join(terms)` and reads it back with `splitlines()`, so one term
holding any of these would break the reload; every standardiser maps them to a space."""

_PUNCTUATION = r"""([!"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~])"""
_KERAS_PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'  # TextVectorization's


def _standardize(texts, steps):
    texts = tf.strings.regex_replace(texts, LINE_BREAKS, " ")
    if "lower" in steps:
        texts = tf.strings.lower(texts, encoding="utf-8")
    if "split" in steps:
        texts = tf.strings.regex_replace(texts, _PUNCTUATION, r" \1 ")
    if "strip" in steps:
        texts = tf.strings.regex_replace(texts, _KERAS_PUNCTUATION, "")
    return texts


def _register_standardizer(name, steps):
    def standardize(texts):
        return _standardize(texts, steps)

    standardize.__name__ = standardize.__qualname__ = name
    standardize.__doc__ = f"Standardises a string tensor: line breaks to spaces, then {steps}."
    return keras.saving.register_keras_serializable(package=PACKAGE, name=name)(standardize)


_STANDARDIZE_FUNCTIONS = {
    name: _register_standardizer(
        "lower_split_punctuation" if name == "lower_split_punctuation" else f"standardize_{name}",
        steps,
    )
    for name, steps in STANDARDIZERS.items()
}


def standardizer(name):
    """The registered `TextVectorization` standardiser of `name` (`config.STANDARDIZERS`).

    Every one maps `LINE_BREAKS` to a space first, in training and serving alike.
    """
    return _STANDARDIZE_FUNCTIONS[name]


lower_split_punctuation = standardizer("lower_split_punctuation")
"""Lower-cases (Unicode aware) and makes ASCII punctuation but the apostrophe its own token."""


CHAR_NGRAM_WIDTHS = (2, 3, 4, 5)
"""Lengths of the character n-grams (those of Wang & Manning-style models and fastText)."""


@keras.saving.register_keras_serializable(package=PACKAGE)
def char_wb_ngrams(texts):
    """Character 2- to 5-grams of every word of `texts`, each word padded by a space each side.

    Like scikit-learn's `analyzer="char_wb"`: n-grams never cross a word boundary, and the
    padding marks a word's start and end (`" go"`, `"od "`). Returns a ragged string tensor
    `(batch, n-grams)`.
    """
    words = tf.strings.split(texts)
    padded = tf.strings.join([" ", words.flat_values, " "])
    chars = tf.strings.unicode_split(padded, "UTF-8")
    grams = tf.strings.ngrams(chars, ngram_width=CHAR_NGRAM_WIDTHS, separator="")
    nested = tf.RaggedTensor.from_nested_row_splits(
        grams.flat_values, (words.row_splits, grams.row_splits)
    )
    return nested.merge_dims(1, 2)


@keras.saving.register_keras_serializable(package=PACKAGE)
class TokenWindow(keras.layers.Layer):
    """Keeps the first `max_length` token ids per row; pads the time axis to >= 1 step.

    Truncation bounds the cost of very long texts and makes a row's result independent of
    the other rows of its batch: a batch is padded to its longest (truncated) row, and the
    padding (id 0) is masked by the embedding.

    Args:
        max_length: the most tokens kept per text (an integer >= 1).
        **kwargs: base layer arguments (`name`, ...).

    Call arguments:
        inputs: int token ids of shape `(batch, steps)`, 0 for padding.

    Returns:
        Int token ids of shape `(batch, min(max(steps, 1), max_length))`.

    Example:

    >>> import numpy as np
    >>> TokenWindow(4)(np.zeros((2, 0), "int64")).shape
    TensorShape([2, 1])
    """

    def __init__(self, max_length, **kwargs):
        super().__init__(**kwargs)
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ValueError(
                f"`max_length` must be an integer >= 1. Received: max_length={max_length!r}"
            )
        self.max_length = max_length

    def call(self, inputs):
        inputs = inputs[:, : self.max_length]
        missing = tf.maximum(0, 1 - tf.shape(inputs)[1])
        return tf.pad(inputs, [[0, 0], [0, missing]])

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        if steps is not None:
            steps = min(max(steps, 1), self.max_length)
        return (input_shape[0], steps)

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedPooling(keras.layers.Layer):
    """Max or mean of a sequence over the time steps its mask keeps.

    A row whose steps are all masked (an empty text) pools to zeros.

    Args:
        mode: `"max"` or `"mean"`.
        **kwargs: base layer arguments (`name`, ...).

    Call arguments:
        inputs: a float tensor of shape `(batch, steps, features)`.
        mask: optional boolean tensor of shape `(batch, steps)`; `None` keeps every step.

    Returns:
        A tensor of shape `(batch, features)`.

    Example:

    >>> import numpy as np
    >>> x = np.array([[[1.0], [5.0], [3.0]]], dtype="float32")
    >>> MaskedPooling("max")(x, mask=np.array([[True, False, True]])).numpy().tolist()
    [[3.0]]
    """

    def __init__(self, mode="max", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("max", "mean"):
            raise ValueError(f"`mode` must be 'max' or 'mean'. Received: mode={mode!r}")
        self.mode = mode
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mask = tf.ones(tf.shape(inputs)[:2], dtype=tf.bool)
        keep = tf.cast(mask, inputs.dtype)[..., None]
        any_step = tf.reduce_any(mask, axis=1, keepdims=True)
        if self.mode == "mean":
            total = tf.reduce_sum(inputs * keep, axis=1)
            count = tf.reduce_sum(keep, axis=1)
            return total / tf.maximum(count, 1.0)
        lowest = tf.constant(inputs.dtype.min, inputs.dtype)
        pooled = tf.reduce_max(tf.where(keep > 0, inputs, lowest), axis=1)
        return tf.where(any_step, pooled, tf.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
