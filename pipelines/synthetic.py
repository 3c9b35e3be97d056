"""Deterministic, generated sequence data for the demo and the tests.

The "order" task: every sequence holds exactly two events, A and B, at distinct random
time steps, on top of Gaussian noise. Feature 0 carries event A, feature 1 carries event B,
the remaining features carry noise only. The label is 1 when A comes before B and 0
otherwise. Each sequence contains the same events whatever its label, so a model that
ignores the order of the time steps (a bag of frames) cannot beat chance, while a recurrent
model solves it in a few epochs.

Example:

>>> x, y = make_order(8, timesteps=10, features=3, seed=0)
>>> x.shape, x.dtype.name, y.shape, int(y.sum())
((8, 10, 3), 'float32', (8,), 4)
"""

import numpy as np

from pipelines._checks import check_float, check_int
from pipelines._tfdata import arrays_dataset

ORDER_NUM_CLASSES = 2
"""Number of classes of the order task (0: B before A, 1: A before B)."""


def make_order(n, *, timesteps=16, features=4, noise=0.1, seed=0):
    """Generates the order task as numpy arrays.

    Args:
        n: number of sequences, at least 2. Labels are balanced: `n // 2` sequences
            have label 1 and the rest label 0, in random order.
        timesteps: length of every sequence, at least 2.
        features: features per time step, at least 2 (A, B, then noise channels).
        noise: standard deviation of the Gaussian noise added everywhere, >= 0.
        seed: seed of the `numpy.random.Generator`; the same seed gives the same data.

    Returns:
        A tuple `(x, y)`: `x` float32 of shape `(n, timesteps, features)`, `y` int32
        of shape `(n,)` with values in `{0, 1}`.
    """
    n = check_int("n", n, 2)
    timesteps = check_int("timesteps", timesteps, 2)
    features = check_int("features", features, 2)
    noise = check_float("noise", noise, 0.0)
    rng = np.random.default_rng(seed)

    y = rng.permutation(np.arange(n) % 2).astype(np.int32)
    # Two distinct steps per sequence, first < second.
    first = rng.integers(0, timesteps - 1, size=n)
    second = first + 1 + (rng.random(n) * (timesteps - 1 - first)).astype(np.int64)
    a_step = np.where(y == 1, first, second)
    b_step = np.where(y == 1, second, first)

    x = rng.normal(0.0, noise, size=(n, timesteps, features)).astype(np.float32)
    rows = np.arange(n)
    x[rows, a_step, 0] += 1.0
    x[rows, b_step, 1] += 1.0
    return x, y


def to_dataset(x, y, batch_size, *, shuffle=True, seed=0):
    """Turns arrays such as those of `make_order` into a batched `tf.data.Dataset`.

    Args:
        x: inputs, shape `(n, timesteps, features)`.
        y: labels, shape `(n,)`.
        batch_size: examples per batch, at least 1.
        shuffle: whether to reshuffle the examples at every iteration.
        seed: seed of the shuffle.

    Returns:
        A dataset of `(inputs, labels)` batches:
        cache -> shuffle -> batch -> prefetch(AUTOTUNE).
    """
    return arrays_dataset(x, y, batch_size, shuffle, seed, what="examples")
