"""Runs an exported SavedModel in a fresh process, the way a server would see it.

Usage: `python -m apps.serving_check SAVED_MODEL_DIR [--signature NAME]`, with the inputs
as a JSON array on stdin (one example per element). Prints one JSON object on stdout:
`{"signature": NAME, "predictions": [...]}`. Only TensorFlow is imported: neither Keras
nor `seqcore` is needed to serve an export.
"""

import argparse
import json
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m apps.serving_check")
    parser.add_argument("model_dir", help="a SavedModel directory (holding saved_model.pb)")
    parser.add_argument("--signature", default="serve", help="signature to call")
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    inputs = np.asarray(json.load(sys.stdin), dtype=np.float32)
    loaded = tf.saved_model.load(args.model_dir)
    if args.signature not in loaded.signatures:
        parser.error(
            f"signature {args.signature!r} not found in {args.model_dir}; "
            f"available: {sorted(loaded.signatures)}"
        )
    serve = loaded.signatures[args.signature]
    ((name, spec),) = serve.structured_input_signature[1].items()
    outputs = serve(**{name: tf.constant(inputs, dtype=spec.dtype)})
    ((_, predictions),) = outputs.items()
    json.dump(
        {"signature": args.signature, "predictions": predictions.numpy().tolist()}, sys.stdout
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
