"""Fused time loops with hand-written backpropagation through time (TensorFlow).

Keras's generic loop lets autodiff differentiate a `tf.while_loop`: every step
pushes its intermediates on stacks, and the backward loop runs several small
matmuls per step (dL/dh_{t-1}, and accumulating dL/dU, dL/dW and dL/dx). Here
each cell's forward step stores only what its derivative needs (gate activations
and the states entering the step), and the backward loop runs the single matmul
dL/dh_{t-1} = dz_t U^T per step. The input projection x W + b and the weight
gradients dL/dW, dL/db, dL/dU and dL/dx run as large matmuls once per chunk of
`CHUNK` steps, so the training loop never holds the projection or its gradient
for the whole sequence: the forward pushes each step's activations on TensorList
stacks and the backward pops them, so memory stays at what BPTT must keep.

Inference (no saved activations) projects the whole sequence with one matmul
before a lean loop; autodiff still applies to it if asked.

Masking follows `keras.layers.RNN`: a masked step keeps the previous states;
its output is the previous output (zeros before the first valid step), or zeros
with `zero_output_for_mask`.

`inputs` are batch-major `(batch, time, features)` (the training loop transposes
them a chunk at a time, so no time-major copy of the whole sequence is kept);
everything else is time-major: `mask` is `(time, batch, 1)` in the compute dtype
or None, and `outputs` are `(time, batch, units)`.
"""

import os

import tensorflow as tf

from seqcore import _private

MAX_PARALLEL_LOOPS = 4
# Slices smaller than this cost more in per-op overhead than their loop gains.
MIN_ROWS_PER_LOOP = 4
# The default splits the batch only where each loop gets at least this many
# multiply-adds of h_{t-1} U per step (measured on 2 cores: LSTM(64) gains from
# 2 x 16 rows, loses with 2 x 8 rows or LSTM(32) with 2 x 32 rows).
MIN_LOOP_MACS = 2**18
# The batch size assumed for graphs traced with an unknown one (Keras's `fit`).
ASSUMED_BATCH = 32
# Steps per chunk of the training loops: the projection and weight-gradient matmuls
# run once per chunk; a chunk's projection and its gradient are all the training
# loop holds beyond the saved activations.
CHUNK = 16


class FusedCell:
    """The maths of one cell type: a forward step that also returns what the
    backward step needs, and that backward step.

    `forward(x_t, states, inner_t, extras)` gets `inner_t = h_{t-1} @ U` and returns
    `(new_states, saved)`; `backward(d_states, saved, prev_states, new_states,
    extras)` returns `(d_projected_t, d_inner_t, d_prev_states)` where
    `d_prev_states` excludes the path through `inner_t` (the caller adds
    `d_inner_t @ U^T`; a None entry means there is no other path). On masked rows
    `new_states` are the kept previous states; their gradient is zero there anyway.
    """

    def __init__(self, forward, backward, state_count, saved_widths, extras_grad=None):
        self.forward = forward
        self.backward = backward
        # Whether d(inner) equals d(projected), so the backward loop stores one of them.
        self.inner_is_projected = extras_grad is None
        self.state_count = state_count
        # The widths, in units, of the saved activations `forward` returns.
        self.saved_widths = tuple(saved_widths)
        self.saved_count = len(self.saved_widths)
        self.extras_grad = extras_grad


def _split(x, n):
    return tf.split(x, n, axis=-1)


# One op each instead of three: dy * (1 - y^2) and dy * y * (1 - y), given y = tanh(x)
# or sigmoid(x) (TF's own gradient kernels of Tanh and Sigmoid).
def _tanh_grad(y, dy):
    return tf.raw_ops.TanhGrad(y=y, dy=dy)


def _sigmoid_grad(y, dy):
    return tf.raw_ops.SigmoidGrad(y=y, dy=dy)


# LSTM (tanh / sigmoid), Keras gate order i, f, c, o.
def _lstm_forward(x_t, states, inner, extras):
    _, c_prev = states
    z = x_t + inner
    z_i, z_f, z_c, z_o = _split(z, 4)
    i, f, o = tf.sigmoid(z_i), tf.sigmoid(z_f), tf.sigmoid(z_o)
    g = tf.tanh(z_c)
    c = f * c_prev + i * g
    h = o * tf.tanh(c)
    return [h, c], (tf.concat([i, f, g, o], axis=-1),)


