"""Text to `tf.data`: label encoding, a train-only vectorizer and string datasets.

The dataset carries **raw strings**; vectorisation happens inside the model (a
`keras.layers.TextVectorization` layer from `make_vectorizer`), so an exported model takes a
string and training and serving cannot drift apart.

- `encode_labels`: class names -> int ids, and the mapping used (sorted class names).
- `make_vectorizer`: a `TextVectorization` adapted on the **train texts only**. Adapting on
  validation or test texts would put their words into the vocabulary (and their document
  frequencies into TF-IDF weights): information about held-out data leaking into the model,
  which flatters evaluation. Words seen only outside train map to the OOV id 1.
- `text_dataset`: `(string, int)` pairs, cache -> shuffle -> batch -> prefetch(AUTOTUNE).
  With `bucket_boundaries`, batches group texts of similar whitespace token count
  (`Dataset.bucket_by_sequence_length`), so a vectorizer without a fixed
  `sequence_length` pads each batch to a length close to its texts' own.

Example:

>>> ids, mapping = encode_labels(["pos", "neg", "pos"])
>>> ids.tolist(), mapping
([1, 0, 1], {'neg': 0, 'pos': 1})
>>> ds = text_dataset(["a b", "c", "d e f"], ids, batch_size=2)
>>> [x.shape[0] for x, y in ds]
[2, 1]
"""

import numpy as np
import tensorflow as tf
from keras import layers

from pipelines._checks import check_int


def encode_labels(labels, class_names=None):
    """Maps class names to int ids.

    Args:
        labels: the class name of every example.
        class_names: the classes in id order; default the sorted distinct labels.

    Returns:
        `(ids, mapping)`: an int32 array of ids and the dict class name -> id.
    """
    labels = [str(x) for x in labels]
    names = sorted(set(labels)) if class_names is None else [str(x) for x in class_names]
    mapping = {name: i for i, name in enumerate(names)}
    if len(mapping) != len(names):
        raise ValueError(f"`class_names` has duplicates. Received: class_names={class_names!r}")
    unknown = sorted(set(labels) - set(mapping))
    if unknown:
        raise ValueError(f"labels {unknown} are not among the class names {names}")
    return np.array([mapping[x] for x in labels], dtype=np.int32), mapping


def make_vectorizer(
    train_texts, max_tokens=20000, sequence_length=None, standardize="lower_and_strip_punctuation"
):
    """A `TextVectorization` layer (int output) adapted on the train texts only.

    Pass only the training texts: see the module docstring on leakage.

    Args:
        train_texts: the training texts (a list of strings).
        max_tokens: vocabulary size, including the padding (0) and OOV (1) ids.
        sequence_length: fixed output length (pad or truncate), or `None` to pad each batch
            to its longest text.
        standardize: as for `TextVectorization` (a name, `None` or a registered callable).

    Returns:
        The adapted layer.
    """
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 3:
        raise ValueError(
            f"`max_tokens` must be an integer >= 3. Received: max_tokens={max_tokens!r}"
        )
    if sequence_length is not None and (
        isinstance(sequence_length, bool)
        or not isinstance(sequence_length, int)
        or sequence_length < 1
    ):
        raise ValueError(
            "`sequence_length` must be None or an integer >= 1. "
            f"Received: sequence_length={sequence_length!r}"
        )
    train_texts = [str(t) for t in train_texts]
    if not train_texts:
        raise ValueError("`train_texts` is empty; the vectorizer needs texts to adapt on")
    vectorizer = layers.TextVectorization(
        max_tokens=max_tokens,
        standardize=standardize,
        output_mode="int",
        output_sequence_length=sequence_length,
    )
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(train_texts).batch(1024))
    return vectorizer


def token_counts(texts):
    """Whitespace token count of every string in `texts` (a string tensor), as int32."""
    return tf.cast(tf.strings.split(texts).row_lengths(), tf.int32)


def text_dataset(texts, labels, batch_size, shuffle=False, seed=None, bucket_boundaries=None):
    """A `tf.data.Dataset` of `(string, int32 label)` batches.

    Args:
        texts: the texts.
        labels: int class ids (see `encode_labels`), one per text.
        batch_size: examples per batch.
        shuffle: reshuffle the examples every epoch.
        seed: the shuffle seed; the same seed gives the same order.
        bucket_boundaries: increasing whitespace token counts; batches then hold texts
            whose counts fall between the same two boundaries.

    Returns:
        The dataset: cache -> shuffle -> batch (or bucket) -> prefetch(AUTOTUNE).
    """
    batch_size = check_int("batch_size", batch_size, 1)
    texts = [str(t) for t in texts]
    labels = np.asarray(labels, dtype=np.int32)
    if labels.shape != (len(texts),):
        raise ValueError(
            f"`labels` must hold one int per text: {len(texts)} texts, labels of shape "
            f"{labels.shape}"
        )
    strings = tf.constant(texts, tf.string)
    bounds = None
    if bucket_boundaries:
        bounds = [int(b) for b in bucket_boundaries]
        if not bounds or bounds[0] < 1 or bounds != sorted(set(bounds)):
            raise ValueError(
                "`bucket_boundaries` must be increasing integers >= 1. "
                f"Received: bucket_boundaries={bucket_boundaries!r}"
            )
    # Token counts are computed once, for the whole set, and cached with the examples.
    lengths = token_counts(strings) if bounds else tf.zeros(len(texts), tf.int32)
    ds = tf.data.Dataset.from_tensor_slices((strings, labels, lengths)).cache()
    if shuffle:
        ds = ds.shuffle(max(len(texts), 1), seed=seed, reshuffle_each_iteration=True)
    if bounds:
        ds = ds.bucket_by_sequence_length(
            element_length_func=lambda text, label, length: length,
            bucket_boundaries=bounds,
            bucket_batch_sizes=[batch_size] * (len(bounds) + 1),
        )
    else:
        ds = ds.batch(batch_size)
    ds = ds.map(lambda text, label, length: (text, label), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
