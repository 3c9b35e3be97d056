"""The fully connected recurrent network (Elman 1990), from its equation.

h_t = tanh(x_t W + h_{t-1} U + b)
"""

import keras
from keras import activations, ops

from seqcore import fused
from seqcore.base import RecurrentCell, RecurrentLayer


@keras.saving.register_keras_serializable(package="seqcore")
class SimpleRNNCell(RecurrentCell):
    """One step of a simple RNN, a drop-in replacement for `keras.layers.SimpleRNNCell`.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation of the new state (default tanh).
        use_bias: Whether the cell uses a bias vector.
        kernel_initializer, recurrent_initializer, bias_initializer: Initializers.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: Constraints.
        dropout: Fraction of the inputs to drop (same mask at every step).
        recurrent_dropout: Fraction of the state to drop before `recurrent_kernel`.
        seed: Random seed for dropout.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`.
        states: A 2D tensor `(batch, units)` (or a list holding it).
        training: Whether dropout is active.

    Example:

    >>> import numpy as np, keras, seqcore
    >>> rnn = keras.layers.RNN(seqcore.SimpleRNNCell(4))
    >>> tuple(rnn(np.zeros((2, 5, 3), "float32")).shape)
    (2, 4)
    """

    gates = 1

    @property
    def state_size(self):
        return self.units

    def build(self, input_shape):
        super().build(input_shape)
        self.add_kernels(input_shape[-1])
        self.add_bias((self.units,))

    def project_inputs(self, inputs):
        x = ops.matmul(inputs, self.kernel)
        if self.use_bias:
            x = x + self.bias
        return x

    def fused_kind(self):
        return fused.SIMPLE_RNN if self.activation is activations.tanh else None

    def recurrent_step(self, projected, states, recurrent_mask=None):
        h_prev = states[0]
        if recurrent_mask is not None:
            h_prev = h_prev * recurrent_mask
        h = projected + ops.matmul(h_prev, self.recurrent_kernel)
        if self.activation is not None:
            h = self.activation(h)
        return h, [h]


@keras.saving.register_keras_serializable(package="seqcore")
class SimpleRNN(RecurrentLayer):
    """Fully connected RNN layer, a drop-in replacement for `keras.layers.SimpleRNN`.

    Args:
        units ... seed: As in `SimpleRNNCell`.
        activity_regularizer: Regularizer applied to the layer's output.
        return_sequences: Return the full sequence instead of the last output.
        return_state: Also return the final state.
        go_backwards: Process the sequence backwards (and return it reversed).
        stateful: Carry the final state of batch `i` to the next batch.
        unroll: Unroll the time loop (short sequences only).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Boolean tensor `(batch, time)`; False steps are skipped.
        training: Whether dropout is active.
        initial_state: List `[h_0]` with a `(batch, units)` tensor.

    Example:

    >>> import numpy as np, seqcore
    >>> rnn = seqcore.SimpleRNN(4, return_sequences=True)
    >>> tuple(rnn(np.zeros((2, 5, 3), "float32")).shape)
    (2, 5, 4)
    """

    cell_class = SimpleRNNCell
    cell_name = "simple_rnn_cell"

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        **kwargs,
    ):
        cell_kwargs = dict(
            units=units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
        )
        super().__init__(
            cell_kwargs,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
