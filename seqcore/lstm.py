"""Long Short-Term Memory (Hochreiter & Schmidhuber 1997), from its equations.

    z_t = x_t W + h_{t-1} U + b                 (gate blocks i, f, c, o)
    i_t = sigma(z_i)   f_t = sigma(z_f)   o_t = sigma(z_o)
    c_t = f_t * c_{t-1} + i_t * tanh(z_c)
    h_t = o_t * tanh(c_t)

Options beyond Keras: peephole connections (Gers & Schmidhuber 2000), where the
input and forget gates also see c_{t-1} and the output gate sees c_t, and layer
normalisation (Ba et al. 2016) of each gate block of x W and of h U, and of c_t
before the output non-linearity.
"""

import keras
from keras import activations, initializers, ops

from seqcore import _private, fused
from seqcore import _validation as check
from seqcore.base import RecurrentCell, RecurrentLayer, layer_norm

PEEPHOLES = (
    "input_gate_peephole_weights",
    "forget_gate_peephole_weights",
    "output_gate_peephole_weights",
)


@keras.saving.register_keras_serializable(package="seqcore")
class LSTMCell(RecurrentCell):
    """One step of an LSTM, a drop-in replacement for `keras.layers.LSTMCell`.

    Weights have Keras's names, shapes and gate order (i, f, c, o), so
    `set_weights(keras_cell.get_weights())` reproduces a Keras cell.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation of the candidate and the output (default tanh).
        recurrent_activation: Activation of the gates (default sigmoid).
        use_bias: Whether the cell uses a bias vector.
        kernel_initializer, recurrent_initializer, bias_initializer: Initializers
            of `kernel` (inputs), `recurrent_kernel` (state) and `bias`.
        unit_forget_bias: If True, add 1 to the forget-gate bias at initialisation.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: Constraints.
        dropout: Fraction of the inputs to drop (same mask at every step).
        recurrent_dropout: Fraction of the state to drop before `recurrent_kernel`.
        seed: Random seed for dropout.
        peephole: If True, add peephole connections from the cell state to the
            gates (weights `input_gate_peephole_weights`,
            `forget_gate_peephole_weights`, `output_gate_peephole_weights`,
            initialised to zeros).
        layer_norm: If True, layer-normalise each gate block of the input and
            recurrent projections and the cell state before the output
            activation (weights `input_norm_gamma`, `recurrent_norm_gamma`,
            `cell_norm_gamma`, `cell_norm_beta`).
        layer_norm_epsilon: Small float added to the variance in layer norm.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`.
        states: List of two 2D tensors `(batch, units)`: `[h_{t-1}, c_{t-1}]`.
        training: Whether dropout is active.

    Example:

    >>> import numpy as np, keras, seqcore
    >>> rnn = keras.layers.RNN(seqcore.LSTMCell(4), return_state=True)
    >>> output, h, c = rnn(np.zeros((2, 5, 3), "float32"))
    >>> output.shape, c.shape
    (TensorShape([2, 4]), TensorShape([2, 4]))
    """

    gates = 4

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        peephole=False,
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
        self.unit_forget_bias = check.check_bool("unit_forget_bias", unit_forget_bias)
        self.peephole = check.check_bool("peephole", peephole)
        self.layer_norm = check.check_bool("layer_norm", layer_norm)
        self.layer_norm_epsilon = check.check_positive_float(
            "layer_norm_epsilon", layer_norm_epsilon
        )
        self.state_size = [self.units, self.units]

    def build(self, input_shape):
        super().build(input_shape)
        self.add_kernels(input_shape[-1])
        initializer = None
        if self.unit_forget_bias:
            units, base = self.units, self.bias_initializer

            def initializer(_, *args, **kwargs):
                return ops.concatenate(
                    [
                        base((units,), *args, **kwargs),
                        initializers.get("ones")((units,), *args, **kwargs),
                        base((units * 2,), *args, **kwargs),
                    ]
                )

        self.add_bias((self.units * 4,), initializer)
        if self.peephole:
            for name in PEEPHOLES:
                setattr(
                    self,
                    name,
                    self.add_weight(shape=(self.units,), name=name, initializer="zeros"),
                )
        if self.layer_norm:
            self.add_norm_weights(
                "input_norm_gamma", "recurrent_norm_gamma", "cell_norm_gamma", "cell_norm_beta"
            )

    def project_inputs(self, inputs):
        z = ops.matmul(inputs, self.kernel)
        if self.layer_norm:
            z = layer_norm(z, self.input_norm_gamma, groups=4, epsilon=self.layer_norm_epsilon)
        if self.use_bias:
            z = z + self.bias
        return z

    def fused_kind(self):
        if (
            self.peephole
            or self.layer_norm
            or self.activation is not activations.tanh
            or self.recurrent_activation is not activations.sigmoid
        ):
            return None
        return fused.LSTM

    def recurrent_step(self, projected, states, recurrent_mask=None):
        h_prev, c_prev = states[0], states[1]
        if recurrent_mask is not None:
            h_prev = h_prev * recurrent_mask
        r = ops.matmul(h_prev, self.recurrent_kernel)
        if self.layer_norm:
            r = layer_norm(r, self.recurrent_norm_gamma, groups=4, epsilon=self.layer_norm_epsilon)
        z_i, z_f, z_c, z_o = ops.split(projected + r, 4, axis=-1)
        if self.peephole:
            z_i = z_i + self.input_gate_peephole_weights * c_prev
            z_f = z_f + self.forget_gate_peephole_weights * c_prev
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_prev + i * self.activation(z_c)
        if self.peephole:
            z_o = z_o + self.output_gate_peephole_weights * c
        o = self.recurrent_activation(z_o)
        c_out = c
        if self.layer_norm:
            c_out = layer_norm(
                c, self.cell_norm_gamma, self.cell_norm_beta, epsilon=self.layer_norm_epsilon
            )
        h = o * self.activation(c_out)
        return h, [h, c]

    def get_config(self):
        config = {
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
            "peephole": self.peephole,
            "layer_norm": self.layer_norm,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="seqcore")
