"""seqcore: SimpleRNN, LSTM and GRU written from their equations for Keras 3.

Drop-in replacements for `keras.layers.SimpleRNN`, `LSTM` and `GRU` (same
arguments, weight names and outputs), with peephole and layer-normalised
variants. `seqcore.convert` swaps Keras's layers for these and back;
`seqcore.training` holds truncated BPTT, gradient clipping and gradient-norm logging,
`seqcore.diagnostics` per-step gradient-flow measurements.
"""

from seqcore import convert, diagnostics, training
from seqcore.gru import GRU, GRUCell
from seqcore.lstm import LSTM, LSTMCell
from seqcore.simple_rnn import SimpleRNN, SimpleRNNCell

__all__ = [
    "GRU",
    "LSTM",
    "GRUCell",
    "LSTMCell",
    "SimpleRNN",
    "SimpleRNNCell",
    "convert",
    "diagnostics",
    "training",
]
__version__ = "0.1.0"
