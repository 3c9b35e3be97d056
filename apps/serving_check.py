"""Runs an exported SavedModel in a fresh process, the way a server would see it.

Usage: `python -m apps.serving_check SAVED_MODEL_DIR [--signature NAME]`, with the inputs
as a JSON array on stdin (one example per element: numbers, or strings for a signature that
takes `tf.string`). Prints one JSON object on stdout:
`{"signature": NAME, "outputs": {name: [...]}, "predictions": [...]}`, string outputs
decoded as UTF-8; `predictions` is the only output, or the one called `probabilities`
(absent when neither applies). Only TensorFlow is imported: neither Keras nor `seqcore`
is needed to serve an export.
"""

import argparse
import json
import sys


def _decode(values):
    if isinstance(values, bytes):
        return values.decode("utf-8", errors="replace")
    if isinstance(values, list):
        return [_decode(v) for v in values]
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m apps.serving_check")
    parser.add_argument("model_dir", help="a SavedModel directory (holding saved_model.pb)")
    parser.add_argument("--signature", default="serve", help="signature to call")
    args = parser.parse_args(argv)

    import tensorflow as tf

    inputs = json.load(sys.stdin)
    loaded = tf.saved_model.load(args.model_dir)
    if args.signature not in loaded.signatures:
        parser.error(
            f"signature {args.signature!r} not found in {args.model_dir}; "
            f"available: {sorted(loaded.signatures)}"
        )
    serve = loaded.signatures[args.signature]
    ((name, spec),) = serve.structured_input_signature[1].items()
    if spec.dtype == tf.string:
        tensor = tf.constant([str(x) for x in inputs], dtype=tf.string)
        if spec.shape.rank == 2:
            tensor = tensor[:, None]
    else:
        tensor = tf.constant(inputs, dtype=spec.dtype)
    results = serve(**{name: tensor})
    outputs = {key: _decode(value.numpy().tolist()) for key, value in results.items()}
    result = {"signature": args.signature, "outputs": outputs}
    if len(outputs) == 1:
        result["predictions"] = next(iter(outputs.values()))
    elif "probabilities" in outputs:
        result["predictions"] = outputs["probabilities"]
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
