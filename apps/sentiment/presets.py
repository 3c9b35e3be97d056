"""Model presets of the sentiment app: `ModelConfig` instances (plain data).

- `base` (the default): the hybrid of a bidirectional seqcore GRU reading word vectors and
  per-word class log-count ratios, and an n-gram branch (NB-weighted logistic regression),
  mixed by validation log-loss (`ModelConfig`'s defaults).
- `small`: a purely recurrent bidirectional LSTM, smaller and faster.

Options of `seqapps sentiment train` override single fields (`--units 96`).

Example:

>>> PRESETS["small"].cell, PRESETS["small"].uses_ngrams, PRESETS["base"].units
('lstm', False, 64)
"""

from apps.sentiment.config import ModelConfig

PRESETS = {
    "base": ModelConfig(),
    "small": ModelConfig(
        embedding_dim=64,
        cell="lstm",
        units=32,
        dropout=0.2,
        pooling="last",
        token_ratios=False,
        ngram_weight=0.0,
    ),
}
"""Model configs by name; the first is the default."""
