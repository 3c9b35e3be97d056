"""Deterministic generated data for the three apps (the `synthetic:NAME` data sources).

Each generator takes a size and a `seed` (of a `numpy.random.Generator`): the same arguments
give the same data. Each task is small enough to train on in seconds, and built so that a
model that ignores the order of the tokens / frames / time steps scores clearly worse.

- `sentiment(n, seed)`: short movie-review sentences, labels `negative` / `positive`.
  A **clause** is `SUBJECT VERB [not] [INTENSIFIER] ADJECTIVE`, e.g.
  `"the plot was not very good"`; its polarity is the adjective's polarity, flipped by `not`.
  A sentence is one clause, or two clauses of **opposite** polarity joined by `", but"`,
  e.g. `"the plot was good, but the acting was dull"`. **Rule: the label is the polarity of
  the last clause** (`sentiment_label` implements it, and scores 1.0 on generated data).
  A bag of words cannot apply it: `"the plot was not good, but the acting was bad"` and
  `"the plot was good, but the acting was not bad"` hold the same words and have opposite
  labels, so on two-clause sentences (two thirds of the data) an order-free model is at
  chance, and a linear bag of words cannot even express the negation of one clause.
- `speech(n, seed, sample_rate, duration)`: short (default 0.5 s) "commands" of three sound
  bursts: one **low tone** (300-500 Hz) and two **high chirps** (rising sweeps within
  1.8-3.0 kHz), with random length (60-100 ms), amplitude (0.3-0.8), gaps and phase, on
  white noise. The class is the position of the low tone: `low_first`, `low_middle`,
  `low_last`. Every clip holds the same kinds of events whatever its class, so a
  time-averaged spectrum cannot tell the classes apart (chance is 1/3).
- `forecast(n_rows, seed, columns)`: an hourly series per column: a linear trend, a daily
  (period 24) and a weekly (period 168) sine seasonality with random amplitudes and phases,
  and AR(1) noise (coefficient 0.6). A model that averages its window ignores the seasonal
  phase that the order of the time steps carries.

`load_synthetic(spec, seed, n)` dispatches `"synthetic:NAME"` and returns the container the
real readers return: `TextExamples`, `WaveExamples` (waveforms in memory; `AudioExamples`
holds paths), `Series`.

Example:

>>> texts, labels, names = sentiment(4, seed=0)
>>> len(texts), labels.dtype.name, names
(4, 'int32', ('negative', 'positive'))
>>> all(names.index(sentiment_label(t)) == y for t, y in zip(texts, labels))
True
"""

import dataclasses
import pathlib

import numpy as np

from pipelines._checks import check_float, check_int
from pipelines.series_source import Series
from pipelines.text_source import TextExamples

SENTIMENT_CLASSES = ("negative", "positive")
"""Class names of `sentiment`; a label is an index into this tuple."""

SPEECH_CLASSES = ("low_first", "low_middle", "low_last")
"""Class names of `speech`: the position of the low tone among the three bursts."""

DEFAULT_SIZES = {"sentiment": 2000, "speech": 600, "forecast": 24 * 7 * 12}
"""Default `n` of `load_synthetic` per task: examples, clips, or rows (12 weeks, hourly)."""

_SUBJECTS = ("the movie", "the plot", "the acting", "the music", "the ending", "it")
_VERBS = ("was", "is", "felt", "seemed")
_INTENSIFIERS = ("", "", "very", "really", "so")
_ADJECTIVES = {
    1: ("good", "great", "fun", "clever", "moving", "charming"),
    0: ("bad", "dull", "boring", "silly", "weak", "awful"),
}
_POLARITY = {word: p for p, words in _ADJECTIVES.items() for word in words}
_CLAUSE_SEPARATOR = ", but "


def _clause(rng, polarity):
    negated = bool(rng.integers(2))
    words = [str(rng.choice(_SUBJECTS)), str(rng.choice(_VERBS))]
    if negated:
        words.append("not")
    intensifier = str(rng.choice(_INTENSIFIERS))
    if intensifier:
        words.append(intensifier)
    words.append(str(rng.choice(_ADJECTIVES[polarity ^ negated])))
    return " ".join(words)