class LSTM(
    RecurrentLayer,
    cell_arguments=(
        "recurrent_activation",
        "unit_forget_bias",
        "peephole",
        "layer_norm",
        "layer_norm_epsilon",
    ),
):
    """Long Short-Term Memory layer, a drop-in replacement for `keras.layers.LSTM`.

    Same arguments, weights and outputs as Keras's layer (see `LSTMCell` for the
    cell arguments and the `peephole` / `layer_norm` variants). The input
    projection of all time steps is one matmul before the time loop.

    Args:
        units ... seed: As in `LSTMCell`.
        activity_regularizer: Regularizer applied to the layer's output.
        return_sequences: Return the full sequence `(batch, time, units)`
            instead of the last output.
        return_state: Also return the final states `h` and `c`.
        go_backwards: Process the sequence backwards (and return it reversed).
        stateful: Carry the final state of batch `i` to the next batch.
        unroll: Unroll the time loop (short sequences only).
        use_cudnn: `"auto"` (cuDNN where the call runs on a GPU, through a
            device dispatch that keeps graphs and SavedModels runnable on CPU;
            the fused loop elsewhere), `True` (Keras's cuDNN kernel directly:
            GPU-only graphs, fails where it is not available) or `False`.
        peephole, layer_norm, layer_norm_epsilon: As in `LSTMCell`.

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Boolean tensor `(batch, time)`; False steps are skipped.
        training: Whether dropout is active.
        initial_state: List `[h_0, c_0]` of `(batch, units)` tensors.

    Example:

    >>> import numpy as np, seqcore
    >>> lstm = seqcore.LSTM(4, return_sequences=True, return_state=True)
    >>> sequence, h, c = lstm(np.zeros((2, 5, 3), "float32"))
    >>> tuple(sequence.shape), tuple(h.shape)
    ((2, 5, 4), (2, 4))
    """

    cell_class = LSTMCell
    has_cudnn = True
    cell_name = "lstm_cell"

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
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
        use_cudnn="auto",
        peephole=False,
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
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            peephole=peephole,
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
        return _private.cudnn_lstm(
            sequences,
            initial_state[0],
            initial_state[1],
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
        if cell.recurrent_dropout or cell.peephole or cell.layer_norm:
            raise NotImplementedError
        if training and cell.dropout:
            sequences = sequences * ops.expand_dims(cell.get_dropout_mask(sequences[:, 0, :]), 1)
        return _private.keras_lstm_kernel(
            sequences,
            initial_state[0],
            initial_state[1],
            mask,
            kernel=cell.kernel,
            recurrent_kernel=cell.recurrent_kernel,
            bias=cell.bias,
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            return_sequences=self.return_sequences,
            go_backwards=self.go_backwards,
            unroll=self.unroll,
        )
