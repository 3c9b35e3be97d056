"""Hooks into the time loop of a recurrent layer: carried states and step perturbations.

Truncated BPTT has to start a layer from states carried over from the previous window
and collect the states it ends with; gradient-flow diagnostics have to add a zero
perturbation to the input and to the hidden state of every step and differentiate with
respect to it. Both reach inside the layer's time loop, which `keras.layers.RNN.call`
hands to `inner_loop(sequences, initial_state, mask, training)`. `LoopHooks` gives a
layer two documented context managers for that, instead of replacing `inner_loop` on an
instance:

>>> import numpy as np, tensorflow as tf, seqcore
>>> layer = seqcore.GRU(3)
>>> x = np.ones((2, 4, 5), "float32")
>>> with layer.carrying_states() as carry:
...     y = layer(x[:, :2])
>>> with layer.carrying_states(carry.final):  # steps 3-4 from the states after step 2
...     y2 = layer(x[:, 2:])
>>> bool(np.allclose(y2, layer(x), atol=1e-5))
True

Hooks are re-entrant: they may be nested, on one layer or several, and each sees every
call of its layer while it is active. Every seqcore layer has them (`RecurrentLayer`);
`hookable(layer)` gives a Keras recurrent layer a hookable twin that shares its cell,
hence its weights.
"""

import contextlib
import inspect

import keras
import tensorflow as tf
from keras import tree

from seqcore import _private


class StateCarry:
    """What `LoopHooks.carrying_states` yields.

    Attributes:
        states: The states every call in the block starts from (a list of tensors, as
            `layer.get_initial_state(batch)` gives them), or None for the call's own.
        final: The final states of the latest call in the block (a list of tensors), or
            None before the first call.
    """

    def __init__(self, states=None):
        self.states = None if states is None else list(states)
        self.final = None

    def enter(self, layer, sequences, initial_state):
        if self.states is None:
            return sequences, initial_state
        return sequences, list(self.states)

    def exit(self, result):
        self.final = list(result[2])


class StepPerturbation:
    """What `LoopHooks.perturbing_steps` yields.

    Attributes:
        inputs: The zero tensor `(batch, T, features)` added to the layer's inputs in the
            latest call, or None before the first call; its gradient is dL/dx_t.
        hidden: The zero tensor `(batch, T, units)` added to the hidden state h_t (the
            output of step t, and the state that feeds step t + 1); its gradient is
            dL/dh_t, the total derivative through all later steps.
    """

    def __init__(self, tape=None):
        self.tape = tape
        self.inputs = None
        self.hidden = None

    def enter(self, layer, sequences, initial_state):
        steps, batch = sequences.shape[1], tf.shape(sequences)[0]
        self.inputs = tf.zeros_like(sequences)
        self.hidden = tf.zeros((batch, steps, layer.cell.output_size), sequences.dtype)
        if self.tape is not None:
            self.tape.watch([self.inputs, self.hidden])
        return sequences + self.inputs, initial_state

    def exit(self, result):
        pass


class LoopHooks:
    """Mixin of a `keras.layers.RNN` subclass: hooks into its time loop.

    The subclass's `inner_loop` runs its own loop through `hooked_loop`.
    """

    @contextlib.contextmanager
    def carrying_states(self, states=None):
        """Within the block, every call of the layer starts from `states` and the
        yielded `StateCarry` records the states each call ends with.

        Args:
            states: A list of tensors as `layer.get_initial_state(batch)` returns
                them (`[h]`, or `[h, c]` for an LSTM), or None to keep the states the
                call would start from (zeros, or its `initial_state` argument).

        Yields:
            A `StateCarry`; its `final` holds the latest call's final states.
        """
        with self._hook(StateCarry(states)) as hook:
            yield hook

    @contextlib.contextmanager
    def perturbing_steps(self, tape=None):
        """Within the block, the layer runs its generic step-by-step loop with a zero
        tensor added to its input x_t and to its hidden state h_t at every step.

        Outputs and states are those of the unperturbed layer (the perturbations are
        zero); the gradients of a loss with respect to the yielded tensors are the
        per-step dL/dx_t and dL/dh_t (`seqcore.diagnostics.gradient_flow`).

        Args:
            tape: A `tf.GradientTape` to watch the perturbation tensors on, or None
                (watch `hook.inputs` and `hook.hidden` yourself).

        Yields:
            A `StepPerturbation`; its `inputs` and `hidden` are the latest call's.
        """
        with self._hook(StepPerturbation(tape)) as hook:
            yield hook

    @contextlib.contextmanager
    def _hook(self, hook):
        # Set past Keras's attribute tracking: hooks are not layer state.
        object.__setattr__(self, "_loop_hooks", (*self.active_hooks, hook))
        try:
            yield hook
        finally:
            remaining = tuple(h for h in self.active_hooks if h is not hook)
            object.__setattr__(self, "_loop_hooks", remaining)

    @property
    def active_hooks(self):
        """The hooks in force, outermost first."""
        return self.__dict__.get("_loop_hooks", ())

    def hooked_loop(self, loop, sequences, initial_state, mask, training=False):
        """Runs `loop(sequences, initial_state, mask, training)` (the layer's own time
        loop, returning `(last_output, outputs, states)`) under the active hooks."""
        hooks = self.active_hooks
        if not hooks:
            return loop(sequences, initial_state, mask, training)
        for hook in hooks:
            sequences, initial_state = hook.enter(self, sequences, initial_state)
        perturbations = [h.hidden for h in hooks if isinstance(h, StepPerturbation)]
        if perturbations:
            result = _perturbed_loop(self, sequences, initial_state, mask, training, perturbations)
        else:
            result = loop(sequences, initial_state, mask, training)
        for hook in hooks:
            hook.exit(result)
        return result


