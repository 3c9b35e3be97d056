"""Picks the `tf.distribute` strategy of a training run (the CLI's `--strategy`).

- `default`: TensorFlow's default strategy (one device: the first GPU, else the CPU).
- `mirrored`: `tf.distribute.MirroredStrategy` over every local GPU (or the CPU), one
  machine, synchronous data parallelism.
- `multi-worker`: `tf.distribute.MultiWorkerMirroredStrategy`, configured from the
  `TF_CONFIG` environment variable (cluster and this worker's task); without `TF_CONFIG`
  it runs as a single worker. Create it before any other TensorFlow work in the process.

Build and compile the model inside `strategy.scope()`; `fit` then distributes the batches.
"""

import tensorflow as tf

from apps.common.settings import STRATEGIES


def get_strategy(name="default"):
    """Returns the `tf.distribute.Strategy` called `name` (one of `STRATEGIES`).

    Raises:
        ValueError: an unknown name.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(
        f"Unknown strategy; expected one of {', '.join(STRATEGIES)}. Received: strategy={name!r}"
    )


def describe(strategy):
    """A short description of `strategy`: class name and number of replicas."""
    return f"{type(strategy).__name__} ({strategy.num_replicas_in_sync} replica(s))"
