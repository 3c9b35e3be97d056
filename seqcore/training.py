"""Training tools for recurrent models: gradient clipping, gradient-norm logging and
truncated backpropagation through time.

* `DEFAULT_CLIP_NORM` and `clipped_optimizer(...)`: a Keras optimizer that clips the
  gradients of all weights together by their global L2 norm (on by default).
* `GradientNormTracker(optimizer)`: an optimizer wrapper that applies `optimizer` and
  adds up the global gradient norm of every update *before* clipping, and
  `GradientNormLogger()`: a `keras.callbacks.Callback` that puts its mean over each
  epoch's updates in the epoch's logs as `grad_norm` (so `History` and the progress bar
  show it).
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
    "GradientNormTracker",
    "TruncatedBPTT",
    "clipped_optimizer",
    "find_tracker",
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


@keras.saving.register_keras_serializable(package="seqcore")
class GradientNormTracker(keras.optimizers.Optimizer):
    """An optimizer that applies `inner_optimizer` and adds up the global gradient norm
    of every update, before clipping.

    It wraps another optimizer the way `keras.optimizers.LossScaleOptimizer` does: every
    update goes to `inner_optimizer` unchanged (its `clipnorm`, `global_clipnorm`,
    learning rate and variables are its own), and before it the L2 norm of all gradients
    together is added to a running total. `GradientNormLogger` reads the mean over each
    epoch. The norm is taken before any clipping, and after loss-scale unscaling (Keras
    wraps this optimizer in a `LossScaleOptimizer` under a mixed-precision policy, and
    an inner `LossScaleOptimizer`'s scale is divided out). Under a multi-replica
    `tf.distribute` strategy each replica's gradients are summed first (one extra
    all-reduce per update), so the norm is that of the whole batch's gradient.

    Works with any training step that calls `optimizer.apply` or `apply_gradients`
    (Keras's default `train_step`, `TruncatedBPTT`), with nothing replaced on the model
    or the optimizer and no retrace.

    Args:
        inner_optimizer: A `keras.optimizers.Optimizer` (or a name
            `keras.optimizers.get` knows), e.g. from `clipped_optimizer`.
        name: Optional name.

    Example:

    >>> import numpy as np, keras
    >>> from seqcore.training import GradientNormTracker, clipped_optimizer
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False,
    ...                           kernel_initializer="ones")])
    >>> optimizer = GradientNormTracker(clipped_optimizer("sgd", 0.1, clip_norm=1.0))
    >>> model.compile(optimizer, "mse")
    >>> _ = model.train_on_batch(np.full((2, 1), 3.0), np.zeros((2, 1)))
    >>> optimizer.updates_counted, optimizer.mean_norm()  # d(w x)^2/dw = 2 w x^2 = 18
    (1, 18.0)
    """

    def __init__(self, inner_optimizer, name=None, **kwargs):
        if kwargs:
            raise ValueError(
                "GradientNormTracker takes only `inner_optimizer` and `name`; set the other "
                f"options on the inner optimizer. Received: {', '.join(sorted(kwargs))}"
            )
        try:
            inner = keras.optimizers.get(inner_optimizer)
        except ValueError:
            inner = None
        if not isinstance(inner, keras.optimizers.Optimizer):
            raise ValueError(
                "`inner_optimizer` must be a Keras optimizer or its name. "
                f"Received: inner_optimizer={inner_optimizer!r}"
            )
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner
        self._total = None
        self._count = None

    def build(self, var_list):
        # Plain tf.Variables (not optimizer state: not saved with the model), mirrored
        # under the strategy the optimizer is built in, written by the first replica.
        self._total = _accumulator("grad_norm_total", "float32")
        self._count = _accumulator("grad_norm_count", "float32")
        self.inner_optimizer.build(var_list)
        super().build(var_list)

    @property
    def variables(self):
        return self._variables + self.inner_optimizer.variables

    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if not self.built:
            with keras.name_scope(self.name, caller=self):
                self.build(trainable_variables)
            self.built = True
        norm = global_norm(_summed_over_replicas(grads))
        if isinstance(self.inner_optimizer, keras.optimizers.LossScaleOptimizer):
            scale = self.inner_optimizer.dynamic_scale
            norm = norm / tf.cast(tf.convert_to_tensor(scale), norm.dtype)
        self._total.assign_add(norm)
        self._count.assign_add(1.0)
        self.inner_optimizer.apply(grads, trainable_variables)

    def reset_norms(self):
        """Starts a new running total (`GradientNormLogger` does at each epoch)."""
        if self._total is not None:
            self._total.assign(0.0)
            self._count.assign(0.0)

    @property
    def updates_counted(self):
        """Updates added up since the last `reset_norms` (0 before the first one)."""
        return 0 if self._count is None else int(self._count.numpy())

    def mean_norm(self):
        """Mean global gradient norm over the updates since `reset_norms`, or None."""
        if not self.updates_counted:
            return None
        return float(self._total.numpy()) / float(self._count.numpy())

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    def scale_loss(self, loss):
        return self.inner_optimizer.scale_loss(loss)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self):
        return {
            "name": self.name,
            "inner_optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(
            config.pop("inner_optimizer"), custom_objects=custom_objects
        )
        return cls(inner, **config)


def find_tracker(optimizer):
    """The `GradientNormTracker` in `optimizer`'s chain of `inner_optimizer`s, or None."""
    while optimizer is not None and not isinstance(optimizer, GradientNormTracker):
        optimizer = getattr(optimizer, "inner_optimizer", None)
    return optimizer


