"""Truncated backpropagation through time (Williams & Peng 1990) through `model.fit`.

Full BPTT keeps the activations of every step of a sequence for the backward pass, so
its memory grows with the sequence length. `TruncatedBPTT(model, k1, k2)` trains the
same model on sequences of any length in windows: every `k1` steps one optimizer update
whose gradient reaches back at most `k2` steps. The recurrent states of every recurrent
layer are carried from window to window with the gradient stopped at the boundary, so
the model still sees the whole past in its states; only the credit assignment is cut.

The schedule, for a sequence of T steps (T known when the training step is traced):

* update 0 runs steps [0, min(k2, T)), its loss covering all of them;
* update w >= 1 runs the window [w k1, min(w k1 + k2, T)) from the states carried to
  step w k1, its loss covering only the steps no earlier update covered (the last `k1`,
  fewer in the last window).

With `k1 == k2 == k` this is the common chunked form: the sequence is cut into chunks of
`k` steps (the last one shorter if k does not divide T), one update per chunk. With
`k2 >= T` it is one full-BPTT update per batch. The windows of equal shape run in one
`tf.while_loop`, so a 100k-step sequence traces a handful of graphs, not a thousand.

Targets: per-step targets `y` of shape `(batch, T, ...)` for a model whose output has a
time axis (`return_sequences=True`), or sequence-final targets `(batch, ...)` for a model
that outputs one prediction per sequence. For the latter only the last window has a
loss: the steps before it are run forward only (no gradients, no updates) to carry the
states, and one update backpropagates through the last window.
"""

import contextlib

import keras
import tensorflow as tf
from keras import tree

from seqcore.hooks import with_hookable_layers

TARGETS = ("auto", "per_step", "final")


def _recurrent_layers(model):
    """The `keras.layers.RNN` layers of `model` in call order (nested models included);
    raises for layers that need the whole sequence."""
    found = []
    for layer in getattr(model, "layers", ()):
        if isinstance(layer, keras.layers.Bidirectional):
            raise ValueError(
                "TruncatedBPTT cannot train a bidirectional layer: its backward direction "
                "needs the whole sequence, which truncated BPTT never holds. "
                f"Received: layer {layer.name!r} ({type(layer).__name__})"
            )
        if isinstance(layer, keras.layers.RNN):
            if layer.go_backwards:
                raise ValueError(
                    "TruncatedBPTT cannot train a layer that reads the sequence backwards: "
                    f"it needs the whole sequence. Received: layer {layer.name!r} with "
                    "go_backwards=True"
                )
            if layer.stateful:
                raise ValueError(
                    "TruncatedBPTT carries the states itself; build the layer with "
                    f"stateful=False. Received: layer {layer.name!r} with stateful=True"
                )
            found.append(layer)
        elif getattr(layer, "layers", None):
            found.extend(_recurrent_layers(layer))
    return found


def _chunk_model(model, layers):
    """The model that runs the windows: `model` with Keras's own recurrent `layers`
    replaced by hookable twins on their cells (`seqcore.hooks.with_hookable_layers`), and
    a Functional model whose inputs fix the time axis rebuilt on the same layers with
    inputs of any length; the weights stay shared. Otherwise `model` itself."""
    return _variable_length(with_hookable_layers(model, layers))


def _variable_length(model):
    """A Functional model whose inputs declare a fixed time axis is rebuilt on the same
    layers (shared weights) with inputs of any length; other models are returned as is."""
    if isinstance(model, keras.Sequential) or not isinstance(model, keras.Model):
        return model
    inputs = getattr(model, "inputs", None)
    if not inputs or all(len(i.shape) < 3 or i.shape[1] is None for i in inputs):
        return model
    new_inputs = [
        keras.Input(batch_shape=(i.shape[0], None, *i.shape[2:]), dtype=i.dtype, name=i.name)
        if len(i.shape) >= 3
        else keras.Input(batch_shape=i.shape, dtype=i.dtype, name=i.name)
        for i in inputs
    ]
    return keras.models.clone_model(
        model,
        input_tensors=new_inputs if len(new_inputs) > 1 else new_inputs[0],
        clone_function=lambda layer: layer,
    )


def _time_slice(tensors, start, size):
    """Steps [start, start + size) of every tensor in the structure (axis 1); `start` may
    be a tensor, `size` is a Python int."""

    def cut(x):
        if not tf.is_tensor(start) and start == 0 and size == x.shape[1]:
            return x
        rank = len(x.shape)
        begin = [0, start] + [0] * (rank - 2)
        sizes = [-1, size] + [-1] * (rank - 2)
        out = tf.slice(x, tf.stack(begin) if tf.is_tensor(start) else begin, sizes)
        return tf.ensure_shape(out, [x.shape[0], size, *x.shape[2:]])

    return tree.map_structure(cut, tensors)


