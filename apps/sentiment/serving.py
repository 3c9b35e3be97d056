"""Checks an export against its Keras model in a fresh process (TensorFlow only).

Example texts cover what the export must handle: ordinary sentences, an empty string,
non-ASCII text, emoji and a 10,000-word text.
"""

import numpy as np

from apps.common.serving import run_in_new_process
from apps.sentiment.predict import SIGNATURE, predict_proba

CHECK_TEXTS = (
    "the movie was not very good, but the acting was great",
    "the plot was dull",
    "",
    "un film magnifique, très émouvant ; ¡qué bueno! 映画は面白かった",
    "loved it 😍🎬👍",
    " ".join(["long"] * 10000),
)
"""Texts `serving_check` compares by default."""

ATOL = 1e-5
"""Largest allowed |served - keras| probability difference."""


def serving_check(model, export_dir, texts=CHECK_TEXTS, atol=ATOL):
    """Runs `export_dir`'s `serving_default` in a new process and compares with `model`.

    Returns:
        A JSON-ready dict: `signature`, `n`, `texts` (first 60 characters of each),
        `keras_probabilities`, `served_probabilities`, `served_labels`, `max_abs_diff`,
        `atol`, `labels_match` (served labels are the argmax of the Keras probabilities)
        and `match` (both).

    Raises:
        apps.common.serving.ServingCheckError: the export could not be run.
    """
    texts = [str(t) for t in texts]
    expected = predict_proba(model, texts)
    outputs = run_in_new_process(export_dir, texts, signature=SIGNATURE)
    served = np.asarray(outputs["probabilities"], dtype=np.float32)
    if served.shape == expected.shape:
        max_abs_diff = float(np.max(np.abs(served - expected)))
    else:
        max_abs_diff = float("inf")
    classes = outputs["classes"][0] if outputs["classes"] else []
    labels_match = [classes[i] for i in expected.argmax(axis=-1)] == outputs["label"]
    return {
        "signature": SIGNATURE,
        "n": len(texts),
        "texts": [t[:60] for t in texts],
        "keras_probabilities": expected.tolist(),
        "served_probabilities": served.tolist(),
        "served_labels": outputs["label"],
        "max_abs_diff": max_abs_diff,
        "atol": atol,
        "labels_match": bool(labels_match),
        "match": bool(max_abs_diff <= atol and labels_match),
    }
