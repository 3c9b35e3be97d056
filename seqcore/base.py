"""Shared machinery of the seqcore cells and layers.

A seqcore cell splits one recurrent step into two halves:

* `project_inputs(x)`: everything that depends on the input alone (the input
  kernel, the input bias, layer normalisation of the input projection). It
  accepts a single step `(batch, features)` or a whole sequence
  `(batch, time, features)`.
* `recurrent_step(projected_t, states, recurrent_mask)`: the part that needs
  the previous state.

`cell.call` chains both, so a cell works inside `keras.layers.RNN` like any
Keras cell. The seqcore layers instead project many steps with one matmul
outside the per-step loop and run only the recurrent part inside it: the whole
sequence in the generic loop and at inference, a chunk of steps at a time in the
fused training loop (`seqcore.fused`).
"""

import uuid

import keras
import tensorflow as tf
from keras import activations, constraints, initializers, ops, regularizers, tree

from seqcore import _private, fused
from seqcore import _validation as check
from seqcore.hooks import LoopHooks


def layer_norm(x, gamma, beta=None, groups=1, epsilon=1e-5):
    """Normalises each of `groups` equal chunks of the last axis of `x`.

    Statistics are computed in float32 (at least) so that the mixed-precision
    policies stay stable; the result has the dtype of `x`.
    """
    dtype = x.dtype
    compute = "float32" if dtype in ("float16", "bfloat16") else dtype
    y = ops.cast(x, compute)
    shape = ops.shape(y)
    width = y.shape[-1] // groups
    y = ops.reshape(y, (*shape[:-1], groups, width))
    mean = ops.mean(y, axis=-1, keepdims=True)
    var = ops.mean(ops.square(y - mean), axis=-1, keepdims=True)
    y = (y - mean) * ops.rsqrt(var + epsilon)
    y = ops.reshape(y, shape)
    y = y * ops.cast(gamma, compute)
    if beta is not None:
        y = y + ops.cast(beta, compute)
    return ops.cast(y, dtype)


