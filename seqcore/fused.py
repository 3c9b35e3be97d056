"""Fused time loops with hand-written backpropagation through time (TensorFlow).

Keras's generic loop lets autodiff differentiate a `tf.while_loop`: every step
pushes its intermediates on stacks, and the backward loop runs two small
matmuls per step (one for dL/dh_{t-1}, one to accumulate dL/dU). Here each
cell's forward step stores only what its derivative needs (gate activations,
states), the backward loop runs the single matmul dL/dh_{t-1} = dz_t U^T per
step, and dL/dU = sum_t h_{t-1}^T dz_t is one large matmul after the loop.
dL/dW and dL/dx follow by autodiff from the input projection, which is one
matmul over all steps outside the loop.

Masking follows `keras.layers.RNN`: a masked step keeps the previous states;
its output is the previous output (zeros before the first valid step), or zeros
with `zero_output_for_mask`.

Every function here takes time-major tensors: `projected` is `(time, batch,
gates * units)` (the input projection, bias included), `mask` is `(time,
batch, 1)` in the compute dtype or None.
"""

import os

import tensorflow as tf

MAX_PARALLEL_LOOPS = 4
# Slices smaller than this cost more in per-op overhead than their loop gains.
MIN_ROWS_PER_LOOP = 4


class FusedCell:
    """The maths of one cell type: a forward step that also returns what the
    backward step needs, and that backward step.

    `forward(x_t, states, inner_t, extras)` gets `inner_t = h_{t-1} @ U` and returns
    `(new_states, saved)`; `backward(d_states, saved, prev_states, extras)`
    returns `(d_projected_t, d_inner_t, d_prev_states)` where `d_prev_states`
    excludes the path through `inner_t` (the caller adds `d_inner_t @ U^T`; a
    None entry means there is no other path).
    """

    def __init__(self, forward, backward, state_count, saved_count, extras_grad=None):
        self.forward = forward
        self.backward = backward
        # Whether d(inner) equals d(projected), so the backward loop stores one of them.
        self.inner_is_projected = extras_grad is None
        self.state_count = state_count
        self.saved_count = saved_count
        self.extras_grad = extras_grad


def _split(x, n):
    return tf.split(x, n, axis=-1)


# LSTM (tanh / sigmoid), Keras gate order i, f, c, o.
def _lstm_forward(x_t, states, inner, extras):
    _, c_prev = states
    z = x_t + inner
    z_i, z_f, z_c, z_o = _split(z, 4)
    i, f, o = tf.sigmoid(z_i), tf.sigmoid(z_f), tf.sigmoid(z_o)
    g = tf.tanh(z_c)
    c = f * c_prev + i * g
    tanh_c = tf.tanh(c)
    h = o * tanh_c
    return [h, c], (tf.concat([i, f, g, o], axis=-1), tanh_c)


def _lstm_backward(d_states, saved, prev_states, extras):
    d_h, d_c = d_states
    gates, tanh_c = saved
    i, f, g, o = _split(gates, 4)
    c_prev = prev_states[1]
    d_o = d_h * tanh_c
    d_c = d_c + d_h * o * (1.0 - tanh_c * tanh_c)
    d_z = tf.concat(
        [
            d_c * g * i * (1.0 - i),
            d_c * c_prev * f * (1.0 - f),
            d_c * i * (1.0 - g * g),
            d_o * o * (1.0 - o),
        ],
        axis=-1,
    )
    return d_z, d_z, [None, d_c * f]


# GRU (tanh / sigmoid, reset_after=True), Keras gate order z, r, h. The recurrent
# bias of z and r is folded into `projected`; `extras[0]` is the recurrent bias
# of the candidate (it sits inside the reset gate's product).
def _gru_forward(x_t, states, inner, extras):
    h_prev = states[0]
    x_z, x_r, x_h = _split(x_t, 3)
    r_z, r_r, r_h = _split(inner, 3)
    r_h = r_h + extras[0]
    z = tf.sigmoid(x_z + r_z)
    r = tf.sigmoid(x_r + r_r)
    hh = tf.tanh(x_h + r * r_h)
    h = z * h_prev + (1.0 - z) * hh
    return [h], (tf.concat([z, r, hh, r_h], axis=-1),)


