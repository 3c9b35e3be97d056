"""Versioned, atomic exports in TF Serving layout: `<app_dir>/<version>/saved_model.pb`.

TF Serving (and `seqapps serve`) watch `<app_dir>` and load the highest numeric version
folder. A version is therefore written into a hidden temporary folder beside the versions
(`.export-<host>-<pid>-*`, which a server ignores) and renamed into place only when
complete. Temporary folders left by an export that was killed are removed by the next
export into the same folder (`apps.common.staging.remove_stale`).

Example:

>>> import pathlib, tempfile
>>> app_dir = pathlib.Path(tempfile.mkdtemp())
>>> write = lambda folder: (folder / "saved_model.pb").write_bytes(b"")
>>> export_versioned(write, app_dir).name, export_versioned(write, app_dir).name
('1', '2')
>>> export_versioned(write, app_dir, version=7).name, next_version(app_dir)
('7', 8)
"""

import os
import pathlib
import shutil

from apps.common.staging import temporary_folder

EXPORT_PREFIX = ".export-"
"""Name prefix of the temporary folder an export is written into."""


class VersionExistsError(FileExistsError):
    """The export version asked for exists already (exports are never overwritten)."""


def next_version(app_dir):
    """Returns 1 + the highest numeric version folder under `app_dir` (1 if none)."""
    app_dir = pathlib.Path(app_dir)
    if not app_dir.is_dir():
        return 1
    versions = [int(p.name) for p in app_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(versions, default=0) + 1


def _write_keras_model(model):
    def write(folder):
        model.export(str(folder), format="tf_saved_model", verbose=False)

    return write


def export_versioned(model_or_writer, app_dir, version=None):
    """Exports to `app_dir/<version>/` atomically; returns that folder.

    Args:
        model_or_writer: a Keras model (written with `model.export(..., "tf_saved_model")`)
            or a callable that writes the export into the folder (a `pathlib.Path`) it is
            given, e.g. a SavedModel plus `assets.extra/`.
        app_dir: the folder holding the versions, e.g. `saved_models/sentiment`.
        version: the version number (an int >= 1); default the next free one.

    Raises:
        VersionExistsError: `version` was given and `app_dir/<version>` exists.
        ValueError: `version` is not a positive integer.
    """
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise ValueError(f"`version` must be an integer >= 1. Received: version={version!r}")
    app_dir = pathlib.Path(app_dir)
    if version is not None and (app_dir / str(version)).exists():
        raise VersionExistsError(
            f"{app_dir / str(version)}: version {version} exists already; exports are never "
            "overwritten (omit --version to take the next free one)"
        )
    write = model_or_writer if not hasattr(model_or_writer, "export") else None
    write = write or _write_keras_model(model_or_writer)
    tmp = temporary_folder(app_dir, EXPORT_PREFIX)
    try:
        write(tmp)
        candidate = version or next_version(app_dir)
        while True:
            target = app_dir / str(candidate)
            try:
                if target.exists():  # rename() would silently replace an empty folder
                    raise FileExistsError(target)
                os.rename(tmp, target)
                return target
            except OSError:
                if not target.exists():
                    raise
                if version is not None:
                    raise VersionExistsError(
                        f"{target}: version {version} exists already"
                    ) from None
                # Another export took this version in the meantime: try the next one.
                candidate = max(candidate + 1, next_version(app_dir))
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