class GradientNormLogger(keras.callbacks.Callback):
    """Logs the global gradient norm before clipping as `grad_norm` in each epoch's logs.

    `grad_norm` is the mean, over the optimizer updates of the epoch, of the L2 norm of
    all gradients together as the optimizer receives them, before any `clipnorm`,
    `clipvalue` or `global_clipnorm` clipping (and after loss-scale unscaling). It
    appears in `History.history` and on the progress bar. A rising `grad_norm` signals
    exploding gradients; one far above the clipping threshold shows how much clipping
    acts.

    The norms are added up by the model's optimizer, which must be a
    `GradientNormTracker` (compile with `GradientNormTracker(optimizer)`; Keras's
    mixed-precision `LossScaleOptimizer` around it is fine); this callback resets the
    total at each epoch and reads the mean at its end. Nothing is patched and the train
    function is not retraced; a `fit` without this callback leaves `grad_norm` out.

    Callbacks run in list order and share each epoch's logs: put this one before any
    callback that reads `grad_norm` in `on_epoch_end` (a progress printer, a CSV logger);
    `History` and Keras's progress bar always come after it.

    Example:

    >>> import numpy as np, keras
    >>> from seqcore.training import GradientNormLogger, GradientNormTracker
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile(GradientNormTracker(keras.optimizers.SGD(0.1)), "mse")
    >>> history = model.fit(np.ones((4, 3)), np.zeros((4, 1)), epochs=2, verbose=0,
    ...                     callbacks=[GradientNormLogger()])
    >>> len(history.history["grad_norm"])
    2
    """

    def __init__(self):
        super().__init__()
        self._tracker = None

    def on_train_begin(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            raise ValueError(
                "GradientNormLogger needs a compiled model with an optimizer. "
                f"Received: model={self.model.name!r} without an optimizer"
            )
        self._tracker = find_tracker(optimizer)
        if self._tracker is None:
            raise ValueError(
                "GradientNormLogger reads the gradient norms a GradientNormTracker adds up: "
                "compile with `optimizer=seqcore.training.GradientNormTracker(optimizer)`. "
                f"Received: optimizer {type(optimizer).__name__} {optimizer.name!r}"
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._tracker.reset_norms()

    def on_epoch_end(self, epoch, logs=None):
        mean = self._tracker.mean_norm()
        if logs is not None and mean is not None:
            logs["grad_norm"] = mean

    def on_train_end(self, logs=None):
        self._tracker = None


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
