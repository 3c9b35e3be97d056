"""The one door of seqcore to private Keras and TensorFlow APIs.

seqcore is imported into users' projects, so it has to survive a Keras or TensorFlow
upgrade. Every name below comes from a private module (`keras.src.*`,
`tensorflow.python.*`) because no public API offers it; each says what seqcore uses it
for and what the public alternative would be. No other seqcore module imports a private
path (`tests/seqcore/test_private_imports.py` fails if one does), so an upgrade that
moves one of these names breaks here, at import, with one place to fix.

Public APIs are used wherever they exist: `keras.tree` for nested structures,
`keras.ops` for tensor maths, `tf.*` for TensorFlow.
"""

import importlib

import tensorflow as tf
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext

# `keras.src.backend.tensorflow.rnn` is shadowed by the function `rnn` in its package, so
# it is loaded by name.
_keras_tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")

keras_rnn_loop = _keras_tf_rnn.rnn
"""`keras.src.backend.tensorflow.rnn.rnn(step, inputs, states, ...)`: the generic time loop that
`keras.layers.RNN` runs (masking, `go_backwards`, `unroll`, `zero_output_for_mask`). The
seqcore layers run it for the configurations without a fused loop, and the step
perturbations of `seqcore.hooks` run it so that masks behave exactly as in Keras.
Public alternative: `keras.layers.RNN(cell).inner_loop`, which only takes a cell and
cannot run seqcore's split step (input projection outside the loop)."""

DropoutRNNCell = DropoutRNNCell
"""The mixin that gives Keras's cells `get_dropout_mask` / `get_recurrent_dropout_mask`
with the same seeding as Keras's own cells, so seqcore's dropout masks equal Keras's for
the same seed. No public alternative (the masks would have to be reimplemented, and
would then differ from Keras's)."""

keras_lstm_kernel = _keras_tf_rnn.lstm
"""`keras.src.backend.tensorflow.rnn.lstm`: Keras's cuDNN LSTM entry point (it raises
`NotImplementedError` where cuDNN does not apply), used for `use_cudnn=True`. Public
alternative: none; `keras.layers.LSTM` reaches it only through its own weights."""

keras_gru_kernel = _keras_tf_rnn.gru
"""`keras.src.backend.tensorflow.rnn.gru`: as `keras_lstm_kernel`, for the GRU (public
alternative: none)."""

cudnn_lstm = _keras_tf_rnn._cudnn_lstm
"""`keras.src.backend.tensorflow.rnn._cudnn_lstm`: the cuDNN LSTM kernel on explicit
weight tensors, the GPU twin of the device dispatch (`seqcore.dispatch`). Public
alternative: `tf.raw_ops.CudnnRNNV3` with Keras's weight layout conversion written
again here."""

cudnn_gru = _keras_tf_rnn._cudnn_gru
"""`keras.src.backend.tensorflow.rnn._cudnn_gru`: as `cudnn_lstm`, for the GRU (public
alternative: `tf.raw_ops.CudnnRNNV3`)."""



def in_xla_context():
    """Whether the graph being built will be compiled by XLA (`jit_compile=True`), where
    the fused loops pick an XLA-friendly variant.

    Uses `tensorflow.python.ops.control_flow_util.GraphOrParentsInXlaContext` on
    `tf.compat.v1.get_default_graph()` (public). Public alternative: none; `tf.function`
    does not expose whether it is being traced for XLA.
    """
    return GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


__all__ = [
    "DropoutRNNCell",
    "cudnn_gru",
    "cudnn_lstm",
    "in_xla_context",
    "keras_gru_kernel",
    "keras_lstm_kernel",
    "keras_rnn_loop",
]
