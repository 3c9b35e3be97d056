"""Exports a trained sentiment model as a SavedModel in TF Serving layout.

`export_model(model, class_names, to)` writes `to/<version>/`:

- `saved_model.pb`, `variables/`, `assets/`: the model with its text vectorisation inside,
  and one signature, `serving_default`, that takes a batch of raw strings
  (`text`: `tf.string`, shape `[None]`) and returns, batch-major (one row per text, as TF
  Serving's REST `"instances"` format needs):
  - `probabilities`: float32 `[None, C]`, the class probabilities;
  - `classes`: string `[None, C]`, the class names of those columns (every row alike, as
    TF Serving's classify API returns them);
  - `label`: string `[None]`, the most probable class.
- `assets.extra/metadata.json`: class names, preset, model config, data source, date,
  versions. TF Serving ignores `assets.extra/`.

Reloaded with `tf.saved_model.load` (TensorFlow only, no Keras or seqcore) the signature
gives the Keras model's probabilities (checked in a fresh process by the tests and by
`seqapps demo`).
"""

import datetime
import json

import keras
import tensorflow as tf

from apps import __version__
from apps.common.config import to_dict
from apps.common.export import export_versioned
from apps.sentiment import APP_NAME
from apps.sentiment.predict import SIGNATURE, ModelFolderError, load_classifier

INPUT_NAME = "text"
"""The name of the serving signature's input."""


def serving_function(model, class_names):
    """The `tf.function` of the `serving_default` signature (see the module docstring)."""
    names = tf.constant([str(c) for c in class_names], tf.string)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)])
    def serve(text):
        # TF Serving clients may send an empty batch; the n-gram branch's ragged counts
        # need at least one row, so an empty batch answers (0, C) without running the model.
        probabilities = tf.cond(
            tf.size(text) > 0,
            lambda: tf.cast(model(text, training=False), tf.float32),
            lambda: tf.zeros([0, len(class_names)], tf.float32),
        )
        batch = tf.shape(probabilities)[0]
        return {
            "probabilities": probabilities,
            "classes": tf.tile(names[None, :], [batch, 1]),
            "label": tf.gather(names, tf.argmax(probabilities, axis=-1)),
        }

    return serve


def write_saved_model(model, class_names, folder, metadata=None):
    """Writes the SavedModel and `assets.extra/metadata.json` into `folder`."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SIGNATURE, serving_function(model, class_names))
    archive.write_out(str(folder), verbose=False)
    extra = folder / "assets.extra"
    extra.mkdir(exist_ok=True)
    (extra / "metadata.json").write_text(
        json.dumps(metadata or {}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def export_model(model, class_names, to, version=None, metadata=None):
    """Exports atomically to `to/<version>/` (next free version by default); returns it.

    Args:
        model: the trained Keras model (strings in, probabilities out).
        class_names: the class names, in probability-column order.
        to: the folder of versions, e.g. `saved_models/sentiment`.
        version: an explicit version (never overwritten), or `None` for the next one.
        metadata: extra JSON-able facts for `assets.extra/metadata.json` (source, preset, ...).

    Raises:
        apps.common.export.VersionExistsError: `version` exists already.
    """
    meta = {
        "app": APP_NAME,
        "class_names": [str(c) for c in class_names],
        "signature": SIGNATURE,
        "input": {"name": INPUT_NAME, "dtype": "string", "shape": [None]},
        "outputs": {
            "probabilities": {"dtype": "float32", "shape": [None, len(class_names)]},
            "classes": {"dtype": "string", "shape": [None, len(class_names)]},
            "label": {"dtype": "string", "shape": [None]},
        },
        "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": {
            "seqapps": __version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        **(metadata or {}),
    }
    return export_versioned(
        lambda folder: write_saved_model(model, class_names, folder, meta), to, version=version
    )


def export_classifier(model_path, to, version=None, check=True):
    """Exports the training folder `model_path` to `to/<version>/`, then checks it.

    Returns:
        A JSON-ready dict: `export_dir`, `version` and (with `check`) `serving_check`
        (`apps.sentiment.serving.serving_check`).

    Raises:
        ModelFolderError: `model_path` is not a training folder (an export, say).
        apps.common.export.VersionExistsError: `version` exists already.
    """
    classifier = load_classifier(model_path)
    if classifier.kind != "keras":
        raise ModelFolderError(
            f"{model_path}: is an export already; --model must be a training folder (model.keras)"
        )
    report = classifier.metadata
    config = getattr(classifier.model, "model_config", None)
    metadata = {
        "preset": report.get("preset"),
        "model": to_dict(config) if config is not None else report.get("model"),
        "data": report.get("data", {}).get("source"),
        "trained": report.get("created"),
        "training_folder": str(classifier.path),
    }
    folder = export_model(
        classifier.model, classifier.class_names, to, version=version, metadata=metadata
    )
    result = {"export_dir": str(folder), "version": int(folder.name)}
    if check:
        from apps.sentiment.serving import serving_check

        result["serving_check"] = serving_check(classifier.model, folder)
    return result