def _schedule(steps, k1, k2):
    """`(start, length, loss_steps)` of every window, in order."""
    first = min(k2, steps)
    windows = [(0, first, first)]
    covered = first
    start = 0
    while covered < steps:
        start += k1
        end = min(start + k2, steps)
        windows.append((start, end - start, end - covered))
        covered = end
    return windows


@keras.saving.register_keras_serializable(package="seqcore")
class TruncatedBPTT(keras.Model):
    """Trains `model` with truncated backpropagation through time through `fit`.

    Every `k1` steps one optimizer update, its gradient propagated back at most `k2`
    steps; the states of every recurrent layer (`h`, and `c` for an LSTM) are carried
    across windows with the gradient stopped at each window's start. Memory of a
    training step depends on `k2`, not on the sequence length. `fit` runs truncated
    BPTT; `evaluate`, `predict` and calling the wrapper run `model` on whole sequences.
    The wrapper shares the weights of `model`: save `model` itself.

    The layers of `model` must act step by step (recurrent layers, `Dense`, `Dropout`,
    `Masking`, ...): each window is run through the whole model. Bidirectional layers,
    layers with `go_backwards=True` and stateful layers are refused (`ValueError`). Any
    `keras.layers.RNN` works, seqcore's layers and Keras's own. The sequence length must
    be known when the training step is traced (fixed-length batches).

    Args:
        model: A Keras model with at least one recurrent layer. A Functional model
            whose `Input` fixes the number of steps is rebuilt on the same layers with
            inputs of any length.
        k1: Positive integer: steps between two updates.
        k2: Integer >= k1: steps the gradient is propagated back (default `k1`).
        targets: `"per_step"` (targets `(batch, T, ...)`, a loss on every step),
            `"final"` (targets `(batch, ...)`, a loss on the last window only), or
            `"auto"`: `"per_step"` when the model's output on a window has the window's
            length as axis 1, else `"final"`.
        carry_states: If False, every window starts from the initial (zero) states
            instead of the carried ones: training on independent chunks, the baseline
            that shows what carrying the states buys.

    Call arguments:
        inputs: `(batch, time, features)`; calls `model` on the whole sequence.
        training: Python boolean.

    Example:

    >>> import numpy as np, keras, seqcore
    >>> from seqcore.training import TruncatedBPTT
    >>> model = keras.Sequential([keras.Input((None, 1)),
    ...                           seqcore.LSTM(4, return_sequences=True),
    ...                           keras.layers.Dense(1)])
    >>> trainer = TruncatedBPTT(model, k1=10)
    >>> trainer.compile(optimizer="adam", loss="mse")
    >>> x = np.random.rand(8, 100, 1).astype("float32")
    >>> history = trainer.fit(x, x, batch_size=8, epochs=1, verbose=0)
    >>> int(trainer.optimizer.iterations)  # 100 steps / 10 per update
    10
    """

    def __init__(self, model, k1, k2=None, targets="auto", carry_states=True, **kwargs):
        super().__init__(**kwargs)
        if isinstance(k1, bool) or not isinstance(k1, int) or k1 < 1:
            raise ValueError(f"`k1` must be a positive integer. Received: k1={k1!r}")
        if k2 is None:
            k2 = k1
        if isinstance(k2, bool) or not isinstance(k2, int) or k2 < k1:
            raise ValueError(f"`k2` must be an integer >= k1 ({k1}) or None. Received: k2={k2!r}")
        if targets not in TARGETS:
            raise ValueError(f"`targets` must be one of {TARGETS}. Received: targets={targets!r}")
        if not isinstance(carry_states, bool):
            raise ValueError(
                f"`carry_states` must be a boolean. Received: carry_states={carry_states!r}"
            )
        if not isinstance(model, keras.Model):
            raise ValueError(f"`model` must be a keras.Model. Received: model={model!r}")
        layers = _recurrent_layers(model)
        if not layers:
            raise ValueError(
                "TruncatedBPTT needs a model with at least one recurrent layer "
                f"(keras.layers.RNN, e.g. seqcore.LSTM). Received: model={model.name!r}"
            )
        self.model = model
        self.k1 = k1
        self.k2 = k2
        self.targets = targets
        self.carry_states = carry_states
        self._chunk_model = _chunk_model(model, layers)
        # The layers whose states are carried, as the chunk model calls them.
        self.recurrent_layers = _recurrent_layers(self._chunk_model)

    def call(self, inputs, training=False):
        return self.model(inputs, training=training)

    def _run(self, x, states, training=True):
        """The model on a window, every recurrent layer starting from its `states[i]`
        (None: its own initial state); returns `(y_pred, final_states)`."""
        with contextlib.ExitStack() as stack:
            carries = [
                stack.enter_context(layer.carrying_states(layer_states))
                for layer, layer_states in zip(self.recurrent_layers, states, strict=True)
            ]
            y_pred = self._chunk_model(x, training=training)
        return y_pred, [carry.final for carry in carries]

    def _window(self, x, y, sample_weight, states, start, length, loss_steps, per_step):
        """One update on the window [start, start + length); returns the states at
        start + k1 (the next window's start)."""
        k1 = min(self.k1, length)
        if not self.carry_states:
            states = self._initial_states(x)
        states = [[tf.stop_gradient(s) for s in layer] for layer in states]
        with tf.GradientTape() as tape:
            y_pred, carried = self._run(_time_slice(x, start, k1), states)
            if length > k1:
                rest_pred, _ = self._run(_time_slice(x, start + k1, length - k1), carried)
                if per_step:
                    y_pred = tree.map_structure(
                        lambda a, b: tf.concat([a, b], axis=1), y_pred, rest_pred
                    )
                else:
                    y_pred = rest_pred
            if per_step:
                y_pred = _time_slice(y_pred, length - loss_steps, loss_steps)
                y = _time_slice(y, start + length - loss_steps, loss_steps)
                if sample_weight is not None and len(sample_weight.shape) >= 2:
                    sample_weight = _time_slice(
                        sample_weight, start + length - loss_steps, loss_steps
                    )
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            scaled = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        self._update_metrics(loss, x, y, y_pred, sample_weight)
        return carried

    def _update_metrics(self, loss, x, y, y_pred, sample_weight):
        batch = tf.shape(tree.flatten(x)[0])[0]
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss, sample_weight=batch)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)

    def _initial_states(self, x):
        batch = tf.shape(tree.flatten(x)[0])[0]
        return [
            [tf.convert_to_tensor(s) for s in tree.flatten(layer.get_initial_state(batch))]
            for layer in self.recurrent_layers
        ]

    def _advance(self, x, states, pieces):
        """Runs `pieces` windows of k1 steps forward only; returns the carried states."""
        k1 = self.k1

        def body(i, *flat):
            step_states = tree.pack_sequence_as(states, flat)
            _, final = self._run(_time_slice(x, i * k1, k1), step_states)
            return (i + 1, *tree.flatten(final))

        result = tf.while_loop(lambda i, *_: i < pieces, body, (0, *tree.flatten(states)))
        return tree.pack_sequence_as(states, list(result[1:]))

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        steps = tree.flatten(x)[0].shape[1]
        if steps is None:
            raise ValueError(
                "TruncatedBPTT needs the number of steps of a batch when the training step "
                "is traced; feed batches of one fixed length. Received: inputs of shape "
                f"{tree.flatten(x)[0].shape}"
            )
        windows = _schedule(steps, self.k1, self.k2)
        states = self._initial_states(x)
        per_step = self._resolve_targets(x, min(self.k1, steps))
        if per_step:
            self._check_per_step_targets(y, steps)
            states = self._window(x, y, sample_weight, states, *windows[0], per_step)
            regular = [w for w in windows[1:] if w[1:] == (self.k2, self.k1)]
            if regular:
                states = self._regular_windows(x, y, sample_weight, states, len(regular))
            for window in windows[1 + len(regular) :]:
                states = self._window(x, y, sample_weight, states, *window, per_step)
        else:
            last_start, last_length, _ = windows[-1]
            if last_start and self.carry_states:
                states = self._advance(x, states, last_start // self.k1)
            self._window(
                x, y, sample_weight, states, last_start, last_length, last_length, per_step
            )
        return {metric.name: metric.result() for metric in self.metrics}

    def _resolve_targets(self, x, length):
        """Whether the targets are per step: the model's output on `length` steps (traced
        symbolically, nothing runs) has `length` as axis 1."""
        if self.targets != "auto":
            return self.targets == "per_step"
        spec = tree.map_structure(
            lambda t: keras.KerasTensor((t.shape[0], length, *t.shape[2:]), dtype=t.dtype), x
        )
        y_pred = self._chunk_model.compute_output_spec(spec)
        return all(len(p.shape) >= 3 and p.shape[1] == length for p in tree.flatten(y_pred))

    def _regular_windows(self, x, y, sample_weight, states, count):
        """Windows 1..count, all of k2 steps with a loss on their last k1: one while loop."""
        k1, k2 = self.k1, self.k2

        def body(w, *flat):
            step_states = tree.pack_sequence_as(states, flat)
            final = self._window(x, y, sample_weight, step_states, w * k1, k2, k1, True)
            return (w + 1, *tree.flatten(final))

        result = tf.while_loop(lambda w, *_: w <= count, body, (1, *tree.flatten(states)))
        return tree.pack_sequence_as(states, list(result[1:]))

    def _check_per_step_targets(self, y, steps):
        for target in tree.flatten(y):
            if len(target.shape) < 2 or target.shape[1] != steps:
                raise ValueError(
                    "TruncatedBPTT with per-step targets needs targets of shape "
                    f"(batch, {steps}, ...) like the inputs. Received: targets of shape "
                    f"{target.shape}"
                )

    def get_config(self):
        return {
            **super().get_config(),
            "model": keras.saving.serialize_keras_object(self.model),
            "k1": self.k1,
            "k2": self.k2,
            "targets": self.targets,
            "carry_states": self.carry_states,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)
