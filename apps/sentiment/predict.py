"""Predictions of a trained sentiment model or of its SavedModel export.

`load_classifier(path)` accepts:

- a training folder (`model.keras`, as `seqapps sentiment train` writes), or the
  `model.keras` file inside one: the model carries its class names (`config.json` beside it
  is read as a report, and for the class names of models saved before they did);
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

from apps.common.loading import ModelFolderError, find_model, load_keras_model
from apps.common.run_files import CONFIG_FILE
from apps.sentiment import APP_NAME

SIGNATURE = "serving_default"
"""The serving signature of a sentiment export."""


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
        metadata: `config.json` (training folder; `{}` without one) or
            `assets.extra/metadata.json` (export).
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


def _class_names(model, file):
    """The model's own class names; a model saved before models carried them: config.json's."""
    names = getattr(model, "class_names", None)
    if names:
        return list(names)
    legacy = file.parent / CONFIG_FILE
    names = _read_json(legacy).get("class_names") if legacy.is_file() else None
    if not names:
        raise ModelFolderError(f"{file}: not a sentiment model (it carries no class names)")
    if len(names) != model.output_shape[-1]:
        raise ModelFolderError(
            f"{legacy}: {len(names)} class names {names} for a model of "
            f"{model.output_shape[-1]} outputs"
        )
    return list(names)


def _load_keras(file):
    import apps.sentiment.model  # noqa: F401  (registers seqcore's and the app's objects)

    model = load_keras_model(file)
    report = file.parent / CONFIG_FILE
    metadata = _read_json(report) if report.is_file() else {}
    return Classifier("keras", file.parent, _class_names(model, file), metadata, model)


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
    kind, found = find_model(path, APP_NAME)
    return _load_keras(found) if kind == "keras" else _load_saved_model(found)


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