def _perturbed_loop(layer, sequences, initial_state, mask, training, perturbations):
    """The generic loop of `keras.layers.RNN` over `layer.cell`, adding the sum of the
    `perturbations` `(batch, T, units)` to h_t at every step (output and state)."""
    cell = layer.cell
    kwargs = {"training": training} if _takes_training(cell) else {}
    hidden = tf.add_n(perturbations) if len(perturbations) > 1 else perturbations[0]
    if tree.is_nested(mask):
        mask = tree.flatten(mask)[0]

    def step(inputs, states):
        x_t, e_t = inputs
        output, new_states = cell(x_t, list(states), **kwargs)
        new_states = list(tree.flatten(new_states))
        new_states[0] = new_states[0] + e_t
        return output + e_t, new_states

    return _private.keras_rnn_loop(
        step,
        (sequences, hidden),
        list(tree.flatten(initial_state)),
        go_backwards=layer.go_backwards,
        mask=mask,
        unroll=False,
        input_length=sequences.shape[1],
        zero_output_for_mask=layer.zero_output_for_mask,
        return_all_outputs=layer.return_sequences,
    )


def _takes_training(cell):
    return "training" in inspect.signature(cell.call).parameters


class HookedRNN(LoopHooks, keras.layers.RNN):
    """`keras.layers.RNN` with `LoopHooks`: the hookable twin of a Keras recurrent layer.

    Built by `hookable(layer)` on the layer's own cell, so it shares the layer's
    weights; it runs Keras's generic loop (no cuDNN kernel).
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        return self.hooked_loop(super().inner_loop, sequences, initial_state, mask, training)


def hookable(layer):
    """`layer` itself when it has `LoopHooks` (every seqcore layer), else a `HookedRNN`
    twin on its cell (same weights, same outputs) for a `keras.layers.RNN`."""
    if isinstance(layer, LoopHooks):
        return layer
    if not isinstance(layer, keras.layers.RNN):
        raise ValueError(
            "Loop hooks need a recurrent layer (keras.layers.RNN, e.g. seqcore.LSTM). "
            f"Received: layer {layer.name!r} ({type(layer).__name__})"
        )
    twin = HookedRNN(
        layer.cell,
        return_sequences=layer.return_sequences,
        return_state=layer.return_state,
        go_backwards=layer.go_backwards,
        stateful=layer.stateful,
        unroll=layer.unroll,
        zero_output_for_mask=layer.zero_output_for_mask,
        name=layer.name,
    )
    twin.supports_masking = layer.supports_masking
    return twin


def with_hookable_layers(model, layers):
    """`model` with each of `layers` (Keras recurrent layers it uses) replaced by its
    `hookable` twin: a clone of a Sequential or Functional model that reuses every other
    layer (weights shared), or `model` itself when every one of `layers` already has
    hooks. Raises `ValueError` for a subclassed model that would need a twin."""
    foreign = [layer for layer in layers if not isinstance(layer, LoopHooks)]
    if not foreign:
        return model
    ids = {id(layer) for layer in foreign}
    try:
        return keras.models.clone_model(
            model,
            clone_function=lambda layer: hookable(layer) if id(layer) in ids else layer,
            recursive=True,
        )
    except ValueError:
        raise ValueError(
            "Keras's own recurrent layers can be hooked only in a Sequential or Functional "
            "model (they are replaced by a twin sharing their weights); use seqcore's layers "
            "(`seqcore.convert.to_seqcore(model)`). Received: layer "
            f"{foreign[0].name!r} ({type(foreign[0]).__name__}) in {type(model).__name__} "
            f"{model.name!r}"
        ) from None
