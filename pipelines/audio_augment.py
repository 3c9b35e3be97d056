"""Augmentations of whole batches of log-mel spectrograms, each example with its own draws.

`audio_dataset(augment=...)` uses these for log-mel and MFCC features: the log-mel of every
clip is computed once and cached, and only the small spectrograms (frames x bins, about 100x
fewer values than the waveform) are augmented every epoch. Waveform-level augmentation of
every clip every epoch cost as much as a small model's training step on 2 CPU cores
(docs/results.md, "Pipeline throughput").

- `tempo_change`: plays the spectrogram faster or slower by a factor uniform in
  `factor_range` (linear interpolation along time around the centre; frames read from outside
  the clip are silence). Unlike a waveform speed change, the pitch stays.
- `time_shift_frames`: shifts by a uniform integer number of frames in `[-max_shift,
  max_shift]`, filling with silence.
- `add_noise_floor`: adds white noise in the mel magnitude domain at a signal-to-noise ratio
  uniform in `snr_db_range` (dB, magnitude ratio 10^(snr/20)), noise uniform in [0, 2x level).
- `spec_augment_batch`: `audio.spec_augment` per example: exactly `masks * width` rows and
  columns per example, set to the example's mean.

"Silence" is each example's smallest log-mel value. Every function takes `(batch, frames,
bins)` log-mel and a seed of shape `(2,)`; the same seed gives the same batch.

Example:

>>> import tensorflow as tf
>>> spec = tf.random.stateless_normal([4, 61, 40], [0, 1])
>>> seed = tf.constant([1, 2], tf.int64)
>>> out = augment_log_mel(spec, (0.9, 1.1), 6, (10.0, 30.0), 2, 4, 2, 4, seed)
>>> tuple(out.shape)
(4, 61, 40)
"""

import tensorflow as tf

from pipelines.audio import _LOG_OFFSET


def _uniform(shape, seed, low, high, dtype=tf.float32):
    return tf.random.stateless_uniform(shape, seed, minval=low, maxval=high, dtype=dtype)


def _silence(spec):
    return tf.reduce_min(spec, axis=[1, 2], keepdims=True)


def _read_frames(spec, position):
    """Linear interpolation of `spec` (batch, frames, bins) at float frame `position`
    (batch, out_frames); silence outside the clip."""
    frames = tf.shape(spec)[1]
    last = tf.cast(frames - 1, tf.float32)
    inside = (position >= 0.0) & (position <= last)
    position = tf.clip_by_value(position, 0.0, last)
    left = tf.cast(tf.floor(position), tf.int32)
    right = tf.minimum(left + 1, frames - 1)
    frac = (position - tf.cast(left, tf.float32))[..., None]
    a = tf.gather(spec, left, batch_dims=1)
    b = tf.gather(spec, right, batch_dims=1)
    return tf.where(inside[..., None], a + frac * (b - a), _silence(spec))


def tempo_change(spec, factor_range, seed):
    """Per example: frame k reads frame centre + (k - centre) * factor (see module)."""
    spec = tf.convert_to_tensor(spec, tf.float32)
    batch, frames = tf.shape(spec)[0], tf.shape(spec)[1]
    factor = _uniform([batch, 1], seed, *factor_range)
    centre = tf.cast(frames - 1, tf.float32) / 2.0
    k = tf.range(frames, dtype=tf.float32)[None, :]
    return _read_frames(spec, centre + (k - centre) * factor)


def time_shift_frames(spec, max_shift, seed):
    """Per example: shifts by a whole number of frames in `[-max_shift, max_shift]`."""
    spec = tf.convert_to_tensor(spec, tf.float32)
    batch, frames = tf.shape(spec)[0], tf.shape(spec)[1]
    shift = _uniform([batch, 1], seed, -max_shift, max_shift + 1, tf.int32)
    position = tf.range(frames)[None, :] - shift
    return _read_frames(spec, tf.cast(position, tf.float32))


def add_noise_floor(spec, snr_db_range, seed):
    """Per example: white noise added to the mel magnitudes at a random SNR (see module)."""
    spec = tf.convert_to_tensor(spec, tf.float32)
    snr_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    mel = tf.maximum(tf.exp(spec) - _LOG_OFFSET, 0.0)
    snr_db = _uniform([tf.shape(spec)[0], 1, 1], snr_seed, *snr_db_range)
    level = tf.reduce_mean(mel, axis=[1, 2], keepdims=True) / tf.pow(10.0, snr_db / 20.0)
    noise = level * _uniform(tf.shape(spec), noise_seed, 0.0, 2.0)
    return tf.math.log(mel + noise + _LOG_OFFSET)


def _band_masks(batch, size, masks, width, seed):
    if masks == 0 or width == 0:
        return tf.zeros([batch, size], tf.bool)
    room = size - masks * width
    tf.debugging.assert_non_negative(
        room, message=f"spec_augment: {masks} masks of width {width} do not fit in the axis"
    )
    offsets = _uniform([batch, masks], seed, 0, room + 1, tf.int32)
    starts = (tf.sort(offsets, axis=-1) + tf.range(masks) * width)[:, None, :]
    index = tf.range(size)[None, :, None]
    return tf.reduce_any((index >= starts) & (index < starts + width), axis=-1)


def spec_augment_batch(spec, time_masks, time_mask_width, freq_masks, freq_mask_width, seed):
    """`audio.spec_augment` with each example's own bands."""
    spec = tf.convert_to_tensor(spec, tf.float32)
    time_seed, freq_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    batch, frames, bins = tf.shape(spec)[0], tf.shape(spec)[1], tf.shape(spec)[2]
    rows = _band_masks(batch, frames, time_masks, time_mask_width, time_seed)
    cols = _band_masks(batch, bins, freq_masks, freq_mask_width, freq_seed)
    masked = rows[:, :, None] | cols[:, None, :]
    return tf.where(masked, tf.reduce_mean(spec, axis=[1, 2], keepdims=True), spec)


def augment_log_mel(
    spec,
    factor_range,
    max_shift_frames,
    snr_db_range,
    time_masks,
    time_mask_width,
    freq_masks,
    freq_mask_width,
    seed,
):
    """Tempo change, shift, noise floor, then SpecAugment masks, on a batch of log-mels."""
    spec = tf.convert_to_tensor(spec, tf.float32)
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
    # Tempo change then shift as one read of the frames (one gather instead of two).
    batch, frames = tf.shape(spec)[0], tf.shape(spec)[1]
    factor = _uniform([batch, 1], seeds[0], *factor_range)
    shift = _uniform([batch, 1], seeds[1], -max_shift_frames, max_shift_frames + 1, tf.int32)
    centre = tf.cast(frames - 1, tf.float32) / 2.0
    k = tf.range(frames, dtype=tf.float32)[None, :] - tf.cast(shift, tf.float32)
    spec = _read_frames(spec, centre + (k - centre) * factor)
    spec = add_noise_floor(spec, snr_db_range, seeds[2])
    return spec_augment_batch(
        spec, time_masks, time_mask_width, freq_masks, freq_mask_width, seeds[3]
    )
