"""Training tools for recurrent models: gradient clipping, gradient-norm logging and
truncated backpropagation through time.

* `DEFAULT_CLIP_NORM` and `clipped_optimizer(...)`: a Keras optimizer that clips the
  gradients of all weights together by their global L2 norm (on by default).
* `GradientNormLogger()`: a `keras.callbacks.Callback` that adds `grad_norm`, the mean
  over the epoch's updates of the global gradient norm *before* clipping, to each
  epoch's logs (so `History` and the progress bar show it).
* `TruncatedBPTT(model, k1, k2)`: trains a model of seqcore recurrent layers on long
  sequences in chunks, carrying the recurrent states across chunks with the gradient
  stopped at the boundaries (Williams & Peng 1990). See `seqcore/tbptt.py`.
"""

import keras
import tensorflow as tf

from seqcore.tbptt import TruncatedBPTT

__all__ = [
    "DEFAULT_CLIP_NORM",
    "GradientNormLogger",
    "TruncatedBPTT",
    "clipped_optimizer",
    "global_norm",
]

DEFAULT_CLIP_NORM = 1.0
"""Global-norm clipping threshold the apps use unless told otherwise."""


def clipped_optimizer(name_or_optimizer="adam", learning_rate=None, clip_norm=DEFAULT_CLIP_NORM):
    """A Keras optimizer that clips the gradients by their global norm.

    Args:
        name_or_optimizer: An optimizer name that `keras.optimizers.get` knows
            (`"adam"`, `"sgd"`, `"rmsprop"`, ...) or a `keras.optimizers.Optimizer`
            instance. An instance is rebuilt from its config (it must not be built yet)
            with the clipping set; any `clipnorm`/`clipvalue` it had is dropped.
        learning_rate: Float or `keras.optimizers.schedules.LearningRateSchedule`.
            None keeps the optimizer's own (Keras's default for a name).
        clip_norm: Positive float: the largest global L2 norm of all gradients
            together; larger gradients are scaled down to this norm. None disables
            clipping.

    Returns:
        A new, unbuilt `keras.optimizers.Optimizer` with `global_clipnorm=clip_norm`.

    Example:

    >>> from seqcore.training import clipped_optimizer
    >>> optimizer = clipped_optimizer("adam", learning_rate=1e-2, clip_norm=0.5)
    >>> type(optimizer).__name__, optimizer.global_clipnorm
    ('Adam', 0.5)
    """
    if clip_norm is not None:
        if isinstance(clip_norm, bool) or not isinstance(clip_norm, (int, float)):
            raise ValueError(
                f"`clip_norm` must be a positive number or None. Received: clip_norm={clip_norm!r}"
            )
        if not clip_norm > 0:
            raise ValueError(
                f"`clip_norm` must be a positive number or None. Received: clip_norm={clip_norm}"
            )
        clip_norm = float(clip_norm)
    if isinstance(name_or_optimizer, keras.optimizers.Optimizer):
        if name_or_optimizer.built:
            raise ValueError(
                "`name_or_optimizer` must be an optimizer name or an unbuilt optimizer; "
                f"this one is already built. Received: name_or_optimizer={name_or_optimizer}"
            )
        config = name_or_optimizer.get_config()
        cls = type(name_or_optimizer)
    elif isinstance(name_or_optimizer, str):
        try:
            base = keras.optimizers.get(name_or_optimizer)
        except ValueError:
            raise ValueError(
                "`name_or_optimizer` must be a Keras optimizer name or instance. "
                f"Received: name_or_optimizer={name_or_optimizer!r}"
            ) from None
        config = base.get_config()
        cls = type(base)
    else:
        raise ValueError(
            "`name_or_optimizer` must be a Keras optimizer name or instance. "
            f"Received: name_or_optimizer={name_or_optimizer!r}"
        )
    config.update(clipnorm=None, clipvalue=None, global_clipnorm=clip_norm)
    if learning_rate is not None:
        config["learning_rate"] = learning_rate
    return cls.from_config(config)