def _balanced_labels(rng, n, num_classes):
    labels = np.arange(n, dtype=np.int32) % num_classes
    rng.shuffle(labels)
    return labels


def sentiment(n, seed=0):
    """Generates the sentiment task (see the module docstring for the rule).

    Args:
        n: number of sentences, at least 2. Classes are balanced (they differ by at most 1).
        seed: seed of the `numpy.random.Generator`.

    Returns:
        `(texts, labels, class_names)`: a list of `n` strings, int32 labels of shape `(n,)`
        indexing `class_names` (`SENTIMENT_CLASSES`).
    """
    n = check_int("n", n, 2)
    rng = np.random.default_rng(seed)
    labels = _balanced_labels(rng, n, len(SENTIMENT_CLASSES))
    texts = []
    for label in labels:
        last = _clause(rng, int(label))
        if rng.integers(3) == 0:
            texts.append(last)
        else:
            texts.append(_clause(rng, 1 - int(label)) + _CLAUSE_SEPARATOR + last)
    return texts, labels, SENTIMENT_CLASSES


def sentiment_label(text):
    """The class name the rule gives `text`: the polarity of its last clause.

    Raises:
        ValueError: the last clause has no known adjective.
    """
    words = text.split(_CLAUSE_SEPARATOR)[-1].split()
    if not words or words[-1] not in _POLARITY:
        raise ValueError(f"`text` does not end with a known adjective. Received: text={text!r}")
    polarity = _POLARITY[words[-1]] ^ ("not" in words)
    return SENTIMENT_CLASSES[polarity]


def _burst(rng, sample_rate, length, low):
    t = np.arange(length) / sample_rate
    if low:
        phase = 2 * np.pi * rng.uniform(300.0, 500.0) * t
    else:
        start = rng.uniform(1800.0, 2400.0)
        rate = rng.uniform(300.0, 600.0) / (length / sample_rate)  # Hz per second
        phase = 2 * np.pi * (start * t + 0.5 * rate * t**2)
    amplitude = rng.uniform(0.3, 0.8)
    return amplitude * np.hanning(length) * np.sin(phase + rng.uniform(0, 2 * np.pi))


def _clip(rng, label, sample_rate, samples):
    lengths = rng.integers(int(0.06 * sample_rate), int(0.1 * sample_rate) + 1, size=3)
    cuts = np.sort(rng.integers(0, samples - lengths.sum() + 1, size=3))
    starts = cuts + np.concatenate([[0], np.cumsum(lengths)[:-1]])
    wave = rng.normal(0.0, rng.uniform(0.01, 0.05), size=samples)
    for slot, (start, length) in enumerate(zip(starts, lengths, strict=True)):
        wave[start : start + length] += _burst(rng, sample_rate, length, low=slot == label)
    return wave


def speech(n, seed=0, sample_rate=8000, duration=0.5):
    """Generates the speech task (see the module docstring).

    Args:
        n: number of clips, at least 3. Classes are balanced (they differ by at most 1).
        seed: seed of the `numpy.random.Generator`.
        sample_rate: samples per second, at least 8000 (the chirps reach 3 kHz).
        duration: clip length in seconds, at least 0.3 (three bursts of up to 100 ms).

    Returns:
        `(waves, labels, class_names)`: float32 waves of shape
        `(n, round(sample_rate * duration))`, int32 labels of shape `(n,)` indexing
        `class_names` (`SPEECH_CLASSES`).
    """
    n = check_int("n", n, 3)
    sample_rate = check_int("sample_rate", sample_rate, 8000)
    duration = check_float("duration", duration, 0.3)
    samples = round(sample_rate * duration)
    rng = np.random.default_rng(seed)
    labels = _balanced_labels(rng, n, len(SPEECH_CLASSES))
    waves = np.stack([_clip(rng, int(label), sample_rate, samples) for label in labels])
    return waves.astype(np.float32), labels, SPEECH_CLASSES


