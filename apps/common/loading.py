"""Finding and loading a model a user points at (`--model`): a training folder or an export.

`find_model(path, app)` says what `path` is, without TensorFlow:

- a training folder holding `model.keras` (as `train` writes), or that file itself:
  `("keras", file)`;
- a SavedModel version folder (`saved_model.pb`): `("saved_model", folder)`;
- a folder of numbered versions (TF Serving layout): its highest version.

`load_keras_model(file)` loads a `.keras` file, and says so plainly when the file is
truncated or corrupt (a `.keras` file is a zip archive: an interrupted copy or a killed
writer leaves one that `zipfile` rejects), instead of Keras's misleading "File not found".
A model that carries its class names (the apps' model classes) is checked against its
output width when it loads.
"""

import pathlib
import zipfile

MODEL_FILE = "model.keras"
"""The trained model's file in a training folder."""


class ModelFolderError(ValueError):
    """A `--model` path that holds no usable model; the message names it."""


def _latest_version(folder):
    versions = [
        p
        for p in folder.iterdir()
        if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").is_file()
    ]
    return max(versions, key=lambda p: int(p.name)) if versions else None


def find_model(path, app):
    """`(kind, path)` of the model at `path`: `"keras"` (a file) or `"saved_model"` (a folder).

    Raises:
        ModelFolderError: nothing loadable at `path` (the message says what was expected).
    """
    path = pathlib.Path(path)
    if path.is_file() and path.suffix == ".keras":
        return "keras", path
    if not path.is_dir():
        raise ModelFolderError(f"{path}: no such model folder (--model)")
    if (path / MODEL_FILE).is_file():
        return "keras", path / MODEL_FILE
    if (path / "saved_model.pb").is_file():
        return "saved_model", path
    latest = _latest_version(path)
    if latest is not None:
        return "saved_model", latest
    raise ModelFolderError(
        f"{path}: not a {app} model: expected a training folder ({MODEL_FILE}), a SavedModel "
        "folder (saved_model.pb) or a folder of numbered versions (--model)"
    )


def check_keras_archive(file):
    """Raises `ModelFolderError` when `file` is not a complete `.keras` (zip) archive."""
    file = pathlib.Path(file)
    size = file.stat().st_size
    problem = None
    if not zipfile.is_zipfile(file):
        problem = "not a complete .keras archive"
    else:
        try:
            with zipfile.ZipFile(file) as archive:
                bad = archive.testzip()
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            bad, names, problem = None, set(), f"unreadable archive ({e})"
        if bad is not None:
            problem = f"member {bad} is damaged"
        elif problem is None and "config.json" not in names:
            problem = "no config.json inside"
    if problem:
        raise ModelFolderError(
            f"{file}: the model file is truncated or corrupt ({problem}; {size} bytes); "
            "retrain, or restore it from a copy"
        )


def load_keras_model(file):
    """Loads the `.keras` file `file` (custom objects must be registered by the caller).

    Raises:
        ModelFolderError: the file is truncated, corrupt, or not loadable (first line of why).
    """
    import keras

    check_keras_archive(file)
    try:
        model = keras.saving.load_model(file)
    except Exception as e:  # a broken or foreign file: report it as bad --model input
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise ModelFolderError(f"{file}: cannot load the model: {first}") from e
    return model