def _lstm_backward(d_states, saved, prev_states, new_states, extras):
    d_h, d_c = d_states
    i, f, g, o = _split(saved[0], 4)
    tanh_c = tf.tanh(new_states[1])
    d_c = d_c + _tanh_grad(tanh_c, d_h * o)
    d_z = tf.concat(
        [
            _sigmoid_grad(i, d_c * g),
            _sigmoid_grad(f, d_c * prev_states[1]),
            _tanh_grad(g, d_c * i),
            _sigmoid_grad(o, d_h * tanh_c),
        ],
        axis=-1,
    )
    return d_z, d_z, [None, d_c * f]


# GRU (tanh / sigmoid, reset_after=True), Keras gate order z, r, h. The recurrent
# bias of z and r is folded into `projected`; `extras[0]` is the recurrent bias
# of the candidate (it sits inside the reset gate's product).
def _gru_forward(x_t, states, inner, extras):
    h_prev = states[0]
    units = h_prev.shape[-1]
    # z and r in one sigmoid (their blocks are adjacent); h = hh + z (h_prev - hh).
    x_zr, x_h = tf.split(x_t, [2 * units, units], axis=-1)
    r_zr, r_h = tf.split(inner, [2 * units, units], axis=-1)
    r_h = r_h + extras[0]
    zr = tf.sigmoid(x_zr + r_zr)
    z, r = _split(zr, 2)
    hh = tf.tanh(x_h + r * r_h)
    h = hh + z * (h_prev - hh)
    return [h], (tf.concat([zr, hh, r_h], axis=-1),)


def _gru_backward(d_states, saved, prev_states, new_states, extras):
    d_h = d_states[0]
    units = d_h.shape[-1]
    zr, hh, r_h = tf.split(saved[0], [2 * units, units, units], axis=-1)
    z, r = _split(zr, 2)
    d_a_h = _tanh_grad(hh, d_h * (1.0 - z))
    d_a_zr = _sigmoid_grad(zr, tf.concat([d_h * (prev_states[0] - hh), d_a_h * r_h], axis=-1))
    d_projected = tf.concat([d_a_zr, d_a_h], axis=-1)
    d_inner = tf.concat([d_a_zr, d_a_h * r], axis=-1)
    return d_projected, d_inner, [d_h * z]


def _gru_extras_grad(d_inner_all, units):
    # d(recurrent candidate bias) = sum over time and batch of d_r_h.
    return [tf.reduce_sum(d_inner_all[..., 2 * units :], axis=(0, 1))]


# SimpleRNN (tanh).
def _simple_forward(x_t, states, inner, extras):
    h = tf.tanh(x_t + inner)
    return [h], ()


def _simple_backward(d_states, saved, prev_states, new_states, extras):
    d_z = _tanh_grad(new_states[0], d_states[0])
    return d_z, d_z, [None]


LSTM = FusedCell(_lstm_forward, _lstm_backward, 2, [4])
GRU = FusedCell(_gru_forward, _gru_backward, 1, [4], _gru_extras_grad)
SIMPLE_RNN = FusedCell(_simple_forward, _simple_backward, 1, [])


def _masked(m, new, old):
    return old + m * (new - old)


def _dim(x, axis):
    """The size of `x` along `axis`: static when known, else a scalar tensor."""
    return x.shape[axis] if x.shape[axis] is not None else tf.shape(x)[axis]


def _time_major(x):
    """Swaps the batch and time axes of a 3-D tensor."""
    return tf.transpose(x, (1, 0, 2))


def _project(inputs, kernel, bias):
    """`inputs W + b` for time-major `inputs` `(steps, batch, features)`."""
    shape = tf.shape(inputs)
    flat = tf.matmul(tf.reshape(inputs, (-1, inputs.shape[-1])), kernel)
    projected = tf.reshape(flat, tf.concat([shape[:2], [kernel.shape[-1]]], 0))
    return projected if bias is None else projected + bias


