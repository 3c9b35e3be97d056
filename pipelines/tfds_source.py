"""Reads a TensorFlow Datasets dataset (the `tfds:NAME[:SPLIT]` data source) into memory.

`parse_tfds_spec` splits a spec into a `TfdsSpec`: `NAME` is a TFDS name, optionally with a
config (`imdb_reviews`, `name/config`); `SPLIT` is any TFDS split expression and defaults to
`train` (`tfds:imdb_reviews:test`, `tfds:speech_commands:train[:10%]`,
`tfds:imdb_reviews:train+test`). A version pin (`name:1.0.0`) is not supported: it would be
read as a split.

`load_tfds` reads the split whole, with the builder's supervised keys `(input, label)`:

- a `Text` input (e.g. `imdb_reviews`: `text`, `label`) gives `TextExamples`: texts decoded
  as UTF-8 and kept as stored (IMDB keeps its `<br />` tags), labels as class names, sources
  `"tfds:NAME:SPLIT:i"` (1-based), empty texts skipped and counted.
- an `Audio` input (`speech_commands`, `spoken_digit`: `audio`, `label`) gives a
  `WaveExamples` (the in-memory waveform container shared with `synthetic:speech`):
  waveforms scaled to float32 in [-1, 1] (integer samples divided by 32768), zero-padded or
  cut at the end to `audio_samples` (default one second at the dataset's `sample_rate`:
  16000 for speech_commands, 8000 for spoken_digit). `spoken_digit` has no speaker feature
  in TFDS (it has one `train` split and an `audio/filename` such as `0_jackson_0.wav`), so
  no speaker-disjoint split is made here.

In both cases `class_names` are the builder's `info.features[label].names`, in that order
(label `i` is `class_names[i]`), whether or not every class occurs in the split. Reading is
in memory on purpose (simple, and what the other readers do); `max_examples` caps it, which
matters for `speech_commands` (85k clips, about 5 GB as float32).

Nothing is downloaded unless `download=True`: a dataset not prepared under `data_dir`
(default `~/tensorflow_datasets`, or `TFDS_DATA_DIR`) is a `TfdsSourceError` saying to pass
`download=True` (the CLI's `--download`) on a machine with internet access, or to point
`TFDS_DATA_DIR` at a folder where it was prepared.

Example:

>>> parse_tfds_spec("tfds:speech_commands:train[:10%]")
TfdsSpec(name='speech_commands', split='train[:10%]')
"""

import dataclasses
import re

import numpy as np
import tensorflow_datasets as tfds

from pipelines.synthetic_tasks import WaveExamples
from pipelines.text_source import TextExamples

DEFAULT_SPLIT = "train"
"""The split read when a spec names none."""

_NAME = re.compile(r"[a-z][a-z0-9_]*(?:/[A-Za-z0-9_.\-]+)?")
_INT_SCALE = 32768.0


class TfdsSourceError(ValueError):
    """A `tfds:` source that cannot be read as asked; the message names the spec."""


@dataclasses.dataclass(frozen=True)
class TfdsSpec:
    """A parsed `tfds:NAME[:SPLIT]` source: the dataset name (with config) and the split."""

    name: str
    split: str = DEFAULT_SPLIT


def parse_tfds_spec(spec):
    """Parses `"tfds:NAME[:SPLIT]"` into a `TfdsSpec` (the split defaults to `train`).

    Raises:
        TfdsSourceError: not a `tfds:` spec, a malformed name, or an empty split.
    """
    text = str(spec)
    prefix, _, rest = text.partition(":")
    name, colon, split = rest.partition(":")
    if prefix != "tfds" or not _NAME.fullmatch(name):
        raise TfdsSourceError(
            "Invalid TFDS source: expected tfds:NAME[:SPLIT] with a dataset name like "
            f"imdb_reviews. Received: spec={text!r}"
        )
    if colon and not split.strip():
        raise TfdsSourceError(f"Invalid TFDS source: the split is empty. Received: spec={text!r}")
    return TfdsSpec(name, split.strip() if colon else DEFAULT_SPLIT)