def _gru_backward(d_states, saved, prev_states, extras):
    d_h = d_states[0]
    z, r, hh, r_h = _split(saved[0], 4)
    h_prev = prev_states[0]
    d_a_h = d_h * (1.0 - z) * (1.0 - hh * hh)
    d_a_z = d_h * (h_prev - hh) * z * (1.0 - z)
    d_a_r = d_a_h * r_h * r * (1.0 - r)
    d_r_h = d_a_h * r
    d_projected = tf.concat([d_a_z, d_a_r, d_a_h], axis=-1)
    d_inner = tf.concat([d_a_z, d_a_r, d_r_h], axis=-1)
    return d_projected, d_inner, [d_h * z]


def _gru_extras_grad(d_inner_all, units):
    # d(recurrent candidate bias) = sum over time and batch of d_r_h.
    return [tf.reduce_sum(d_inner_all[..., 2 * units :], axis=(0, 1))]


# SimpleRNN (tanh).
def _simple_forward(x_t, states, inner, extras):
    h = tf.tanh(x_t + inner)
    return [h], (h,)


def _simple_backward(d_states, saved, prev_states, extras):
    h = saved[0]
    d_z = d_states[0] * (1.0 - h * h)
    return d_z, d_z, [None]


LSTM = FusedCell(_lstm_forward, _lstm_backward, 2, 2)
GRU = FusedCell(_gru_forward, _gru_backward, 1, 1, _gru_extras_grad)
SIMPLE_RNN = FusedCell(_simple_forward, _simple_backward, 1, 1)


def _masked(m, new, old):
    return old + m * (new - old)


def _forward_loop(
    kind, projected, states0, kernel, extra, mask, zero_output, save, keep_outputs=True
):
    """The forward time loop. With `save`, also returns the state history and
    what `kind.backward` needs (TensorArrays, read step by step). Without `save`
    or `keep_outputs`, the output sequence is not kept (returned as None)."""
    keep_outputs = keep_outputs or save
    steps = projected.shape[0] if projected.shape[0] is not None else tf.shape(projected)[0]
    dtype = projected.dtype
    masked = mask is not None

    def arrays(count):
        return [tf.TensorArray(dtype, size=steps) for _ in range(count)]

    # Reading steps from TensorArrays (not slices) keeps autodiff of this loop
    # linear in time when the lean (save=False) loop is differentiated.
    inputs = tf.TensorArray(dtype, size=steps).unstack(projected)
    if masked:
        masks = tf.TensorArray(mask.dtype, size=steps).unstack(mask)

    def body(t, states, out_prev, out_ta, state_tas, saved_tas):
        inner = tf.matmul(states[0], kernel)
        new_states, saved = kind.forward(inputs.read(t), states, inner, extra)
        out = new_states[0]
        if masked:
            m = masks.read(t)
            out = m * out if zero_output else _masked(m, out, out_prev[0])
            new_states = [_masked(m, n, s) for n, s in zip(new_states, states, strict=True)]
        if keep_outputs:
            out_ta = out_ta.write(t, out)
        if save:
            # Unmasked, the output is the state h: its history is the output stack.
            kept = new_states if masked else new_states[1:]
            state_tas = [a.write(t, x) for a, x in zip(state_tas, kept, strict=True)]
            saved_tas = [a.write(t, x) for a, x in zip(saved_tas, saved, strict=True)]
        # Unmasked, the last output is the state h: no extra loop variable for it.
        return t + 1, new_states, [out] if masked else [], out_ta, state_tas, saved_tas

    n_states, n_saved = (kind.state_count - (not masked), kind.saved_count) if save else (0, 0)
    out0 = [tf.zeros_like(states0[0])] if masked else []
    _, states, last_out, out_ta, state_tas, saved_tas = tf.while_loop(
        lambda t, *_: t < steps,
        body,
        (0, states0, out0, *arrays(1), arrays(n_states), arrays(n_saved)),
        maximum_iterations=steps,
    )
    last_out = last_out[0] if masked else states[0]
    outputs = out_ta.stack() if keep_outputs else None
    history = [a.stack() for a in state_tas]
    if save and not masked:
        history = [outputs, *history]
    # The saved activations stay TensorArrays: stacking them would copy them all.
    return outputs, last_out, states, history, saved_tas


