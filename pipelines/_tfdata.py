"""The `tf.data` tail shared by the array-based pipelines."""

import tensorflow as tf

from pipelines._checks import check_int


def arrays_dataset(x, y, batch_size, shuffle, seed, what="examples"):
    """`(x, y)` arrays -> cache -> shuffle (reshuffled every iteration) -> batch -> prefetch."""
    batch_size = check_int("batch_size", batch_size, 1)
    if len(x) != len(y):
        raise ValueError(
            f"`x` and `y` must hold the same number of {what}. "
            f"Received: len(x)={len(x)}, len(y)={len(y)}"
        )
    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