def _builder(text, parsed, data_dir):
    try:
        return tfds.builder(parsed.name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise TfdsSourceError(
            f"{text}: no TFDS dataset named {parsed.name!r} (see `tfds.list_builders()`)"
        ) from None


def _check_split(text, parsed, builder):
    known = list(builder.info.splits)
    if not known:  # splits are unknown until the dataset is prepared
        return
    for part in parsed.split.split("+"):
        base = part.split("[")[0].strip()
        if base not in known:
            raise TfdsSourceError(
                f"{text}: dataset {parsed.name!r} has no split {base!r}; splits: {', '.join(known)}"
            )


def _dataset(text, parsed, builder, download):
    if download:
        builder.download_and_prepare()
    _check_split(text, parsed, builder)
    try:
        return builder.as_dataset(split=parsed.split, as_supervised=True)
    except AssertionError:  # what TFDS raises for data that is not prepared
        raise TfdsSourceError(
            f"{text}: dataset {parsed.name!r} is not prepared in {builder.data_dir_root}; "
            "pass --download (download=True) on a machine with internet access, or set "
            "TFDS_DATA_DIR (data_dir) to a folder where it was prepared"
        ) from None
    except (ValueError, KeyError) as e:
        raise TfdsSourceError(f"{text}: cannot read split {parsed.split!r}: {e}") from None


def _label_names(text, builder, label_key):
    feature = builder.info.features[label_key]
    if not isinstance(feature, tfds.features.ClassLabel):
        raise TfdsSourceError(f"{text}: label feature {label_key!r} is not a ClassLabel")
    return list(feature.names)


def _texts(text, pairs, names):
    texts, labels, sources, skipped = [], [], [], 0
    for i, (body, label) in enumerate(pairs, 1):
        body = body.decode("utf-8")
        if not body.strip():
            skipped += 1
            continue
        texts.append(body)
        labels.append(names[int(label)])
        sources.append(f"{text}:{i}")
    return TextExamples(texts, labels, names, sources, skipped)


def _fit(wave, samples):
    wave = np.asarray(wave)
    scale = _INT_SCALE if np.issubdtype(wave.dtype, np.integer) else 1.0
    out = np.zeros(samples, np.float32)
    kept = wave[:samples]
    out[: len(kept)] = kept.astype(np.float32) / scale
    return out


def _audio(pairs, names, sample_rate, samples):
    waves, labels = [], []
    for wave, label in pairs:
        waves.append(_fit(wave, samples))
        labels.append(int(label))
    waves = np.stack(waves) if waves else np.zeros((0, samples), np.float32)
    return WaveExamples(waves, np.array(labels, np.int32), tuple(names), sample_rate)


def load_tfds(spec, data_dir=None, download=False, max_examples=None, audio_samples=None):
    """Reads a supervised text or audio TFDS dataset split into memory.

    Args:
        spec: `"tfds:NAME[:SPLIT]"`.
        data_dir: the TFDS data folder; default TFDS's own (`~/tensorflow_datasets`).
        download: whether to download and prepare the dataset if needed (needs internet).
        max_examples: read at most this many examples (the first ones), or all.
        audio_samples: audio only: samples per waveform after padding or cutting; default
            the dataset's sample rate (one second).

    Returns:
        `TextExamples` for a text input, `WaveExamples` for an audio input (see the module
        docstring).

    Raises:
        TfdsSourceError: a bad spec, unknown dataset or split, data not prepared without
            `download`, or a dataset that is not supervised text or audio classification.
    """
    text = str(spec)
    for arg, value in (("max_examples", max_examples), ("audio_samples", audio_samples)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise TfdsSourceError(
                f"{text}: `{arg}` must be a positive integer or None. Received: {arg}={value!r}"
            )
    parsed = parse_tfds_spec(text)
    builder = _builder(text, parsed, data_dir)
    keys = builder.info.supervised_keys
    if not keys or len(keys) != 2:
        raise TfdsSourceError(f"{text}: dataset {parsed.name!r} has no (input, label) keys")
    input_feature = builder.info.features[keys[0]]
    names = _label_names(text, builder, keys[1])
    is_text = isinstance(input_feature, tfds.features.Text)
    if not is_text and not isinstance(input_feature, tfds.features.Audio):
        raise TfdsSourceError(
            f"{text}: input feature {keys[0]!r} is a {type(input_feature).__name__}; "
            "only Text and Audio inputs are supported"
        )
    ds = _dataset(text, parsed, builder, download)
    if max_examples is not None:
        ds = ds.take(max_examples)
    pairs = tfds.as_numpy(ds)
    if is_text:
        return _texts(text, pairs, names)
    sample_rate = int(input_feature.sample_rate)
    return _audio(pairs, names, sample_rate, audio_samples or sample_rate)