def _inference_loop(kind, projected, states0, kernel, extra, mask, zero_output, keep_outputs):
    """The lean forward loop (nothing saved). Returns `(outputs or None, last, states)`."""
    steps = _dim(projected, 0)
    masked = mask is not None
    # Reading steps from TensorArrays (not slices) keeps autodiff of this loop
    # linear in time.
    inputs = tf.TensorArray(projected.dtype, size=steps).unstack(projected)
    if masked:
        masks = tf.TensorArray(mask.dtype, size=steps).unstack(mask)

    # Loop variables only for what is used: unmasked, the last output is the state h;
    # without `keep_outputs`, no output stack.
    def body(t, states, out_prev, out_ta):
        inner = tf.matmul(states[0], kernel)
        new_states, _ = kind.forward(inputs.read(t), states, inner, extra)
        out = new_states[0]
        if masked:
            m = masks.read(t)
            out = m * out if zero_output else _masked(m, out, out_prev[0])
            new_states = [_masked(m, n, s) for n, s in zip(new_states, states, strict=True)]
        out_ta = [a.write(t, out) for a in out_ta]
        return t + 1, new_states, [out] if masked else [], out_ta

    out0 = [tf.zeros_like(states0[0])] if masked else []
    out_ta = [tf.TensorArray(projected.dtype, size=steps)] if keep_outputs else []
    _, states, last_out, out_ta = tf.while_loop(
        lambda t, *_: t < steps,
        body,
        (0, states0, out0, out_ta),
        maximum_iterations=steps,
    )
    outputs = out_ta[0].stack() if keep_outputs else None
    return outputs, (last_out[0] if masked else states[0]), states


def _empty_stack(dtype, size):
    # A fixed maximum size lets XLA compile the stack (jit_compile=True).
    return tf.raw_ops.EmptyTensorList(
        element_shape=tf.constant(-1), max_num_elements=size, element_dtype=dtype
    )


def _pop(stack, like):
    stack, value = tf.raw_ops.TensorListPopBack(
        input_handle=stack, element_shape=tf.constant(-1), element_dtype=like.dtype
    )
    value.set_shape(like.shape)
    return stack, value


def _chunks(steps, chunk):
    return (steps + chunk - 1) // chunk


def _chunk_span(c, steps, chunk):
    start = c * chunk
    if isinstance(start, int) and isinstance(steps, int):
        return start, min(chunk, steps - start)
    return start, tf.minimum(chunk, steps - start)


def _over_chunks(body, first, loop_vars, n_chunks):
    """`tf.while_loop` of `body(c, *loop_vars)` over the chunks from `first` on (up
    when `first` is 0, down when it is the last). A single chunk runs inline, so XLA
    sees static shapes."""
    if isinstance(n_chunks, int) and n_chunks == 1:
        return body(0, *loop_vars)
    if isinstance(first, int) and first == 0:
        cond = lambda c, *_: c < n_chunks  # noqa: E731
    else:
        cond = lambda c, *_: c >= 0  # noqa: E731
    return tf.while_loop(cond, body, (first, *loop_vars), maximum_iterations=n_chunks)


def _in_xla_context():
    """Whether the graph being built will be compiled by XLA (`jit_compile=True`)."""
    return _private.in_xla_context()


def _training_forward(
    kind,
    inputs,
    kernel,
    bias,
    states0,
    recurrent_kernel,
    extra,
    mask,
    zero_output,
    keep_outputs,
    chunk,
):
    """The forward loop of training, chunk by chunk. Pushes, step by step, the states
    entering the step and `kind`'s saved activations on TensorList stacks (one per
    quantity). Returns `(outputs or None, last, states, stacks)`."""
    steps = _dim(inputs, 1)
    dtype = inputs.dtype
    masked = mask is not None
    n_stacks = kind.state_count + kind.saved_count

    def chunk_body(c, states, out_prev, out_ta, stacks):
        start, size = _chunk_span(c, steps, chunk)
        projected = _project(_time_major(inputs[:, start : start + size]), kernel, bias)
        rows = tf.TensorArray(dtype, size=size).unstack(projected)

        def step_body(i, states, out_prev, out_ta, stacks):
            t = start + i
            inner = tf.matmul(states[0], recurrent_kernel)
            new_states, saved = kind.forward(rows.read(i), states, inner, extra)
            stacks = [
                tf.raw_ops.TensorListPushBack(input_handle=s, tensor=x)
                for s, x in zip(stacks, [*states, *saved], strict=True)
            ]
            out = new_states[0]
            if masked:
                m = mask[t]
                out = m * out if zero_output else _masked(m, out, out_prev[0])
                new_states = [_masked(m, n, s) for n, s in zip(new_states, states, strict=True)]
            out_ta = [a.write(t, out) for a in out_ta]
            return i + 1, new_states, [out] if masked else [], out_ta, stacks

        _, states, out_prev, out_ta, stacks = tf.while_loop(
            lambda i, *_: i < size,
            step_body,
            (0, states, out_prev, out_ta, stacks),
            maximum_iterations=size,
        )
        return c + 1, states, out_prev, out_ta, stacks

    n_chunks = _chunks(steps, chunk)
    out0 = [tf.zeros_like(states0[0])] if masked else []
    stacks0 = [_empty_stack(dtype, steps) for _ in range(n_stacks)]
    out_ta = [tf.TensorArray(dtype, size=steps)] if keep_outputs else []
    _, states, last_out, out_ta, stacks = _over_chunks(
        chunk_body, 0, (states0, out0, out_ta, stacks0), n_chunks
    )
    outputs = out_ta[0].stack() if keep_outputs else None
    return outputs, (last_out[0] if masked else states[0]), states, stacks