def _backward_loop(
    kind, d_outputs, d_last, d_final, saved, history, states0, kernel, extra, mask, zero_output
):
    """BPTT: returns dL/d(projected) and dL/d(inner) stacked over time, and
    dL/d(initial states). `d_outputs` (or None) is the gradient of the output
    sequence, `d_last` (or None) that of the last output."""
    steps = history[0].shape[0] if history[0].shape[0] is not None else tf.shape(history[0])[0]
    kernel_t = tf.transpose(kernel)
    masked = mask is not None
    d_final = list(d_final)
    g_out = tf.zeros_like(d_final[0])
    if d_last is not None:
        if masked:
            g_out = d_last
        else:  # unmasked, the last output is the final state h
            d_final[0] = d_final[0] + d_last

    def previous(t):
        # States entering step t: the history at t - 1, or the initial states.
        index = tf.maximum(t - 1, 0)
        return [tf.where(t > 0, h[index], s0) for h, s0 in zip(history, states0, strict=True)]

    def body(t, g_states, g_out, d_proj_ta, d_inner_ta):
        # Only masked loops carry a separate output gradient; adding a loop-invariant
        # zero tensor here makes grappler emit a temporary variable that TF 2.21 leaks
        # across runs of long loops (AlreadyExistsError on the second step).
        if masked:
            g_total = g_out if d_outputs is None else g_out + d_outputs[t]
            m = mask[t]
            d_new = [m * (g_states[0] + g_total)] + [m * g for g in g_states[1:]]
            g_out = tf.zeros_like(g_out) if zero_output else (1.0 - m) * g_total
        elif d_outputs is None:
            d_new = list(g_states)
        else:
            d_new = [g_states[0] + d_outputs[t], *g_states[1:]]
        d_proj, d_inner, d_prev = kind.backward(
            d_new, [x.read(t) for x in saved], previous(t), extra
        )
        through_kernel = tf.matmul(d_inner, kernel_t)
        d_prev = [through_kernel if d_prev[0] is None else d_prev[0] + through_kernel, *d_prev[1:]]
        if masked:
            d_prev = [d + (1.0 - m) * g for d, g in zip(d_prev, g_states, strict=True)]
        d_proj_ta = d_proj_ta.write(t, d_proj)
        if not kind.inner_is_projected:
            d_inner_ta = d_inner_ta.write(t, d_inner)
        return t - 1, d_prev, g_out, d_proj_ta, d_inner_ta

    def array():
        return tf.TensorArray(d_final[0].dtype, size=steps)

    _, d_states0, _, d_proj_ta, d_inner_ta = tf.while_loop(
        lambda t, *_: t >= 0,
        body,
        (steps - 1, d_final, g_out, array(), array()),
        maximum_iterations=steps,
    )
    d_projected = d_proj_ta.stack()
    d_inner = d_projected if kind.inner_is_projected else d_inner_ta.stack()
    return d_projected, d_inner, d_states0


