"""Gated Recurrent Unit (Cho et al. 2014), from its equations.

    z_t  = sigma(x_t W_z + h_{t-1} U_z + b_z)              update gate
    r_t  = sigma(x_t W_r + h_{t-1} U_r + b_r)              reset gate
    hh_t = tanh(x_t W_h + r_t * (h_{t-1} U_h + b'_h))      reset_after=True (cuDNN's form)
    hh_t = tanh(x_t W_h + (r_t * h_{t-1}) U_h + b_h)       reset_after=False (the paper's)
    h_t  = z_t * h_{t-1} + (1 - z_t) * hh_t

With `layer_norm=True` each gate block of x W and of the recurrent projection is
layer-normalised (Ba et al. 2016) before the biases are added.
"""

import keras
from keras import activations, ops

from seqcore import _private, fused
from seqcore import _validation as check
from seqcore.base import RecurrentCell, RecurrentLayer, layer_norm


@keras.saving.register_keras_serializable(package="seqcore")
class GRUCell(RecurrentCell):
    """One step of a GRU, a drop-in replacement for `keras.layers.GRUCell`.

    Weights have Keras's names, shapes and gate order (z, r, h); with
    `reset_after=True` the bias has shape `(2, 3 * units)` (input and recurrent
    biases), as in Keras.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation of the candidate state (default tanh).
        recurrent_activation: Activation of the gates (default sigmoid).
        use_bias: Whether the cell uses bias vectors.
        kernel_initializer, recurrent_initializer, bias_initializer: Initializers.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: Constraints.
        dropout: Fraction of the inputs to drop (same mask at every step).
        recurrent_dropout: Fraction of the state to drop before `recurrent_kernel`.
        reset_after: Apply the reset gate after the recurrent matmul (True,
            Keras's default and cuDNN's form) or before it (False).
        seed: Random seed for dropout.
        layer_norm: If True, layer-normalise each gate block of the input and
            recurrent projections (weights `input_norm_gamma`,
            `recurrent_norm_gamma`).
        layer_norm_epsilon: Small float added to the variance in layer norm.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`.
        states: A 2D tensor `(batch, units)` (or a list holding it).
        training: Whether dropout is active.

    Example:

    >>> import numpy as np, keras, seqcore
    >>> rnn = keras.layers.RNN(seqcore.GRUCell(4))
    >>> tuple(rnn(np.zeros((2, 5, 3), "float32")).shape)
    (2, 4)
    """

    gates = 3

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        layer_norm=False,
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(
            units,
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
            **kwargs,
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = check.check_bool("reset_after", reset_after)
        self.layer_norm = check.check_bool("layer_norm", layer_norm)
        self.layer_norm_epsilon = check.check_positive_float(
            "layer_norm_epsilon", layer_norm_epsilon
        )
        self.state_size = self.units

    def build(self, input_shape):
        super().build(input_shape)
        self.add_kernels(input_shape[-1])
        self.add_bias((2, 3 * self.units) if self.reset_after else (3 * self.units,))
        if self.layer_norm:
            self.add_norm_weights("input_norm_gamma", "recurrent_norm_gamma")

    def _norm(self, x, gamma, groups):
        return layer_norm(x, gamma, groups=groups, epsilon=self.layer_norm_epsilon)

    def project_inputs(self, inputs):
        x = ops.matmul(inputs, self.kernel)
        if self.layer_norm:
            x = self._norm(x, self.input_norm_gamma, 3)
        if self.use_bias:
            x = x + (self.bias[0] if self.reset_after else self.bias)
        return x

    def fused_kind(self):
        if (
            not self.reset_after
            or self.layer_norm
            or self.activation is not activations.tanh
            or self.recurrent_activation is not activations.sigmoid
        ):
            return None
        return fused.GRU

    def fused_weights(self, kernel=None, recurrent_kernel=None, bias=None):
        kernel, bias, recurrent_kernel, _ = super().fused_weights(kernel, recurrent_kernel, bias)
        units = self.units
        if bias is None:
            return kernel, None, recurrent_kernel, [ops.zeros((units,), kernel.dtype)]
        # The recurrent biases of z and r add like input biases; the candidate's
        # is multiplied by the reset gate, so it stays inside the loop.
        zeros = ops.zeros((units,), bias.dtype)
        folded = bias[0] + ops.concatenate([bias[1][: 2 * units], zeros])
        return kernel, folded, recurrent_kernel, [bias[1][2 * units :]]

    def recurrent_step(self, projected, states, recurrent_mask=None):
        h_prev = states[0]
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        x_z, x_r, x_h = ops.split(projected, 3, axis=-1)
        units = self.units
        if self.reset_after:
            inner = ops.matmul(h_in, self.recurrent_kernel)
            if self.layer_norm:
                inner = self._norm(inner, self.recurrent_norm_gamma, 3)
            if self.use_bias:
                inner = inner + self.bias[1]
            rec_z, rec_r, rec_h = ops.split(inner, 3, axis=-1)
            z = self.recurrent_activation(x_z + rec_z)
            r = self.recurrent_activation(x_r + rec_r)
            rec_h = r * rec_h
        else:
            inner = ops.matmul(h_in, self.recurrent_kernel[:, : 2 * units])
            if self.layer_norm:
                inner = self._norm(inner, self.recurrent_norm_gamma[: 2 * units], 2)
            rec_z, rec_r = ops.split(inner, 2, axis=-1)
            z = self.recurrent_activation(x_z + rec_z)
            r = self.recurrent_activation(x_r + rec_r)
            rec_h = ops.matmul(r * h_in, self.recurrent_kernel[:, 2 * units :])
            if self.layer_norm:
                rec_h = self._norm(rec_h, self.recurrent_norm_gamma[2 * units :], 1)
        hh = self.activation(x_h + rec_h)
        h = z * h_prev + (1 - z) * hh
        return h, [h]

    def get_config(self):
        config = {
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "reset_after": self.reset_after,
            "layer_norm": self.layer_norm,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="seqcore")
class GRU(
    RecurrentLayer,
    cell_arguments=("recurrent_activation", "reset_after", "layer_norm", "layer_norm_epsilon"),
):
    """Gated Recurrent Unit layer, a drop-in replacement for `keras.layers.GRU`.

    Same arguments, weights and outputs as Keras's layer (see `GRUCell` for the
    cell arguments and the `layer_norm` variant). The input projection of all
    time steps is one matmul before the time loop.

    Args:
        units ... seed: As in `GRUCell`.
        activity_regularizer: Regularizer applied to the layer's output.
        return_sequences: Return the full sequence instead of the last output.
        return_state: Also return the final state.
        go_backwards: Process the sequence backwards (and return it reversed).
        stateful: Carry the final state of batch `i` to the next batch.
        unroll: Unroll the time loop (short sequences only).
        reset_after: As in `GRUCell`.
        use_cudnn: `"auto"` (cuDNN where the call runs on a GPU, through a
            device dispatch that keeps graphs and SavedModels runnable on CPU;
            the fused loop elsewhere), `True` (Keras's cuDNN kernel directly:
            GPU-only graphs, fails where it is not available) or `False`.
        layer_norm, layer_norm_epsilon: As in `GRUCell`.

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Boolean tensor `(batch, time)`; False steps are skipped.
        training: Whether dropout is active.
        initial_state: List `[h_0]` with a `(batch, units)` tensor.

    Example:

    >>> import numpy as np, seqcore
    >>> gru = seqcore.GRU(4, return_state=True)
    >>> output, h = gru(np.zeros((2, 5, 3), "float32"))
    >>> tuple(output.shape), tuple(h.shape)
    ((2, 4), (2, 4))
    """

    cell_class = GRUCell
    has_cudnn = True
    cell_name = "gru_cell"

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
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
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        reset_after=True,
        use_cudnn="auto",
        layer_norm=False,
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        cell_kwargs = dict(
            units=units,
            activation=activation,
            recurrent_activation=recurrent_activation,
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
            reset_after=reset_after,
            seed=seed,
            layer_norm=layer_norm,
            layer_norm_epsilon=layer_norm_epsilon,
        )
        super().__init__(
            cell_kwargs,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            use_cudnn=use_cudnn,
            **kwargs,
        )

    def cudnn_kernel(self, sequences, initial_state, kernel, recurrent_kernel, bias, mask):
        return _private.cudnn_gru(
            sequences,
            initial_state[0],
            kernel,
            recurrent_kernel,
            bias,
            mask,
            False,
            self.go_backwards,
            self.return_sequences,
        )

    def cudnn_loop(self, sequences, initial_state, mask, training):
        cell = self.cell
        if cell.recurrent_dropout or cell.layer_norm:
            raise NotImplementedError
        if training and cell.dropout:
            sequences = sequences * ops.expand_dims(cell.get_dropout_mask(sequences[:, 0, :]), 1)
        return _private.keras_gru_kernel(
            sequences,
            initial_state[0],
            mask,
            kernel=cell.kernel,
            recurrent_kernel=cell.recurrent_kernel,
            bias=cell.bias,
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            return_sequences=self.return_sequences,
            go_backwards=self.go_backwards,
            unroll=self.unroll,
            reset_after=cell.reset_after,
        )