def _training_backward(
    kind,
    inputs,
    kernel,
    recurrent_kernel,
    extra,
    stacks,
    final_states,
    templates,
    d_outputs,
    d_last,
    d_final,
    mask,
    zero_output,
    chunk,
):
    """BPTT over the stacks of `_training_forward`, popped step by step, last chunk
    first. `templates`: tensors shaped like what each stack holds. Returns the
    gradients of `(inputs, kernel, bias, recurrent_kernel, initial states, extras)`."""
    steps = _dim(inputs, 1)
    dtype = inputs.dtype
    masked = mask is not None
    n_states = kind.state_count
    kernel_t = tf.transpose(kernel)
    recurrent_t = tf.transpose(recurrent_kernel)
    units = recurrent_kernel.shape[0]
    d_final = list(d_final)
    g_out = tf.zeros_like(d_final[0])
    if d_last is not None:
        if masked:
            g_out = d_last
        else:  # unmasked, the last output is the final state h
            d_final[0] = d_final[0] + d_last

    def chunk_body(c, new_states, g_states, g_out, stacks, grads, dx_ta):
        start, size = _chunk_span(c, steps, chunk)

        def step_body(i, new_states, g_states, g_out, stacks, d_proj_ta, d_inner_ta, h_ta):
            t = start + i
            popped = [_pop(s, x) for s, x in zip(stacks, templates, strict=True)]
            stacks = [s for s, _ in popped]
            values = [v for _, v in popped]
            prev_states, saved = values[:n_states], values[n_states:]
            # Only masked loops carry a separate output gradient; adding a loop-invariant
            # zero tensor here makes grappler emit a temporary variable that TF 2.21
            # leaks across runs of long loops (AlreadyExistsError on the second step).
            if masked:
                g_total = g_out if d_outputs is None else g_out + d_outputs[t]
                m = mask[t]
                d_new = [m * (g_states[0] + g_total)] + [m * g for g in g_states[1:]]
                g_out = tf.zeros_like(g_out) if zero_output else (1.0 - m) * g_total
            elif d_outputs is None:
                d_new = list(g_states)
            else:
                d_new = [g_states[0] + d_outputs[t], *g_states[1:]]
            d_proj, d_inner, d_prev = kind.backward(d_new, saved, prev_states, new_states, extra)
            through = tf.matmul(d_inner, recurrent_t)
            d_prev = [through if d_prev[0] is None else d_prev[0] + through, *d_prev[1:]]
            if masked:
                d_prev = [d + (1.0 - m) * g for d, g in zip(d_prev, g_states, strict=True)]
            d_proj_ta = d_proj_ta.write(i, d_proj)
            if not kind.inner_is_projected:
                d_inner_ta = d_inner_ta.write(i, d_inner)
            h_ta = h_ta.write(i, prev_states[0])
            return i - 1, prev_states, d_prev, g_out, stacks, d_proj_ta, d_inner_ta, h_ta

        def array():
            return tf.TensorArray(dtype, size=size)

        _, new_states, g_states, g_out, stacks, d_proj_ta, d_inner_ta, h_ta = tf.while_loop(
            lambda i, *_: i >= 0,
            step_body,
            (size - 1, new_states, g_states, g_out, stacks, array(), array(), array()),
            maximum_iterations=size,
        )
        d_proj = d_proj_ta.stack()
        d_inner = d_proj if kind.inner_is_projected else d_inner_ta.stack()
        flat_proj = tf.reshape(d_proj, (-1, d_proj.shape[-1]))
        flat_inner = tf.reshape(d_inner, (-1, d_inner.shape[-1]))
        x = _time_major(inputs[:, start : start + size])
        flat_x = tf.reshape(x, (-1, inputs.shape[-1]))
        flat_h = tf.reshape(h_ta.stack(), (-1, units))
        d_kernel, d_bias, d_recurrent, *d_extra = grads
        grads = [
            d_kernel + tf.matmul(flat_x, flat_proj, transpose_a=True),
            d_bias + tf.reduce_sum(flat_proj, axis=0),
            d_recurrent + tf.matmul(flat_h, flat_inner, transpose_a=True),
            *(
                a + b
                for a, b in zip(
                    d_extra, kind.extras_grad(d_inner, units) if extra else [], strict=True
                )
            ),
        ]
        d_x = tf.reshape(tf.matmul(flat_proj, kernel_t), tf.shape(x))
        return c - 1, new_states, g_states, g_out, stacks, grads, dx_ta.write(c, d_x)

    n_chunks = _chunks(steps, chunk)
    grads0 = [
        tf.zeros_like(kernel),
        tf.zeros((kernel.shape[-1],), dtype),
        tf.zeros_like(recurrent_kernel),
        *(tf.zeros_like(e) for e in extra),
    ]
    dx_ta = tf.TensorArray(dtype, size=n_chunks, infer_shape=False)
    _, _, d_states0, _, _, grads, dx_ta = _over_chunks(
        chunk_body,
        n_chunks - 1,
        (list(final_states), d_final, g_out, stacks, grads0, dx_ta),
        n_chunks,
    )
    shape = tf.shape(inputs)
    d_inputs = _time_major(tf.reshape(dx_ta.concat(), tf.stack([shape[1], shape[0], shape[2]])))
    d_kernel, d_bias, d_recurrent, *d_extra = grads
    return d_inputs, d_kernel, d_bias, d_recurrent, d_states0, d_extra