def forecast(n_rows, seed=0, columns=3):
    """Generates the forecast task: hourly trend + daily and weekly seasonality + AR(1) noise.

    Args:
        n_rows: number of time steps, at least 2.
        seed: seed of the `numpy.random.Generator`.
        columns: number of series, at least 1.

    Returns:
        `(values, column_names)`: float32 values of shape `(n_rows, columns)`, and the names
        `("y0", "y1", ...)`.
    """
    n_rows = check_int("n_rows", n_rows, 2)
    columns = check_int("columns", columns, 1)
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows)[:, None]
    level = rng.uniform(-5.0, 5.0, size=columns)
    slope = rng.uniform(-0.01, 0.01, size=columns)
    values = level + slope * t
    for period, low, high in ((24, 1.0, 3.0), (168, 0.5, 2.0)):
        amplitude = rng.uniform(low, high, size=columns)
        phase = rng.uniform(0.0, 2 * np.pi, size=columns)
        values = values + amplitude * np.sin(2 * np.pi * t / period + phase)
    shocks = rng.normal(0.0, 0.3, size=(n_rows, columns))
    noise = np.zeros(columns)
    for i in range(n_rows):
        noise = 0.6 * noise + shocks[i]
        values[i] += noise
    return values.astype(np.float32), tuple(f"y{j}" for j in range(columns))


@dataclasses.dataclass(frozen=True, eq=False)
class WaveExamples:
    """Labelled waveforms held in memory (the audio counterpart of `AudioExamples`).

    Attributes:
        waves: float32 array of shape `(n, samples)`, values about in [-1, 1].
        labels: int32 array of shape `(n,)`, indices into `class_names`.
        class_names: the class names, a tuple.
        sample_rate: samples per second.
    """

    waves: np.ndarray
    labels: np.ndarray
    class_names: tuple
    sample_rate: int

    def __len__(self):
        return int(self.waves.shape[0])

    def label_ids(self):
        """Returns the labels as int32 class ids (as `AudioExamples.label_ids`)."""
        return np.asarray(self.labels, dtype=np.int32)


def _text_examples(spec, n, seed):
    texts, labels, names = sentiment(n, seed)
    sources = [f"{spec}:{i}" for i in range(1, len(texts) + 1)]
    return TextExamples(texts, [names[y] for y in labels], list(names), sources)


def _audio(spec, n, seed):
    waves, labels, names = speech(n, seed)
    return WaveExamples(waves, labels, names, 8000)


def _series(spec, n, seed):
    values, names = forecast(n, seed)
    time = np.datetime64("2020-01-01T00", "h") + np.arange(len(values))
    return Series(
        path=pathlib.Path(spec),
        values=values,
        columns=names,
        target=names,
        target_indices=tuple(range(len(names))),
        lines=np.arange(1, len(values) + 1),
        time_column="time",
        time=time,
        time_step=np.timedelta64(1, "h"),
    )


_LOADERS = {"sentiment": _text_examples, "speech": _audio, "forecast": _series}


def load_synthetic(spec, seed=0, n=None):
    """Generates the data of a `"synthetic:NAME"` source.

    Args:
        spec: `"synthetic:sentiment"`, `"synthetic:speech"` or `"synthetic:forecast"`.
        seed: seed of the generator.
        n: examples (sentiment, speech) or rows (forecast); default `DEFAULT_SIZES[NAME]`.

    Returns:
        `TextExamples` (sources `"synthetic:sentiment:i"`, 1-based), `WaveExamples`
        (8 kHz, 0.5 s clips) or `Series` (hourly from 2020-01-01, time column `"time"`,
        lines `1..n`, every column a target).

    Raises:
        ValueError: `spec` is not `synthetic:NAME` with a known NAME (the message lists them).
    """
    text = str(spec)
    prefix, _, name = text.partition(":")
    if prefix != "synthetic" or name not in _LOADERS:
        known = ", ".join(f"synthetic:{k}" for k in _LOADERS)
        raise ValueError(f"Unknown synthetic source; known: {known}. Received: spec={text!r}")
    if n is None:
        n = DEFAULT_SIZES[name]
    return _LOADERS[name](text, n, seed)
