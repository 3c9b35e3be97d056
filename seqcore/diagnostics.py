"""Gradient-flow diagnostics: how the gradient of a loss reaches each step of a sequence.

`gradient_flow(model, inputs, targets)` measures, for every step t of a recurrent layer,

* `dh_norms[t]`: the norm of dL/dh_t, the *total* derivative of the loss with respect to
  the layer's hidden state h_t (the layer's output at step t; for an LSTM h, not c),
  including every path through the later steps. This is what backpropagation through
  time carries back to step t; in a vanilla RNN it shrinks (or grows) geometrically with
  the distance to the loss, the vanishing (exploding) gradient.
* `dx_norms[t]`: the norm of dL/dx_t, the gradient of the loss with respect to the
  layer's input at step t.

How: within the layer's `perturbing_steps` hook (`seqcore.hooks`) its time loop runs
step by step with a zero perturbation e_t added to h_t (to the output and to the state
that feeds step t + 1), and a zero perturbation d_t added to its input; dL/de_t =
dL/dh_t and dL/dd_t = dL/dx_t. The perturbations are zero, so the loss and every
activation are those of the unmodified model. A Keras recurrent layer is measured
through a twin sharing its cell (`seqcore.hooks.hookable`) in a clone of a Sequential
or Functional model.

Norms are per example (L2 over the units or features of one example at one step), then
averaged over the batch. The loss is the *sum* over examples of each example's loss, so
an example's gradient does not depend on the batch size.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import tree

from seqcore.hooks import hookable, with_hookable_layers


@dataclasses.dataclass(frozen=True)
class GradientFlow:
    """Per-step gradient norms of one recurrent layer (see `gradient_flow`).

    Attributes:
        dh_norms: `(T,)` float array, mean over examples of ||dL/dh_t||.
        dx_norms: `(T,)` float array, mean over examples of ||dL/dx_t||.
        loss: The loss (sum over examples).
        layer: Name of the recurrent layer measured.
    """

    dh_norms: np.ndarray
    dx_norms: np.ndarray
    loss: float
    layer: str

    @property
    def first_last_ratio(self):
        """||dL/dh_1|| / ||dL/dh_T||: how much of the gradient at the last step reaches the
        first one (with the loss on the last output: 1 is no decay, << 1 vanishing)."""
        return float(self.dh_norms[0] / self.dh_norms[-1])

    def to_dict(self):
        """JSON-ready: `dh_norms`, `dx_norms` (lists), `first_last_ratio`, `loss`, `layer`."""
        return {
            "dh_norms": [float(v) for v in self.dh_norms],
            "dx_norms": [float(v) for v in self.dx_norms],
            "first_last_ratio": self.first_last_ratio,
            "loss": self.loss,
            "layer": self.layer,
        }


def _find_layer(model, layer):
    if isinstance(layer, keras.layers.Layer):
        return layer
    candidates = []

    def walk(container):
        for sub in getattr(container, "layers", ()):
            if isinstance(sub, (keras.layers.RNN, keras.layers.Bidirectional)):
                candidates.append(sub)
            elif getattr(sub, "layers", None):
                walk(sub)

    walk(model)
    if layer is not None:
        named = [c for c in candidates if c.name == layer]
        if not named:
            names = [c.name for c in candidates]
            raise ValueError(
                f"`layer` must name a recurrent layer of the model ({names}). "
                f"Received: layer={layer!r}"
            )
        return named[0]
    if not candidates:
        raise ValueError(
            "gradient_flow needs a model with a recurrent layer (keras.layers.RNN, e.g. "
            f"seqcore.LSTM). Received: model={model.name!r}"
        )
    return candidates[0]


def _check_layer(layer):
    if isinstance(layer, keras.layers.Bidirectional):
        raise ValueError(
            "gradient_flow measures one direction of time; pass one of the bidirectional "
            f"layer's directions as `layer`. Received: layer {layer.name!r} (Bidirectional)"
        )
    if not isinstance(layer, keras.layers.RNN):
        raise ValueError(
            "gradient_flow measures a recurrent layer (keras.layers.RNN, e.g. seqcore.LSTM). "
            f"Received: layer {layer.name!r} ({type(layer).__name__})"
        )
    if layer.go_backwards:
        raise ValueError(
            "gradient_flow does not support go_backwards=True. "
            f"Received: layer {layer.name!r} with go_backwards=True"
        )


def _loss_value(loss, targets, predictions):
    if targets is None:
        return tf.add_n([tf.reduce_sum(tf.cast(p, "float32")) for p in tree.flatten(predictions)])
    function = keras.losses.get(loss) if isinstance(loss, str) else loss
    if isinstance(function, keras.losses.Loss):
        function = function.call
    values = tree.map_structure(function, targets, predictions)
    return tf.add_n([tf.reduce_sum(tf.cast(v, "float32")) for v in tree.flatten(values)])


def _step_norms(gradient):
    """Mean over examples of the L2 norm at each step: `(batch, T, ...)` -> `(T,)`.
    In float64: squares of gradients below 1e-19 underflow float32."""
    gradient = tf.cast(gradient, "float64")
    axes = list(range(2, len(gradient.shape)))
    return tf.reduce_mean(tf.sqrt(tf.reduce_sum(tf.square(gradient), axis=axes)), axis=0).numpy()


def gradient_flow(model, inputs, targets=None, loss="mean_squared_error", layer=None):
    """Per-step norms of dL/dh_t and dL/dx_t of a recurrent layer on given data.

    The model runs in inference mode (no dropout), eagerly, its recurrent layer step by
    step: cost grows linearly with the number of steps.

    Args:
        model: A Keras model containing a recurrent layer (`keras.layers.RNN`: seqcore's
            layers or Keras's own), or such a layer on its own.
        inputs: The model's inputs, `(batch, T, features)` for a recurrent layer.
        targets: Targets for `loss`, or None: then the loss is the sum of the model's
            outputs (dL/d(output) = 1 for every output value).
        loss: A Keras loss name or a callable `loss(y_true, y_pred)` returning one value
            per example (or per example and step); ignored when `targets` is None. The
            loss is summed over examples.
        layer: The recurrent layer to measure (a layer or its name); by default the
            first recurrent layer of `model`.

    Returns:
        A `GradientFlow` with `dh_norms` and `dx_norms` (NumPy arrays of shape `(T,)`),
        `loss` and `first_last_ratio` = `dh_norms[0] / dh_norms[-1]`.

    Example:

    >>> import numpy as np, keras, seqcore
    >>> from seqcore.diagnostics import gradient_flow
    >>> model = keras.Sequential([keras.Input((50, 3)), seqcore.SimpleRNN(8),
    ...                           keras.layers.Dense(1)])
    >>> x = np.random.default_rng(0).normal(size=(4, 50, 3)).astype("float32")
    >>> flow = gradient_flow(model, x, np.zeros((4, 1), "float32"))
    >>> flow.dh_norms.shape, bool(flow.first_last_ratio < 1e-3)
    ((50,), True)
    """
    if isinstance(model, keras.layers.RNN) and layer is None:
        layer = model
    target_layer = _find_layer(model, layer)
    _check_layer(target_layer)
    original = model
    if model is target_layer:
        model = hooked = hookable(target_layer)
    else:
        model = with_hookable_layers(model, [target_layer])
        hooked = _find_layer(model, target_layer.name) if model is not original else target_layer
    inputs = tree.map_structure(tf.convert_to_tensor, inputs)
    with tf.GradientTape() as tape:
        with hooked.perturbing_steps(tape) as perturbation:
            predictions = model(inputs, training=False)
        value = _loss_value(loss, targets, predictions)
    if perturbation.hidden is None:
        raise ValueError(
            f"The recurrent layer {target_layer.name!r} did not run when the model was called "
            "on `inputs`; pass a layer the model uses."
        )
    d_x, d_h = tape.gradient(value, [perturbation.inputs, perturbation.hidden])
    if d_h is None:
        d_h = tf.zeros_like(perturbation.hidden)
    if d_x is None:
        d_x = tf.zeros_like(perturbation.inputs)
    return GradientFlow(
        dh_norms=_step_norms(d_h),
        dx_norms=_step_norms(d_x),
        loss=float(value.numpy()),
        layer=target_layer.name,
    )
