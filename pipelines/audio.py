"""Audio transforms for `tf.data` and for models: waveforms -> fixed length -> features.

Every transform is a small TensorFlow function usable in `Dataset.map`:

- `pad_or_crop(wave, length)`: a longer clip keeps its **centre** (a spoken word usually sits
  in the middle of its clip; FSDD clips are 0.14-1.31 s), a shorter one is zero-padded on the
  **right**, so the speech onset stays at sample 0 as in the file.
- `log_mel_spectrogram(...)`: `tf.signal.stft` (Hann window, no end padding) -> magnitude ->
  mel filter bank (`linear_to_mel_weight_matrix`) -> `log(mel + 1e-6)`; shape
  `(..., frames, num_mel_bins)` with `frames = 1 + (samples - frame_length) // frame_step`.
- `mfcc(log_mel, num_coefficients)`: `tf.signal.mfccs_from_log_mel_spectrograms`, first
  `num_coefficients`.

Augmentations are stateless: each takes a `seed` (an int32/int64 tensor of shape `(2,)`),
so the same seed always gives the same result and the pipeline is reproducible:

- `time_shift`: shifts by a uniform integer in `[-max_shift, max_shift]`, filling with zeros
  (not a roll: the end of a word does not wrap around to its start).
- `add_noise`: white Gaussian noise at a signal-to-noise ratio uniform in `snr_db_range` (dB).
- `spec_augment`: zeroes `time_masks` bands of exactly `time_mask_width` frames and
  `freq_masks` bands of exactly `freq_mask_width` mel bins, set to the spectrogram's mean.
  Bands of one axis never overlap, so exactly `masks * width` rows (columns) are masked (the
  SpecAugment paper draws the widths at random; fixed widths keep the amount constant).
- `speed_change`: resamples by linear interpolation by a factor uniform in `factor_range`
  (factor 2 is twice as fast: half the samples); the length changes, so crop afterwards.

`LogMelSpectrogram` computes the same features inside a Keras model, so an exported model
takes raw waveforms. `audio_dataset` builds the whole input pipeline (see its docstring); for
log-mel and MFCC features it augments cached spectrograms in whole batches with
`pipelines.audio_augment` (tempo change, frame shift, noise floor, SpecAugment), which is
about 6x faster than augmenting every waveform; the waveform augmentations above serve
`features="wave"` and users' own pipelines.

Example:

>>> wave = pad_or_crop(tf.ones([5000]), 8000)
>>> tuple(log_mel_spectrogram(wave, 8000, num_mel_bins=16).shape)
(61, 16)
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from pipelines.audio_source import read_wav

FEATURES = ("log_mel", "mfcc", "wave")
"""Accepted values of the `features` argument of `audio_dataset`."""

_LOG_OFFSET = 1e-6


def pad_or_crop(wave, length):
    """Centre-crops or right-pads (with zeros) the last axis of `wave` to `length` samples."""
    wave = tf.convert_to_tensor(wave, tf.float32)
    n = tf.shape(wave)[-1]
    start = tf.maximum(n - length, 0) // 2
    wave = wave[..., start : start + length]
    pad = length - tf.shape(wave)[-1]
    paddings = tf.concat([tf.zeros([tf.rank(wave) - 1, 2], tf.int32), [[0, pad]]], axis=0)
    out = tf.pad(wave, paddings)
    return tf.ensure_shape(out, wave.shape[:-1].concatenate([length]))


def log_mel_spectrogram(
    wave,
    sample_rate,
    frame_length=256,
    frame_step=128,
    fft_length=None,
    num_mel_bins=40,
    lower_hz=20.0,
    upper_hz=None,
):
    """Log-mel spectrogram of waveforms of shape `(..., samples)`: `(..., frames, mel)`.

    `fft_length` defaults to the smallest power of 2 >= `frame_length`, `upper_hz` to the
    Nyquist frequency `sample_rate / 2`.
    """
    wave = tf.convert_to_tensor(wave, tf.float32)
    stft = tf.signal.stft(wave, frame_length, frame_step, fft_length=fft_length)
    magnitude = tf.abs(stft)
    weights = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins,
        magnitude.shape[-1],
        sample_rate,
        lower_hz,
        sample_rate / 2 if upper_hz is None else upper_hz,
    )
    mel = tf.tensordot(magnitude, weights, 1)
    mel = tf.ensure_shape(mel, magnitude.shape[:-1].concatenate([num_mel_bins]))
    return tf.math.log(mel + _LOG_OFFSET)


def mfcc(log_mel, num_coefficients):
    """The first `num_coefficients` MFCCs of a log-mel spectrogram `(..., frames, mel)`."""
    coefficients = tf.signal.mfccs_from_log_mel_spectrograms(log_mel)
    return coefficients[..., :num_coefficients]


def time_shift(wave, max_shift, seed):
    """Shifts the last axis by a random number of samples in `[-max_shift, max_shift]`."""
    wave = tf.convert_to_tensor(wave, tf.float32)
    shift = tf.random.stateless_uniform(
        [], seed, minval=-max_shift, maxval=max_shift + 1, dtype=tf.int32
    )
    n = tf.shape(wave)[-1]
    index = tf.range(n)
    keep = (index >= shift) & (index < n + shift)
    return tf.where(keep, tf.roll(wave, shift, axis=-1), tf.zeros_like(wave))


def add_noise(wave, snr_db_range, seed):
    """Adds white Gaussian noise at a random SNR (dB) in `snr_db_range` = (low, high)."""
    wave = tf.convert_to_tensor(wave, tf.float32)
    snr_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    low, high = snr_db_range
    snr_db = tf.random.stateless_uniform([], snr_seed, minval=low, maxval=high)
    power = tf.reduce_mean(tf.square(wave), axis=-1, keepdims=True)
    noise_std = tf.sqrt(power / tf.pow(10.0, snr_db / 10.0))
    return wave + noise_std * tf.random.stateless_normal(tf.shape(wave), noise_seed)


def _band_mask(size, masks, width, seed):
    """A bool vector of `size` with `masks` non-overlapping true bands of `width`."""
    if masks == 0 or width == 0:
        return tf.zeros([size], tf.bool)
    room = size - masks * width
    tf.debugging.assert_non_negative(
        room, message=f"spec_augment: {masks} masks of width {width} do not fit in the axis"
    )
    offsets = tf.random.stateless_uniform([masks], seed, minval=0, maxval=room + 1, dtype=tf.int32)
    starts = tf.sort(offsets) + tf.range(masks) * width
    index = tf.range(size)[:, None]
    return tf.reduce_any((index >= starts) & (index < starts + width), axis=1)


def spec_augment(spec, time_masks, time_mask_width, freq_masks, freq_mask_width, seed):
    """Masks time and frequency bands of a spectrogram `(..., frames, bins)` (see module)."""
    spec = tf.convert_to_tensor(spec, tf.float32)
    time_seed, freq_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    shape = tf.shape(spec)
    rows = _band_mask(shape[-2], time_masks, time_mask_width, time_seed)
    cols = _band_mask(shape[-1], freq_masks, freq_mask_width, freq_seed)
    masked = rows[:, None] | cols[None, :]
    mean = tf.reduce_mean(spec, axis=[-2, -1], keepdims=True)
    return tf.where(masked, mean, spec)


def speed_change(wave, factor_range, seed):
    """Plays the last axis faster (factor > 1) or slower by a random factor in `factor_range`."""
    wave = tf.convert_to_tensor(wave, tf.float32)
    low, high = factor_range
    factor = tf.random.stateless_uniform([], seed, minval=low, maxval=high)
    n = tf.shape(wave)[-1]
    new_n = tf.maximum(tf.cast(tf.round(tf.cast(n, tf.float32) / factor), tf.int32), 1)
    position = tf.minimum(tf.range(new_n, dtype=tf.float32) * factor, tf.cast(n - 1, tf.float32))
    left = tf.cast(tf.floor(position), tf.int32)
    right = tf.minimum(left + 1, n - 1)
    frac = position - tf.cast(left, tf.float32)
    a = tf.gather(wave, left, axis=-1)
    b = tf.gather(wave, right, axis=-1)
    return a + frac * (b - a)


@keras.saving.register_keras_serializable(package="pipelines")
class LogMelSpectrogram(keras.layers.Layer):
    """Log-mel spectrogram (or MFCCs) of raw waveforms, inside a model.

    Computes exactly `log_mel_spectrogram` (then `mfcc` when `num_mfcc` is set), so a model
    trained on `audio_dataset(features="wave")` or exported for serving takes waveforms.

    Args:
        sample_rate: sample rate of the input waveforms, in Hz.
        frame_length: STFT window length, in samples.
        frame_step: hop between windows, in samples.
        fft_length: FFT size; default the smallest power of 2 >= `frame_length`.
        num_mel_bins: number of mel bands.
        lower_hz: lowest frequency of the mel filter bank.
        upper_hz: highest frequency; default `sample_rate / 2`.
        num_mfcc: when set, return this many MFCCs instead of the log-mel spectrogram.

    Call arguments:
        inputs: float waveforms of shape `(batch, samples)`, in [-1, 1].

    Returns:
        `(batch, frames, num_mel_bins)` (or `num_mfcc`), with
        `frames = 1 + (samples - frame_length) // frame_step`.

    Example:

    >>> layer = LogMelSpectrogram(sample_rate=8000, num_mel_bins=16)
    >>> tuple(layer(tf.zeros([2, 8000])).shape)
    (2, 61, 16)
    """

    def __init__(
        self,
        sample_rate,
        frame_length=256,
        frame_step=128,
        fft_length=None,
        num_mel_bins=40,
        lower_hz=20.0,
        upper_hz=None,
        num_mfcc=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in [
            ("sample_rate", sample_rate),
            ("frame_length", frame_length),
            ("frame_step", frame_step),
            ("num_mel_bins", num_mel_bins),
        ]:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Invalid value for argument `{name}`: expected a positive integer. "
                    f"Received: {name}={value!r}"
                )
        if num_mfcc is not None and not 1 <= num_mfcc <= num_mel_bins:
            raise ValueError(
                "Invalid value for argument `num_mfcc`: expected None or 1..num_mel_bins. "
                f"Received: num_mfcc={num_mfcc!r}"
            )
        self.sample_rate = sample_rate
        self.frame_length = frame_length
        self.frame_step = frame_step
        self.fft_length = fft_length
        self.num_mel_bins = num_mel_bins
        self.lower_hz = lower_hz
        self.upper_hz = upper_hz
        self.num_mfcc = num_mfcc

    def call(self, inputs):
        features = log_mel_spectrogram(
            tf.cast(inputs, tf.float32),
            self.sample_rate,
            self.frame_length,
            self.frame_step,
            self.fft_length,
            self.num_mel_bins,
            self.lower_hz,
            self.upper_hz,
        )
        return features if self.num_mfcc is None else mfcc(features, self.num_mfcc)

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        frames = None if samples is None else 1 + (samples - self.frame_length) // self.frame_step
        bins = self.num_mel_bins if self.num_mfcc is None else self.num_mfcc
        return (*input_shape[:-1], frames, bins)

    def get_config(self):
        config = {
            "sample_rate": self.sample_rate,
            "frame_length": self.frame_length,
            "frame_step": self.frame_step,
            "fft_length": self.fft_length,
            "num_mel_bins": self.num_mel_bins,
            "lower_hz": self.lower_hz,
            "upper_hz": self.upper_hz,
            "num_mfcc": self.num_mfcc,
        }
        return {**super().get_config(), **config}


@dataclasses.dataclass(frozen=True)
class AugmentOptions:
    """Settings of the augmentations `audio_dataset(augment=...)` applies (see module).

    `max_shift_fraction` is the largest time shift as a fraction of the clip; `time_masks`
    and `freq_masks` apply to log-mel features only (for MFCCs, before the DCT). For log-mel
    and MFCC features the augmentations act on the spectrogram (`pipelines.audio_augment`:
    `speed_range` is then a tempo change and `snr_db_range` a noise floor in the mel
    domain); for `features="wave"` on the waveform.
    """

    speed_range: tuple = (0.9, 1.1)
    max_shift_fraction: float = 0.1
    snr_db_range: tuple = (10.0, 30.0)
    time_masks: int = 2
    time_mask_width: int = 4
    freq_masks: int = 2
    freq_mask_width: int = 4


def audio_dataset(
    paths,
    labels_as_ints,
    target_rate,
    length,
    batch_size,
    shuffle,
    seed,
    features="log_mel",
    augment=False,
    *,
    frame_length=256,
    frame_step=128,
    fft_length=None,
    num_mel_bins=40,
    num_mfcc=13,
):
    """A batched `tf.data.Dataset` of `(features, label)` from WAV files.

    Steps: decode each file with `read_wav` (inside `tf.py_function`, parallel map, AUTOTUNE)
    -> without `augment`: `pad_or_crop` -> features -> `cache` -> shuffle -> batch -> prefetch;
    with `augment` and log-mel/MFCC features: `pad_or_crop` -> log-mel -> `cache` -> shuffle
    -> batch -> `audio_augment.augment_log_mel` per batch (each example its own draws)
    (-> MFCC) -> prefetch; with `augment` and `features="wave"`: `cache` of the decoded
    waveforms -> shuffle -> `speed_change`, `time_shift`, `add_noise` -> `pad_or_crop` ->
    batch -> prefetch. Seeds come from `tf.data.Dataset.random(seed)`, new every epoch, so
    runs with the same `seed` are identical.
    A file that cannot be decoded stops the iteration with an error naming it.

    Args:
        paths: the WAV files.
        labels_as_ints: one int class id per file.
        target_rate: sample rate every file is resampled to, in Hz.
        length: samples per example after `pad_or_crop`.
        batch_size: examples per batch (the last batch may be smaller).
        shuffle: whether to shuffle (over the whole dataset, reshuffled every epoch).
        seed: seed of the shuffle and the augmentations.
        features: one of `FEATURES`: `(frames, num_mel_bins)` log-mel, `(frames, num_mfcc)`
            MFCCs, or the `(length,)` waveform.
        augment: `False`, `True` (default `AugmentOptions`) or an `AugmentOptions`.
        frame_length, frame_step, fft_length, num_mel_bins: see `log_mel_spectrogram`.
        num_mfcc: MFCCs kept when `features="mfcc"`.

    Returns:
        A `tf.data.Dataset` of `(float32 features, int32 label)` batches.
    """
    if features not in FEATURES:
        raise ValueError(
            f"Invalid value for argument `features`: expected one of {', '.join(FEATURES)}. "
            f"Received: features={features!r}"
        )
    paths = [str(p) for p in paths]
    labels = np.asarray(labels_as_ints, dtype=np.int32)
    if labels.shape != (len(paths),):
        raise ValueError(
            f"`labels_as_ints` must hold one label per path ({len(paths)}). "
            f"Received: shape {labels.shape}"
        )
    options = AugmentOptions() if augment is True else augment or None

    def decode(path, label):
        wave = tf.py_function(
            lambda p: read_wav(p.numpy().decode(), target_rate), [path], tf.float32
        )
        wave.set_shape([None])
        return wave, label

    def to_log_mel(wave):
        return log_mel_spectrogram(
            pad_or_crop(wave, length),
            target_rate,
            frame_length,
            frame_step,
            fft_length,
            num_mel_bins,
        )

    def to_features(wave):
        if features == "wave":
            return pad_or_crop(wave, length)
        spec = to_log_mel(wave)
        return mfcc(spec, num_mfcc) if features == "mfcc" else spec

    def augmented_wave(element, seed_pair):
        wave, label = element
        seeds = tf.unstack(tf.random.experimental.stateless_split(seed_pair, 3))
        wave = speed_change(wave, options.speed_range, seeds[0])
        wave = time_shift(wave, int(options.max_shift_fraction * length), seeds[1])
        wave = add_noise(wave, options.snr_db_range, seeds[2])
        return to_features(wave), label

    def augmented_spectrograms(batch, seed_pair):
        from pipelines import audio_augment

        spec, label = batch
        frames = 1 + (length - frame_length) // frame_step
        spec = audio_augment.augment_log_mel(
            spec,
            options.speed_range,
            int(options.max_shift_fraction * frames),
            options.snr_db_range,
            options.time_masks,
            options.time_mask_width,
            options.freq_masks,
            options.freq_mask_width,
            seed_pair,
        )
        return (mfcc(spec, num_mfcc) if features == "mfcc" else spec), label

    # Log-mel and MFCC features are augmented as cached spectrograms, whole batches at once
    # (`pipelines.audio_augment`); waveforms one by one.
    on_spectrograms = options is not None and features != "wave"
    autotune = tf.data.AUTOTUNE
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    ds = ds.map(decode, num_parallel_calls=autotune)
    if options is None:
        ds = ds.map(lambda w, y: (to_features(w), y), num_parallel_calls=autotune)
    elif on_spectrograms:
        ds = ds.map(lambda w, y: (to_log_mel(w), y), num_parallel_calls=autotune)
    ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(max(len(paths), 1), seed=seed, reshuffle_each_iteration=True)
    if options is None:
        return ds.batch(batch_size).prefetch(autotune)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    if on_spectrograms:
        ds = tf.data.Dataset.zip(ds.batch(batch_size), seeds)
        ds = ds.map(augmented_spectrograms, num_parallel_calls=autotune)
    else:
        ds = tf.data.Dataset.zip(ds, seeds).map(augmented_wave, num_parallel_calls=autotune)
        ds = ds.batch(batch_size)
    return ds.prefetch(autotune)
