"""Lists labelled audio files and decodes WAV files (the audio data sources).

Two layouts (see `CLI.md`):

- `load_audio_folders(root)`: the Keras layout, one sub-folder per class holding `.wav`
  files; the sub-folder name is the label. Files directly under `root`, hidden folders and
  files not ending in `.wav` (any case) are ignored.
- `load_audio_flat(root, label_pattern, group_pattern=None)`: a flat folder of `.wav` files;
  the first group of `label_pattern` (searched in the file name, `re.search`) is the label,
  the first group of `group_pattern` the group (e.g. the speaker, for group-disjoint splits).

Both return an `AudioExamples` with the files in sorted order, so results are reproducible.
Errors are `AudioError`s (a `ValueError`) that name the folder or file and the option at fault:
a file whose name does not match a pattern, a pattern that is not a valid regex or has no
group, a class folder without `.wav` files, fewer than two classes.

`read_wav(path, target_rate)` returns a float32 mono waveform in [-1, 1] at `target_rate`:

- 16-bit PCM (the common case, and FSDD) is decoded by `tf.audio.decode_wav`.
- 8-bit (unsigned), 24-bit and 32-bit integer PCM, which `decode_wav` rejects, are converted
  with Python's `wave` module and numpy (scaled by the format's full scale, so they match the
  16-bit result). Other encodings (IEEE float, A-law, mu-law, compressed) and files that are
  not WAV or are truncated raise an `AudioError` naming the file and the reason.
- Several channels are mixed to mono by their mean.
- Another sample rate is resampled with `scipy.signal.resample_poly` by the gcd-reduced factors
  `up = target_rate / g`, `down = rate / g` (`g = gcd(rate, target_rate)`): a polyphase
  anti-aliasing FIR filter, exact in length (`ceil(n * up / down)` samples). `audio_dataset`
  runs `read_wav` inside `tf.py_function`, so the tf.data path and the eager path are the same
  code (a `tf.numpy_function` may not call the TensorFlow decoder).

Example:

>>> import pathlib, tempfile, wave
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for name in ["0_ann_0.wav", "1_bob_0.wav"]:
...     with wave.open(str(root / name), "wb") as f:
...         f.setnchannels(1); f.setsampwidth(2); f.setframerate(16000)
...         f.writeframes(bytes(3200))
>>> ex = load_audio_flat(root, r"^(\\d+)_", group_pattern=r"^\\d+_([a-z]+)_")
>>> ex.labels, ex.groups, ex.class_names
(('0', '1'), ('ann', 'bob'), ('0', '1'))
>>> read_wav(ex.paths[0], 8000).shape
TensorShape([800])
"""

import dataclasses
import io
import math
import pathlib
import re
import wave

import numpy as np
import tensorflow as tf
from scipy import signal


class AudioError(ValueError):
    """An audio folder or file that cannot be used as asked; the message names it."""


@dataclasses.dataclass(frozen=True)
class AudioExamples:
    """Labelled audio files.

    Attributes:
        paths: the `.wav` files, as `pathlib.Path`s, in sorted order.
        labels: the label (a string) of each file.
        groups: the group (a string) of each file, or `None` when no group pattern was given.
        class_names: the distinct labels, sorted; `class_names.index(label)` is a label's id.
    """

    paths: tuple
    labels: tuple
    groups: tuple | None
    class_names: tuple

    def label_ids(self):
        """Returns the labels as int32 class ids (positions in `class_names`)."""
        ids = {name: i for i, name in enumerate(self.class_names)}
        return np.array([ids[label] for label in self.labels], dtype=np.int32)


def _is_wav(path):
    return path.is_file() and path.suffix.lower() == ".wav" and not path.name.startswith(".")


def _check_root(root):
    root = pathlib.Path(root)
    if not root.is_dir():
        raise AudioError(f"{root}: no such folder")
    return root


def _check_classes(root, labels):
    class_names = tuple(sorted(set(labels)))
    if len(class_names) < 2:
        raise AudioError(
            f"{root}: found {len(class_names)} class(es) {list(class_names)}; need at least 2"
        )
    return class_names


def load_audio_folders(root):
    """Lists the `.wav` files of a folder with one sub-folder per class.

    Args:
        root: the folder; each non-hidden sub-folder is a class named after it.

    Returns:
        An `AudioExamples` without groups.

    Raises:
        AudioError: no such folder, a class folder without `.wav` files, fewer than 2 classes.
    """
    root = _check_root(root)
    paths, labels = [], []
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for folder in classes:
        files = sorted(p for p in folder.iterdir() if _is_wav(p))
        if not files:
            raise AudioError(f"{folder}: class folder {folder.name!r} holds no .wav files")
        paths.extend(files)
        labels.extend([folder.name] * len(files))
    class_names = _check_classes(root, labels)
    return AudioExamples(tuple(paths), tuple(labels), None, class_names)


def _compile(option, pattern):
    try:
        regex = re.compile(pattern)
    except (re.error, TypeError) as e:
        raise AudioError(
            f"`{option}` is not a valid regular expression ({e}): {pattern!r}"
        ) from None
    if regex.groups < 1:
        raise AudioError(
            f"`{option}` must have a group, (...), whose text is the {option.split('_')[0]}. "
            f"Received: {option}={pattern!r}"
        )
    return regex