class RecurrentCell(keras.layers.Layer, _private.DropoutRNNCell):
    """Base of the seqcore cells: arguments, weights bookkeeping, config.

    Subclasses set `gates` (number of `units`-wide blocks in the kernels) and
    implement `build`, `project_inputs`, `recurrent_step` and `state_size`.
    """

    gates = 1

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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        # Keras's cells accept `implementation`; it only reorders their math.
        kwargs.pop("implementation", None)
        super().__init__(**kwargs)
        self.units = check.check_units(units)
        self.activation = activations.get(activation)
        self.use_bias = check.check_bool("use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = check.check_rate("dropout", dropout)
        self.recurrent_dropout = check.check_rate("recurrent_dropout", recurrent_dropout)
        self.seed = check.check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.output_size = self.units

    def add_kernels(self, input_dim):
        """Creates `kernel` and `recurrent_kernel` with Keras's names and shapes."""
        width = self.units * self.gates
        self.kernel = self.add_weight(
            shape=(input_dim, width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )

    def add_bias(self, shape, initializer=None):
        if not self.use_bias:
            self.bias = None
            return
        self.bias = self.add_weight(
            shape=shape,
            name="bias",
            initializer=initializer or self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def add_norm_weights(self, *names):
        """Layer-norm gains (ones) and `*_beta` shifts (zeros), `units * gates` wide
        unless the name starts with `cell_`."""
        for name in names:
            width = self.units if name.startswith("cell_") else self.units * self.gates
            init = "zeros" if name.endswith("beta") else "ones"
            setattr(self, name, self.add_weight(shape=(width,), name=name, initializer=init))

    def call(self, inputs, states, training=False):
        nested = tree.is_nested(states)
        states = list(states) if nested else [states]
        if training and self.dropout > 0:
            inputs = inputs * self.get_dropout_mask(inputs)
        recurrent_mask = None
        if training and self.recurrent_dropout > 0:
            recurrent_mask = self.get_recurrent_dropout_mask(states[0])
        output, new_states = self.recurrent_step(
            self.project_inputs(inputs), states, recurrent_mask
        )
        return output, (new_states if nested else new_states[0])

    def fused_kind(self):
        """The `seqcore.fused` cell kind when this configuration has a fused loop
        with hand-written BPTT, else None."""
        return None

    def fused_weights(self, kernel=None, recurrent_kernel=None, bias=None):
        """`(kernel, bias, recurrent_kernel, extras)` as the fused loop takes them: its
        input projection is `x @ kernel + bias` (`bias` None without one). Tensors
        passed in stand for the `kernel`, `recurrent_kernel` and `bias` weights."""
        kernel = self.kernel if kernel is None else kernel
        recurrent_kernel = self.recurrent_kernel if recurrent_kernel is None else recurrent_kernel
        bias = (self.bias if bias is None else bias) if self.use_bias else None
        return kernel, bias, recurrent_kernel, []

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


def cell_property(name):
    """A read-only layer attribute that forwards to the cell, as Keras's layers have."""
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's `{name}`.")


_COMMON_CELL_ARGUMENTS = (
    "units",
    "activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",
)
_CELL_CONFIG_SKIP = ("name", "dtype", "trainable")


def _gpu_visible():
    """Whether TF sees a GPU (the device dispatch of LSTM and GRU is then built)."""
    return bool(tf.config.list_logical_devices("GPU"))


def _context_on_gpu():
    """Eager calls: whether ops created here run on a GPU (the device scope, else the
    default device)."""
    if not tf.config.list_logical_devices("GPU"):
        return False
    return tf.DeviceSpec.from_string(tf.identity(0.0).device).device_type == "GPU"


def _cudnn_mask_ok(mask):
    """cuDNN handles a mask only when every row is right-padded and not empty."""
    mask = tf.cast(mask, tf.bool)
    lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    right_padded = tf.reduce_all(tf.equal(mask, tf.sequence_mask(lengths, tf.shape(mask)[1])))
    return tf.logical_and(right_padded, tf.reduce_all(lengths > 0))


class RecurrentLayer(LoopHooks, keras.layers.RNN):
    """Base of the seqcore layers: a `keras.layers.RNN` with its own inner loop.

    The input projection runs as large matmuls outside the per-step loop. Standard
    configurations run the fused loop of `seqcore.fused` (hand-written BPTT; LSTM
    and GRU with a cuDNN twin where TF sees a GPU, see `_device_dispatch`); the
    others Keras's generic loop over `cell.recurrent_step`. Masking,
    `go_backwards`, statefulness, `unroll` and dropout keep the semantics of
    `keras.layers.RNN`.

    The time loop takes hooks (`seqcore.hooks.LoopHooks`): `with
    layer.carrying_states(states) as carry:` starts every call from `states` and
    records the final ones; `with layer.perturbing_steps(tape) as p:` adds zero
    tensors to x_t and h_t at every step, whose gradients are dL/dx_t and dL/dh_t.
    """

    cell_class = None
    cell_name = None
    has_cudnn = False

    def __init_subclass__(cls, cell_arguments=(), **kwargs):
        super().__init_subclass__(**kwargs)
        for name in (*_COMMON_CELL_ARGUMENTS, *cell_arguments):
            setattr(cls, name, cell_property(name))

    def __init__(
        self,
        cell_kwargs,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        activity_regularizer=None,
        use_cudnn="auto",
        **kwargs,
    ):
        cell_kwargs.update(implementation=kwargs.pop("implementation", None))
        cell = self.cell_class(
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=self.cell_name,
            **cell_kwargs,
        )
        super().__init__(
            cell,
            return_sequences=check.check_bool("return_sequences", return_sequences),
            return_state=check.check_bool("return_state", return_state),
            go_backwards=check.check_bool("go_backwards", go_backwards),
            stateful=check.check_bool("stateful", stateful),
            unroll=check.check_bool("unroll", unroll),
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)
        self.use_cudnn = check.check_use_cudnn(use_cudnn)

    def cudnn_loop(self, sequences, initial_state, mask, training):
        """The cuDNN kernel when `use_cudnn=True` (LSTM and GRU override this)."""
        raise NotImplementedError

    def inner_loop(self, sequences, initial_state, mask, training=False):
        """The time loop `keras.layers.RNN.call` delegates to, under the active loop hooks
        (`carrying_states`, `perturbing_steps`; see `seqcore.hooks`)."""
        return self.hooked_loop(self._time_loop, sequences, initial_state, mask, training)

    def _time_loop(self, sequences, initial_state, mask, training=False):
        if tree.is_nested(mask):
            mask = mask[0]
        if self.use_cudnn is True:
            try:
                return self.cudnn_loop(sequences, initial_state, mask, training)
            except NotImplementedError:
                raise ValueError(
                    "use_cudnn=True was specified, but cuDNN is not available for this "
                    "layer configuration on this machine (it needs a GPU, tanh/sigmoid "
                    "activations, use_bias=True, no recurrent_dropout, unroll=False and "
                    "no peephole or layer_norm). Received: use_cudnn=True"
                ) from None
        cell = self.cell
        if training and cell.dropout > 0:
            mask_t = cell.get_dropout_mask(sequences[:, 0, :])
            sequences = sequences * ops.expand_dims(mask_t, 1)
        if not self.unroll and not (training and cell.recurrent_dropout > 0):
            if self.use_cudnn == "auto" and self.cudnn_config_ok() and _gpu_visible():
                return self._device_dispatch(sequences, initial_state, mask, bool(training))
            result = self._fused_loop(sequences, initial_state, mask, bool(training))
            if result is not None:
                return result
        recurrent_mask = None
        if training and cell.recurrent_dropout > 0:
            recurrent_mask = cell.get_recurrent_dropout_mask(initial_state[0])
        projected = cell.project_inputs(sequences)

        def step(projected_t, states):
            return cell.recurrent_step(projected_t, list(states), recurrent_mask)

        return _private.keras_rnn_loop(
            step,
            projected,
            list(initial_state),
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )

    def cudnn_config_ok(self):
        """Whether cuDNN computes this configuration exactly: an LSTM or GRU with a fused
        loop (tanh/sigmoid, GRU `reset_after`), `use_bias` and no `recurrent_dropout`."""
        cell = self.cell
        return (
            self.has_cudnn
            and cell.use_bias
            and not cell.recurrent_dropout
            and cell.fused_kind() is not None
        )

    def cudnn_kernel(self, sequences, initial_state, kernel, recurrent_kernel, bias, mask):
        """Keras's cuDNN kernel on explicit weight tensors (LSTM and GRU override)."""
        raise NotImplementedError

    def _device_dispatch(self, sequences, initial_state, mask, training):
        """cuDNN where the call runs on a GPU, the portable fused loop elsewhere.

        Keras 3 picks cuDNN when it traces on a machine with a GPU, so its graph (and
        a SavedModel exported from it) holds cuDNN ops that a CPU-only machine cannot
        run. Here the graph calls the portable implementation, a function tagged
        `api_implements=<unique name>, api_preferred_device=CPU`, and registers a cuDNN
        twin with the same signature tagged `api_preferred_device=GPU` (the pattern of
        Keras 2's LSTM and GRU). TensorFlow's grappler implementation selector swaps
        in the twin, gradient functions included, where the call is placed on a GPU; on
        a CPU nothing is swapped and the cuDNN ops are never instantiated. A mask that
        is not right-padded (or has an empty row) takes the portable loop on GPU too.
        """
        cell = self.cell
        dtype = sequences.dtype
        weights = [ops.cast(w, dtype) for w in (cell.kernel, cell.recurrent_kernel, cell.bias)]
        states = [ops.cast(state, dtype) for state in initial_state]
        count = len(states)
        args = [sequences, *states, *weights] + ([mask] if mask is not None else [])

        def split(flat):
            mask = flat[count + 4] if len(flat) > count + 4 else None
            return flat[0], list(flat[1 : count + 1]), flat[count + 1 : count + 4], mask

        def portable(*flat, training=training):
            sequences, states, weights, mask = split(flat)
            return self._fused_loop(sequences, states, mask, training, weights=weights)

        def gpu(*flat):
            sequences, states, weights, mask = split(flat)

            def cudnn():
                last, outputs, new_states = self.cudnn_kernel(sequences, states, *weights, mask)
                if mask is not None and self.return_sequences and not self.go_backwards:
                    if not self.zero_output_for_mask:
                        # cuDNN zeroes the padded steps; Keras repeats the last output.
                        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
                        outputs = ops.where(keep, outputs, ops.expand_dims(last, 1))
                return last, outputs, list(new_states)

            if mask is None:
                return cudnn()
            # The fallback is the lean loop, differentiated by autodiff: cond_v2 cannot
            # differentiate a branch holding the hand-written BPTT's custom gradient.
            return tf.cond(_cudnn_mask_ok(mask), cudnn, lambda: portable(*flat, training=False))

        if tf.executing_eagerly():
            return (gpu if _context_on_gpu() else portable)(*args)
        name = f"seqcore_{self.cell_name}_{uuid.uuid4().hex}"

        def tagged(function, device):
            attributes = {"api_implements": name, "api_preferred_device": device}
            return tf.function(function, autograph=False, experimental_attributes=attributes)

        result = tagged(portable, "CPU")(*args)
        twin = tagged(gpu, "GPU").get_concrete_function(*args)
        twin.add_to_graph()
        twin.add_gradient_functions_to_graph()
        return result

    def _fused_loop(self, sequences, initial_state, mask, training, weights=None):
        """The fused loop, or None where the configuration has none. `weights`:
        `(kernel, recurrent_kernel, bias)` tensors to use instead of the cell's."""
        kind = self.cell.fused_kind()
        if kind is None:
            return None
        if self.go_backwards:
            sequences = ops.flip(sequences, axis=1)
        dtype = sequences.dtype
        kernel, bias, recurrent_kernel, extras = self.cell.fused_weights(*(weights or ()))
        if mask is not None:
            mask = ops.expand_dims(ops.cast(ops.transpose(mask, (1, 0)), dtype), -1)
            if self.go_backwards:
                mask = ops.flip(mask, axis=0)
        last_output, outputs, states = fused.run(
            kind,
            sequences,
            ops.cast(kernel, dtype),
            None if bias is None else ops.cast(bias, dtype),
            [ops.cast(state, dtype) for state in initial_state],
            ops.cast(recurrent_kernel, dtype),
            extras=[ops.cast(extra, dtype) for extra in extras],
            mask=mask,
            zero_output_for_mask=self.zero_output_for_mask,
            return_sequences=self.return_sequences,
            training=training,
        )
        return last_output, ops.transpose(outputs, (1, 0, 2)), states

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(sequences, mask=mask, training=training, initial_state=initial_state)

    def get_config(self):
        cell_config = {
            key: value
            for key, value in self.cell.get_config().items()
            if key not in _CELL_CONFIG_SKIP
        }
        config = super().get_config()
        del config["cell"]
        config.update(cell_config)
        config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self.has_cudnn:
            config["use_cudnn"] = self.use_cudnn
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