def parallel_loops(batch=None, row_macs=None):
    """How many independent time loops `run` splits a batch into.

    On CPU the per-step matmul h_{t-1} U of one loop is too small for TF to spread
    over several cores without a synchronisation per step; independent loops over
    slices of the batch run side by side on TF's inter-op threads instead (about 2x
    on the matmul chain of a 2-core machine). The default is the number of CPU cores
    this process may use, at most `MAX_PARALLEL_LOOPS`, and 1 (one loop) when TF sees
    a GPU. With `batch` (None: unknown, taken as `ASSUMED_BATCH`) and `row_macs`
    (multiply-adds of h_{t-1} U per row), loops that would each get less than
    `MIN_LOOP_MACS` per step are dropped: there the per-op overhead of a second loop
    costs more than it gains. The environment variable `SEQCORE_PARALLEL_LOOPS`
    overrides all of this.
    """
    value = os.environ.get("SEQCORE_PARALLEL_LOOPS")
    if value is not None:
        try:
            loops = int(value)
        except ValueError:
            loops = 0
        if loops < 1:
            raise ValueError(
                f"SEQCORE_PARALLEL_LOOPS must be a positive integer. Received: {value!r}"
            )
        return loops
    if tf.config.list_logical_devices("GPU"):
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    loops = max(1, min(MAX_PARALLEL_LOOPS, cores or 1))
    if row_macs is not None:
        rows = batch if isinstance(batch, int) else ASSUMED_BATCH
        loops = max(1, min(loops, rows * row_macs // MIN_LOOP_MACS))
    return loops


def _batch_slices(batch, loops):
    """Sizes of `loops` near-equal slices of `batch` rows (a static list when the batch
    size is known, else a tensor), or None when there is nothing to split."""
    if isinstance(batch, int):
        loops = min(loops, batch // MIN_ROWS_PER_LOOP)
        if loops < 2:
            return None
        return [batch // loops + (i < batch % loops) for i in range(loops)]
    base, extra = batch // loops, batch % loops
    return tf.stack([base + tf.cast(i < extra, batch.dtype) for i in range(loops)])


def run(
    kind,
    inputs,
    kernel,
    bias,
    initial_states,
    recurrent_kernel,
    extras=(),
    mask=None,
    zero_output_for_mask=False,
    return_sequences=True,
    training=True,
    loops=None,
    chunk=CHUNK,
):
    """Runs `kind` (LSTM, GRU or SIMPLE_RNN) over batch-major `inputs`, whose
    projection is `inputs @ kernel + bias` (`bias` may be None).

    The batch is split into `loops` (default `parallel_loops(batch, row_macs)`)
    slices that run as independent time loops; rows never interact, so the results are those of one
    loop. With `training`, each loop is differentiated by the hand-written BPTT;
    without, it runs lean (no saved activations) and autodiff still applies if asked.
    Returns `(last_output, outputs, final_states)`, `outputs` time-major
    `(time, batch, units)` (or `(1, batch, units)` without `return_sequences`).
    """
    batch = inputs.shape[0]
    if loops is None:
        units = recurrent_kernel.shape[0]
        loops = parallel_loops(batch, units * recurrent_kernel.shape[-1])
    if batch is None:
        batch = tf.shape(inputs)[0]
    sizes = _batch_slices(batch, loops) if loops > 1 else None
    options = dict(
        zero_output=zero_output_for_mask,
        return_sequences=return_sequences,
        training=training,
        chunk=chunk,
    )
    weights = (kernel, bias, recurrent_kernel, list(extras))
    if sizes is None:
        return _run_one(kind, inputs, list(initial_states), mask, *weights, **options)

    def split(x, axis):
        return tf.split(x, sizes, axis=axis, num=loops)

    parts = zip(
        split(inputs, 0),
        zip(*(split(state, 0) for state in initial_states), strict=True),
        split(mask, 1) if mask is not None else [None] * loops,
        strict=True,
    )
    results = [
        _run_one(kind, part, list(states), part_mask, *weights, **options)
        for part, states, part_mask in parts
    ]
    last_output = tf.concat([r[0] for r in results], axis=0)
    outputs = tf.concat([r[1] for r in results], axis=1)
    final_states = [tf.concat(s, axis=0) for s in zip(*(r[2] for r in results), strict=True)]
    return last_output, outputs, final_states


def _run_one(
    kind,
    inputs,
    initial_states,
    mask,
    kernel,
    bias,
    recurrent_kernel,
    extras,
    zero_output,
    return_sequences,
    training,
    chunk,
):
    """`run` on one slice of the batch, as one time loop."""
    if not training:
        outputs, last, states = _inference_loop(
            kind,
            _project(_time_major(inputs), kernel, bias),
            initial_states,
            recurrent_kernel,
            extras,
            mask,
            zero_output,
            keep_outputs=return_sequences,
        )
        return last, (outputs if return_sequences else last[None]), list(states)

    n_states = kind.state_count
    has_bias = bias is not None
    if _in_xla_context() and inputs.shape[1] is not None:
        chunk = inputs.shape[1]  # XLA: one chunk, static shapes (memory is XLA's)

    @tf.custom_gradient
    def loop(inputs, kernel, recurrent_kernel, *flat):
        bias = flat[0] if has_bias else None
        flat = flat[1:] if has_bias else flat
        states0, extra = list(flat[:n_states]), list(flat[n_states:])
        outputs, last, states, stacks = _training_forward(
            kind,
            inputs,
            kernel,
            bias,
            states0,
            recurrent_kernel,
            extra,
            mask,
            zero_output,
            return_sequences,
            chunk,
        )
        # What each stack holds (shapes and dtypes of popped values): the states entering
        # a step, then `kind`'s saved activations.
        units = recurrent_kernel.shape[0]
        templates = [
            *states0,
            *(
                tf.TensorSpec((states0[0].shape[0], n * units), inputs.dtype)
                for n in kind.saved_widths
            ),
        ]

        def grad(*d_results):
            d_outputs = d_results[0] if return_sequences else None
            d_last, d_final = d_results[int(return_sequences)], d_results[1 + return_sequences :]
            d_final = [
                tf.zeros_like(s) if d is None else d for d, s in zip(d_final, states, strict=True)
            ]
            d_inputs, d_kernel, d_bias, d_recurrent, d_states0, d_extra = _training_backward(
                kind,
                inputs,
                kernel,
                recurrent_kernel,
                extra,
                stacks,
                states,
                templates,
                d_outputs,
                d_last,
                d_final,
                mask,
                zero_output,
                chunk,
            )
            return (
                d_inputs,
                d_kernel,
                d_recurrent,
                *([d_bias] if has_bias else []),
                *d_states0,
                *d_extra,
            )

        results = ([outputs] if return_sequences else []) + [last, *states]
        return results, grad

    flat = ([bias] if has_bias else []) + [*initial_states, *extras]
    results = loop(inputs, kernel, recurrent_kernel, *flat)
    if return_sequences:
        outputs, last_output, final_states = results[0], results[1], list(results[2:])
    else:
        last_output, final_states = results[0], list(results[1:])
        outputs = last_output[None]
    return last_output, outputs, final_states
