"""Predictions of a trained sentiment model or of its SavedModel export.

`load_classifier(path)` accepts:

- a training folder (`model.keras` and `config.json`, as `seqapps sentiment train` writes),
  or the `model.keras` file inside one;
- a SavedModel version folder (`saved_models/sentiment/3`, holding `saved_model.pb`);
- a folder of versions (`saved_models/sentiment`): its highest version.

Both kinds give a `Classifier` with the same `predict_proba(texts)` and `class_names`.

Example:

>>> import numpy as np
>>> rows = predictions(["great", "dull"], np.array([[0.1, 0.9], [0.8, 0.2]]), ["neg", "pos"])
>>> rows[0]["label"], rows[1]["probabilities"]["neg"]
('pos', 0.8)
"""

import dataclasses
import json
import pathlib
import weakref

import numpy as np
import tensorflow as tf

SIGNATURE = "serving_default"
"""The serving signature of a sentiment export."""


class ModelFolderError(ValueError):
    """A `--model` path that holds no sentiment model; the message names it."""


_INFERENCE = weakref.WeakKeyDictionary()


def _inference_function(model):
    """`model(texts, training=False)` as one `tf.function` per model (traced once)."""
    function = _INFERENCE.get(model)
    if function is None:
        function = tf.function(
            lambda texts: model(texts, training=False),
            input_signature=[tf.TensorSpec([None], tf.string, name="text")],
        )
        _INFERENCE[model] = function
    return function


def predict_proba(model, texts, batch_size=64):
    """Class probabilities `(len(texts), C)` of a Keras model on raw `texts`.

    Texts are run in order of length (less padding per batch), results returned in the
    given order; a text's result does not depend on its batch.
    """
    texts = [str(t) for t in texts]
    if not texts:
        return np.zeros((0, model.output_shape[-1]), np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.empty((len(texts), model.output_shape[-1]), np.float32)
    function = _inference_function(model)
    for start in range(0, len(texts), batch_size):
        idx = order[start : start + batch_size]
        out[idx] = function(tf.constant([texts[i] for i in idx], tf.string)).numpy()
    return out


@dataclasses.dataclass(eq=False)
class Classifier:
    """A loaded sentiment model: `kind` `"keras"` or `"saved_model"`.

    Attributes:
        kind: `"keras"` (a training folder) or `"saved_model"` (an export).
        path: the folder loaded.
        class_names: class names in probability-column order.
        metadata: `config.json` (training folder) or `assets.extra/metadata.json` (export).
        model: the Keras model or the serving signature (a concrete function).
    """

    kind: str
    path: pathlib.Path
    class_names: list
    metadata: dict
    model: object

    def predict_proba(self, texts, batch_size=64):
        """Class probabilities `(len(texts), C)` for raw `texts` (float32)."""
        if self.kind == "keras":
            return predict_proba(self.model, texts, batch_size=batch_size)
        texts = [str(t) for t in texts]
        out = np.zeros((len(texts), len(self.class_names)), np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            result = self.model(text=tf.constant([texts[i] for i in idx], tf.string))
            out[idx] = result["probabilities"].numpy()
        return out


def _read_json(path):
    try:
        return json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelFolderError(f"{path}: cannot read ({e})") from None


def _latest_version(folder):
    versions = [
        p
        for p in folder.iterdir()
        if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").is_file()
    ]
    return max(versions, key=lambda p: int(p.name)) if versions else None


def _load_keras(folder, model_file):
    import keras

    import apps.sentiment.layers  # noqa: F401  (registers seqcore's and the app's objects)

    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelFolderError(
            f"{config_path}: missing; a training folder holds model.keras and config.json"
        )
    metadata = _read_json(config_path)
    if "class_names" not in metadata:
        raise ModelFolderError(f"{config_path}: no class_names")
    try:
        model = keras.saving.load_model(model_file)
    except Exception as e:  # a broken or foreign file: report it as bad --model input
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise ModelFolderError(f"{model_file}: cannot load the model: {first}") from e
    return Classifier("keras", folder, list(metadata["class_names"]), metadata, model)


def _load_saved_model(folder):
    loaded = tf.saved_model.load(str(folder))
    if SIGNATURE not in loaded.signatures:
        raise ModelFolderError(
            f"{folder}: no {SIGNATURE!r} signature; found {sorted(loaded.signatures)}"
        )
    signature = loaded.signatures[SIGNATURE]
    meta_path = folder / "assets.extra" / "metadata.json"
    metadata = _read_json(meta_path) if meta_path.is_file() else {}
    names = metadata.get("class_names")
    if names is None:
        probe = signature(text=tf.constant([""]))
        if "classes" not in probe:
            raise ModelFolderError(f"{folder}: the export has no class names")
        names = [c.decode("utf-8") for c in probe["classes"].numpy()[0]]
    classifier = Classifier("saved_model", folder, list(names), metadata, signature)
    classifier.loaded = loaded  # keeps the variables alive as long as the signature
    return classifier


def load_classifier(path):
    """Loads a training folder, a `model.keras` file, a SavedModel or a folder of versions.

    Raises:
        ModelFolderError: nothing loadable at `path` (the message says what was expected).
    """
    path = pathlib.Path(path)
    if path.is_file() and path.suffix == ".keras":
        return _load_keras(path.parent, path)
    if not path.is_dir():
        raise ModelFolderError(f"{path}: no such model folder (--model)")
    if (path / "model.keras").is_file():
        return _load_keras(path, path / "model.keras")
    if (path / "saved_model.pb").is_file():
        return _load_saved_model(path)
    latest = _latest_version(path)
    if latest is not None:
        return _load_saved_model(latest)
    raise ModelFolderError(
        f"{path}: not a sentiment model: expected a training folder (model.keras, config.json), "
        "a SavedModel folder (saved_model.pb) or a folder of numbered versions (--model)"
    )


def predictions(texts, probabilities, class_names):
    """`[{"text", "label", "probabilities": {class: p}}]`, JSON-ready."""
    rows = []
    for text, probs in zip(texts, np.asarray(probabilities), strict=True):
        rows.append(
            {
                "text": text,
                "label": class_names[int(np.argmax(probs))],
                "probabilities": {
                    name: float(p) for name, p in zip(class_names, probs, strict=True)
                },
            }
        )
    return rows
