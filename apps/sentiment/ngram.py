"""The n-gram half of the hybrid sentiment model: NB-weighted logistic regression.

On small text sets (a few thousand sentences) a recurrent network trained from scratch
overfits within one or two epochs, while a linear model on n-gram presence features with
naive-Bayes log-count-ratio weights (NBSVM, Wang & Manning 2012) is hard to beat. The two
make different mistakes, so the app's `hybrid` presets average their probabilities. This
module builds the n-gram half **inside the Keras model**, so it is saved, exported and
served with the rest:

    text -> TextVectorization(word 1..n-grams, multi-hot, sparse) -> Dense (frozen)  \\
    text -> TextVectorization(character n-grams within words, ...)  -> Dense (frozen) -> sum
         -> softmax

The `Dense` weights come from scikit-learn's `LogisticRegression` (L-BFGS, a convex fit),
trained on the binary features scaled by the log-count ratios `r` of the training texts
only: a feature's weight is `r * w`. Two classes use one ratio and one regression (logits
`-z/2, z/2`, so the softmax equals the regression's probability); more classes use one
ratio and one regression per class against the rest (one-vs-rest), then a softmax.

`token_log_ratios` gives the recurrent half the same evidence per word: the log-count
ratio of every vocabulary word for every class, used as a frozen feature beside the
learned embedding.

Example:

>>> import numpy as np
>>> texts = ["good fun", "very good", "bad plot", "very bad"]
>>> labels = np.array([1, 1, 0, 0])
>>> vectorizers = ngram_vectorizers(texts, word_ngrams=2)
>>> fit = fit_nb_logistic(features(vectorizers, texts), labels, num_classes=2)
>>> [k.shape[1] for k in split_kernel(fit["kernel"], vectorizers)]
[2, 2]
"""

import keras
import numpy as np
import tensorflow as tf
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from apps.sentiment.layers import char_wb_ngrams, lower_split_punctuation


def ngram_vectorizers(
    train_texts,
    word_ngrams=3,
    char_ngrams=True,
    max_ngrams=500000,
    standardize=lower_split_punctuation,
):
    """Multi-hot (sparse) `TextVectorization` layers adapted on the training texts only.

    Args:
        train_texts: the training texts.
        word_ngrams: word n-grams of length 1 to this (0 leaves words out).
        char_ngrams: whether to add character 2- to 5-grams within words.
        max_ngrams: vocabulary size of each vectorizer (most frequent n-grams).
        standardize: the `TextVectorization` standardiser (default: lower-case, punctuation
            split into tokens).

    Returns:
        A list of adapted layers (words first, then characters).
    """
    data = tf.data.Dataset.from_tensor_slices([str(t) for t in train_texts]).batch(1024)
    layers = []
    if word_ngrams:
        layers.append(
            keras.layers.TextVectorization(
                max_tokens=max_ngrams,
                standardize=standardize,
                ngrams=int(word_ngrams),
                output_mode="multi_hot",
                sparse=True,
                name="word_ngrams",
            )
        )
    if char_ngrams:
        layers.append(
            keras.layers.TextVectorization(
                max_tokens=max_ngrams,
                standardize=standardize,
                split=char_wb_ngrams,
                output_mode="multi_hot",
                sparse=True,
                name="char_ngrams",
            )
        )
    if not layers:
        raise ValueError("the n-gram branch needs word_ngrams >= 1 or char_ngrams")
    for layer in layers:
        layer.adapt(data)
    return layers


def features(vectorizers, texts, batch_size=1024):
    """Binary n-gram features of `texts` as one SciPy CSR matrix (out-of-vocabulary: 0)."""
    texts = [str(t) for t in texts]
    blocks = []
    for layer in vectorizers:
        rows = []
        for start in range(0, len(texts), batch_size):
            out = layer(tf.constant(texts[start : start + batch_size]))
            idx = out.indices.numpy()
            rows.append(
                sparse.csr_matrix(
                    (np.ones(len(idx), np.float32), (idx[:, 0], idx[:, 1])),
                    shape=tuple(out.dense_shape.numpy()),
                )
            )
        block = sparse.vstack(rows).tocsr() if rows else sparse.csr_matrix((0, 1))
        block.data[block.indices == 0] = 0  # id 0 gathers every out-of-vocabulary n-gram
        block.eliminate_zeros()
        blocks.append(block)
    return sparse.hstack(blocks).tocsr()


def log_count_ratios(x, labels, num_classes, alpha=1.0):
    """Naive-Bayes log-count ratios of the features `x` (examples x features).

    Returns `(features, 1)` for two classes (class 1 against class 0), else
    `(features, num_classes)` (each class against the rest). `alpha` smooths the counts.
    """
    labels = np.asarray(labels)
    x = sparse.csr_matrix(x)
    pairs = (
        [(labels == 1, labels == 0)]
        if num_classes == 2
        else [(labels == c, labels != c) for c in range(num_classes)]
    )
    ratios = []
    for positive, negative in pairs:
        p = alpha + np.asarray(x[positive].sum(axis=0)).ravel()
        q = alpha + np.asarray(x[negative].sum(axis=0)).ravel()
        ratios.append(np.log(p / p.sum()) - np.log(q / q.sum()))
    return np.stack(ratios, axis=1).astype(np.float32)