def global_norm(gradients):
    """The L2 norm of all `gradients` together (None entries skipped), in float32.

    Args:
        gradients: A list of tensors, `tf.IndexedSlices` or None.

    Returns:
        A scalar float32 tensor (0 when there is no gradient).
    """
    squares = []
    for gradient in gradients:
        if gradient is None:
            continue
        if isinstance(gradient, tf.IndexedSlices):
            gradient = gradient.values
        squares.append(tf.reduce_sum(tf.square(tf.cast(gradient, "float32"))))
    if not squares:
        return tf.constant(0.0)
    return tf.sqrt(tf.add_n(squares))


class GradientNormLogger(keras.callbacks.Callback):
    """Logs the global gradient norm before clipping as `grad_norm` in each epoch's logs.

    `grad_norm` is the mean, over the optimizer updates of the epoch, of the L2 norm of
    all gradients together as the optimizer receives them, before any `clipnorm`,
    `clipvalue` or `global_clipnorm` clipping (and after loss-scale unscaling for a
    `keras.optimizers.LossScaleOptimizer`). It appears in `History.history` and on the
    progress bar. A rising `grad_norm` signals exploding gradients; one far above the
    clipping threshold shows how much clipping acts.

    How: at the start of `fit` the callback wraps the `apply` method of the model's
    optimizer (on that instance only) to add each update's norm to two variables, and
    rebuilds the model's train function so the wrapper is traced into it. At the end of
    `fit` the optimizer is restored and the train function dropped (the next `fit`
    traces a clean one). Works with any model whose training step calls
    `optimizer.apply` or `optimizer.apply_gradients` (Keras's default `train_step`,
    `TruncatedBPTT`). Under a multi-replica `tf.distribute` strategy each replica's
    gradients are summed (one extra all-reduce per update) so the norm is that of the
    whole batch's gradient.

    Callbacks run in list order and share each epoch's logs: put this one before any
    callback that reads `grad_norm` in `on_epoch_end` (a progress printer, a CSV logger);
    `History` and Keras's progress bar always come after it.

    Example:

    >>> import numpy as np, keras
    >>> from seqcore.training import GradientNormLogger, clipped_optimizer
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile(clipped_optimizer("sgd", 0.1), "mse")
    >>> history = model.fit(np.ones((4, 3)), np.zeros((4, 1)), epochs=2, verbose=0,
    ...                     callbacks=[GradientNormLogger()])
    >>> len(history.history["grad_norm"])
    2
    """

    def __init__(self):
        super().__init__()
        self._total = None
        self._count = None
        self._target = None

    def on_train_begin(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            raise ValueError(
                "GradientNormLogger needs a compiled model with an optimizer. "
                f"Received: model={self.model.name!r} without an optimizer"
            )
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = optimizer.inner_optimizer
        strategy = getattr(self.model, "distribute_strategy", None) or tf.distribute.get_strategy()
        if self._total is None:
            with strategy.scope():
                self._total = _accumulator("grad_norm_total", "float32")
                self._count = _accumulator("grad_norm_count", "float32")
        self._target = optimizer
        original = type(optimizer).apply
        total, count = self._total, self._count

        def apply(grads, trainable_variables=None):
            grads = list(grads)
            total.assign_add(global_norm(_summed_over_replicas(grads)))
            count.assign_add(1.0)
            return original(optimizer, grads, trainable_variables)

        optimizer.apply = apply
        self.model.make_train_function(force=True)

    def on_epoch_begin(self, epoch, logs=None):
        self._total.assign(0.0)
        self._count.assign(0.0)

    def on_epoch_end(self, epoch, logs=None):
        count = float(self._count.numpy())
        if logs is not None and count > 0:
            logs["grad_norm"] = float(self._total.numpy()) / count

    def on_train_end(self, logs=None):
        if self._target is not None and "apply" in vars(self._target):
            del self._target.apply
        self._target = None
        self.model.train_function = None


def _summed_over_replicas(grads):
    """`grads` summed over the replicas of a multi-replica strategy (as the optimizer
    will apply them); unchanged outside one."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return grads
    present = [g for g in grads if g is not None]
    return context.all_reduce(tf.distribute.ReduceOp.SUM, present)


def _accumulator(name, dtype):
    return tf.Variable(
        0.0,
        dtype=dtype,
        trainable=False,
        name=name,
        synchronization=tf.VariableSynchronization.ON_WRITE,
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
    )