def parallel_loops():
    """How many independent time loops `run` splits a batch into.

    On CPU the per-step matmul h_{t-1} U of one loop is too small for TF to spread
    over several cores without a synchronisation per step; independent loops over
    slices of the batch run side by side on TF's inter-op threads instead (about 2x
    on the matmul chain of a 2-core machine). The default is the number of CPU cores
    this process may use, at most 4, and 1 (one loop) when TF sees a GPU. The
    environment variable `SEQCORE_PARALLEL_LOOPS` overrides it.
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
    return max(1, min(MAX_PARALLEL_LOOPS, cores or 1))


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
    projected,
    initial_states,
    recurrent_kernel,
    extras=(),
    mask=None,
    zero_output_for_mask=False,
    return_sequences=True,
    training=True,
    loops=None,
):
    """Runs `kind` (LSTM, GRU or SIMPLE_RNN) over `projected`.

    The batch is split into `loops` (default `parallel_loops()`) slices that run
    as independent time loops; rows never interact, so the results are those of one
    loop. With `training`, each loop is differentiated by the hand-written BPTT;
    without, it runs lean (no saved activations) and autodiff still applies if asked.
    Returns `(last_output, outputs, final_states)`, `outputs` time-major
    `(time, batch, units)` (or `(1, batch, units)` without `return_sequences`).
    """
    loops = parallel_loops() if loops is None else loops
    batch = projected.shape[1]
    if batch is None:
        batch = tf.shape(projected)[1]
    sizes = _batch_slices(batch, loops) if loops > 1 else None
    if sizes is None:
        return _run_one(
            kind,
            projected,
            initial_states,
            recurrent_kernel,
            extras,
            mask,
            zero_output_for_mask,
            return_sequences,
            training,
        )

    def split(x, axis):
        return tf.split(x, sizes, axis=axis, num=loops)

    parts = zip(
        split(projected, 1),
        zip(*(split(state, 0) for state in initial_states), strict=True),
        split(mask, 1) if mask is not None else [None] * loops,
        strict=True,
    )
    results = [
        _run_one(
            kind,
            part,
            list(states),
            recurrent_kernel,
            extras,
            part_mask,
            zero_output_for_mask,
            return_sequences,
            training,
        )
        for part, states, part_mask in parts
    ]
    last_output = tf.concat([r[0] for r in results], axis=0)
    outputs = tf.concat([r[1] for r in results], axis=1)
    final_states = [tf.concat(s, axis=0) for s in zip(*(r[2] for r in results), strict=True)]
    return last_output, outputs, final_states


def _run_one(
    kind,
    projected,
    initial_states,
    recurrent_kernel,
    extras=(),
    mask=None,
    zero_output_for_mask=False,
    return_sequences=True,
    training=True,
):
    """`run` on one slice of the batch, as one time loop."""
    n_states = kind.state_count
    units = recurrent_kernel.shape[0]

    if not training:
        outputs, last, states, _, _ = _forward_loop(
            kind,
            projected,
            list(initial_states),
            recurrent_kernel,
            list(extras),
            mask,
            zero_output_for_mask,
            save=False,
            keep_outputs=return_sequences,
        )
        return last, (outputs if return_sequences else last[None]), list(states)

    @tf.custom_gradient
    def loop(projected, kernel, *flat):
        states0, extra = list(flat[:n_states]), list(flat[n_states:])
        outputs, last, states, history, saved = _forward_loop(
            kind, projected, states0, kernel, extra, mask, zero_output_for_mask, save=True
        )

        def grad(d_outputs, d_last, *d_final):
            d_final = [
                tf.zeros_like(s) if d is None else d for d, s in zip(d_final, states, strict=True)
            ]
            d_projected, d_inner, d_states0 = _backward_loop(
                kind,
                d_outputs,
                d_last,
                d_final,
                saved,
                history,
                states0,
                kernel,
                extra,
                mask,
                zero_output_for_mask,
            )
            h_prev = tf.concat([states0[0][None], history[0][:-1]], axis=0)
            d_kernel = tf.matmul(
                tf.reshape(h_prev, (-1, units)),
                tf.reshape(d_inner, (-1, d_inner.shape[-1])),
                transpose_a=True,
            )
            d_extra = kind.extras_grad(d_inner, units) if extra else []
            return (d_projected, d_kernel, *d_states0, *d_extra)

        return (outputs, last, *states), grad

    results = loop(projected, recurrent_kernel, *initial_states, *extras)
    outputs, last_output, final_states = results[0], results[1], list(results[2:])
    if not return_sequences:
        outputs = last_output[None]
    return last_output, outputs, final_states