def _first_group(path, option, regex):
    match = regex.search(path.name)
    if match is None or not match.group(1):
        raise AudioError(
            f"{path}: file name does not match `{option}` "
            f"(or its first group is empty): {regex.pattern}"
        )
    return match.group(1)


def load_audio_flat(root, label_pattern, group_pattern=None):
    """Lists the `.wav` files of a flat folder, labelled by a regex on the file name.

    Args:
        root: the folder holding the `.wav` files (sub-folders are ignored).
        label_pattern: regex searched in each file name; its first group is the label.
        group_pattern: optional regex; its first group is the file's group (e.g. speaker).

    Returns:
        An `AudioExamples`.

    Raises:
        AudioError: no such folder, no `.wav` files, a bad pattern, a file name that does not
            match a pattern, fewer than 2 classes.
    """
    root = _check_root(root)
    label_regex = _compile("label_pattern", label_pattern)
    group_regex = None if group_pattern is None else _compile("group_pattern", group_pattern)
    paths = sorted(p for p in root.iterdir() if _is_wav(p))
    if not paths:
        raise AudioError(f"{root}: no .wav files in the folder")
    labels = tuple(_first_group(p, "label_pattern", label_regex) for p in paths)
    groups = None
    if group_regex is not None:
        groups = tuple(_first_group(p, "group_pattern", group_regex) for p in paths)
    class_names = _check_classes(root, labels)
    return AudioExamples(tuple(paths), labels, groups, class_names)


def _tf_message(error):
    text = re.sub(r"\{\{.*?\}\}\s*", "", error.message)
    return re.sub(r"\s*\[Op:\w+\]\s*$", "", text)


def _decode_with_wave(path, contents, tf_reason):
    """Decodes 8/24/32-bit integer PCM; returns (samples [n, channels], rate)."""
    try:
        with wave.open(io.BytesIO(contents)) as f:
            width, channels, rate = f.getsampwidth(), f.getnchannels(), f.getframerate()
            frames = f.readframes(f.getnframes())
    except (wave.Error, EOFError) as e:
        raise AudioError(
            f"{path}: not a readable PCM WAV file ({tf_reason}; wave: {e or 'truncated'}); "
            "supported: 8, 16, 24 and 32-bit integer PCM"
        ) from None
    if width not in (1, 3, 4) or channels < 1 or len(frames) % (width * channels):
        raise AudioError(
            f"{path}: unsupported or corrupt WAV data ({width * 8}-bit, {channels} channel(s)): "
            f"{tf_reason}"
        )
    raw = np.frombuffer(frames, dtype=np.uint8)
    if width == 1:  # unsigned, 128 is silence
        values = (raw.astype(np.float32) - 128.0) / 128.0
    elif width == 3:  # little-endian, sign-extended through the top byte
        b = raw.reshape(-1, 3).astype(np.int32)
        ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8
        values = ints.astype(np.float32) / float(1 << 23)
    else:
        values = (raw.view("<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    return values.reshape(-1, channels), rate


def resample(wave_1d, rate, target_rate):
    """Resamples a 1-D float waveform from `rate` to `target_rate` (`resample_poly`)."""
    if rate == target_rate:
        return np.asarray(wave_1d, dtype=np.float32)
    g = math.gcd(int(rate), int(target_rate))
    out = signal.resample_poly(np.asarray(wave_1d, np.float64), target_rate // g, rate // g)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def read_wav(path, target_rate):
    """Reads a WAV file as a float32 mono waveform in [-1, 1] at `target_rate`.

    Args:
        path: the file (a `str`, `bytes` or `pathlib.Path`).
        target_rate: the sample rate of the result, in Hz.

    Returns:
        A float32 `tf.Tensor` of shape `(samples,)`.

    Raises:
        AudioError: the file cannot be read, is not WAV, is corrupt or in an unsupported format.
    """
    if isinstance(target_rate, bool) or not isinstance(target_rate, (int, np.integer)):
        raise AudioError(f"`target_rate` must be a positive integer. Received: {target_rate!r}")
    if target_rate < 1:
        raise AudioError(f"`target_rate` must be a positive integer. Received: {target_rate!r}")
    path = pathlib.Path(path.decode() if isinstance(path, bytes) else path)
    try:
        contents = path.read_bytes()
    except OSError as e:
        raise AudioError(f"{path}: cannot read the file: {e.strerror or e}") from None
    try:
        samples, rate = tf.audio.decode_wav(contents)
        samples, rate = samples.numpy(), int(rate)
    except tf.errors.InvalidArgumentError as e:
        samples, rate = _decode_with_wave(path, contents, _tf_message(e))
    if samples.shape[0] == 0:
        raise AudioError(f"{path}: the WAV file holds no samples")
    if rate < 1:
        raise AudioError(f"{path}: invalid sample rate {rate} in the WAV header")
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    return tf.constant(resample(mono, rate, int(target_rate)))