def fit_nb_logistic(x, labels, num_classes, C=0.3, alpha=1.0, max_iter=3000):
    """Fits NB-weighted logistic regression; returns `{"kernel", "bias"}` of a Dense layer.

    `kernel` has shape `(features, num_classes)`: `softmax(x @ kernel + bias)` gives the
    class probabilities (see the module docstring for the two-class and one-vs-rest cases).
    """
    labels = np.asarray(labels)
    ratios = log_count_ratios(x, labels, num_classes, alpha)
    if num_classes == 2:
        model = LogisticRegression(C=C, max_iter=max_iter)
        model.fit(x @ sparse.diags(ratios[:, 0]), labels)
        weights = ratios[:, 0] * model.coef_[0]
        kernel = np.stack([-weights / 2, weights / 2], axis=1)
        bias = np.array([-model.intercept_[0] / 2, model.intercept_[0] / 2])
    else:
        kernel = np.zeros((x.shape[1], num_classes))
        bias = np.zeros(num_classes)
        for c in range(num_classes):
            model = LogisticRegression(C=C, max_iter=max_iter)
            model.fit(x @ sparse.diags(ratios[:, c]), (labels == c).astype(int))
            kernel[:, c] = ratios[:, c] * model.coef_[0]
            bias[c] = model.intercept_[0]
    return {"kernel": kernel.astype(np.float32), "bias": bias.astype(np.float32)}


def split_kernel(kernel, vectorizers):
    """Splits a fitted kernel into one block per vectorizer (rows in `features` order)."""
    sizes = [layer.vocabulary_size() for layer in vectorizers]
    return np.split(kernel, np.cumsum(sizes)[:-1], axis=0)


def ngram_logits(text, vectorizers, fit, num_classes):
    """The frozen n-gram branch on the string tensor `text`: logits `(batch, num_classes)`."""
    logits = []
    for layer, block in zip(vectorizers, split_kernel(fit["kernel"], vectorizers), strict=True):
        dense = keras.layers.Dense(
            num_classes, use_bias=not logits, trainable=False, name=f"{layer.name}_weights"
        )
        logits.append(dense(layer(text)))
        dense.set_weights([block, fit["bias"]] if dense.use_bias else [block])
    return logits[0] if len(logits) == 1 else keras.layers.Add(name="ngram_logits")(logits)


def token_log_ratios(vectorizer, train_texts, labels, num_classes, alpha=1.0):
    """Log-count ratio of every word of `vectorizer`'s vocabulary, `(vocabulary, classes')`.

    Counts a word once per text (presence). Padding (0) and out-of-vocabulary (1) rows are
    zero. `classes'` is 1 for two classes, else `num_classes` (see `log_count_ratios`).
    """
    texts = [str(t) for t in train_texts]
    vocabulary = vectorizer.vocabulary_size()
    rows, cols = [], []
    for start in range(0, len(texts), 1024):
        ids = vectorizer(tf.constant(texts[start : start + 1024]))
        ids = ids.numpy() if hasattr(ids, "numpy") else np.asarray(ids)
        for offset, row in enumerate(ids):
            present = np.unique(row[row > 1])
            rows.extend([start + offset] * len(present))
            cols.extend(present.tolist())
    x = sparse.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(texts), vocabulary)
    )
    ratios = log_count_ratios(x, labels, num_classes, alpha)
    ratios[:2] = 0.0
    return ratios


def probabilities(vectorizers, fit, texts):
    """The n-gram branch's class probabilities for `texts`, computed with NumPy."""
    logits = features(vectorizers, texts) @ fit["kernel"] + fit["bias"]
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def choose_weight(recurrent_probabilities, ngram_probabilities, ids, steps=10):
    """The n-gram weight in `0, 1/steps, ..., 1` whose mixture has the least log-loss.

    Args:
        recurrent_probabilities, ngram_probabilities: `(examples, classes)` on held-out
            data (the validation part).
        ids: the true class ids of those examples.
        steps: grid size.

    Returns:
        `(weight, {weight: log_loss})`.
    """
    ids = np.asarray(ids)
    rows = np.arange(len(ids))
    losses = {}
    for step in range(steps + 1):
        weight = step / steps
        mixed = (1 - weight) * recurrent_probabilities + weight * ngram_probabilities
        losses[weight] = float(-np.mean(np.log(np.clip(mixed[rows, ids], 1e-7, 1.0))))
    return min(losses, key=losses.get), losses
