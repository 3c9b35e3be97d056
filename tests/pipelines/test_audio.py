"""Tests of the audio source (`audio_source`) and transforms (`audio`) of `pipelines`."""

import pathlib
import re
import struct
import wave

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipelines.audio import (
    AugmentOptions,
    LogMelSpectrogram,
    add_noise,
    audio_dataset,
    log_mel_spectrogram,
    mfcc,
    pad_or_crop,
    spec_augment,
    speed_change,
    time_shift,
)
from pipelines.audio_source import (
    AudioError,
    AudioExamples,
    load_audio_flat,
    load_audio_folders,
    read_wav,
)

DATA = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
FSDD = DATA / "fsdd" / "recordings"
needs_fsdd = pytest.mark.skipif(
    not FSDD.is_dir(), reason=f"real data folder {FSDD} is absent (a fresh clone)"
)


def _tone(freq=440.0, rate=8000, seconds=0.25, amplitude=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _write_wav(path, data, rate=8000, width=2):
    """Writes `data` ((n,) or (n, channels) floats in [-1, 1]) as integer PCM of `width` bytes."""
    data = np.asarray(data, dtype=np.float64)
    data = data[:, None] if data.ndim == 1 else data
    if width == 1:
        frames = np.round(data * 127 + 128).astype(np.uint8).tobytes()
    elif width == 2:
        frames = np.round(data * 32767).astype("<i2").tobytes()
    elif width == 3:
        ints = np.round(data * (2**23 - 1)).astype("<i4").reshape(-1, 1).view(np.uint8)
        frames = ints.reshape(-1, 4)[:, :3].tobytes()
    else:
        frames = np.round(data * (2**31 - 1)).astype("<i4").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(data.shape[1])
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(frames)
    return path


def _write_float_wav(path, data, rate=8000):
    """Writes an IEEE-float (format 3) WAV file, which the `wave` module cannot write."""
    body = np.asarray(data, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    chunks = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"data" + struct.pack("<I", len(body)) + body
    path.write_bytes(b"RIFF" + struct.pack("<I", len(chunks)) + chunks)
    return path


def _raises(*parts):
    return pytest.raises(AudioError, match=".*".join(re.escape(str(p)) for p in parts))


# --- sources -----------------------------------------------------------------------------


def test_folder_layout_labels_and_ignored_files(tmp_path):
    for label, n in [("yes", 2), ("no", 3)]:
        for i in range(n):
            _write_wav(tmp_path / label / f"{i}.wav", _tone())
    (tmp_path / "yes" / "notes.txt").write_text("x")
    (tmp_path / ".hidden").mkdir()
    _write_wav(tmp_path / "top.wav", _tone())
    ex = load_audio_folders(tmp_path)
    assert isinstance(ex, AudioExamples)
    assert ex.class_names == ("no", "yes") and ex.groups is None
    assert ex.labels == ("no",) * 3 + ("yes",) * 2
    assert [p.parent.name for p in ex.paths] == list(ex.labels)
    assert ex.label_ids().tolist() == [0, 0, 0, 1, 1]


def test_flat_layout_label_and_group_patterns(tmp_path):
    for name in ["3_ann_0.wav", "3_bob_1.wav", "7_ann_2.wav", "7_bob_10.WAV"]:
        _write_wav(tmp_path / name, _tone())
    (tmp_path / "readme.txt").write_text("x")
    ex = load_audio_flat(tmp_path, r"^(\d+)_", group_pattern=r"^\d+_([a-z]+)_")
    assert [p.name for p in ex.paths] == [
        "3_ann_0.wav",
        "3_bob_1.wav",
        "7_ann_2.wav",
        "7_bob_10.WAV",
    ]
    assert ex.labels == ("3", "3", "7", "7") and ex.groups == ("ann", "bob", "ann", "bob")
    assert ex.class_names == ("3", "7")
    assert load_audio_flat(tmp_path, r"^(\d+)_").groups is None


def test_flat_file_not_matching_names_file_and_pattern(tmp_path):
    _write_wav(tmp_path / "1_ann_0.wav", _tone())
    _write_wav(tmp_path / "noise.wav", _tone())
    with _raises(tmp_path / "noise.wav", "label_pattern", r"^(\d+)_"):
        load_audio_flat(tmp_path, r"^(\d+)_")
    with _raises(tmp_path / "1_ann_0.wav", "group_pattern"):
        load_audio_flat(tmp_path, r"(\w)", group_pattern=r"_(\d)_")


@pytest.mark.parametrize(
    ("option", "kwargs"),
    [
        ("label_pattern", {"label_pattern": r"^\d+_"}),  # no group
        ("label_pattern", {"label_pattern": r"^(\d+"}),  # not a regex
        ("group_pattern", {"label_pattern": r"^(\d)", "group_pattern": r"[a-z]+"}),
    ],
)
def test_bad_pattern_names_the_option(tmp_path, option, kwargs):
    _write_wav(tmp_path / "1_ann_0.wav", _tone())
    with _raises(f"`{option}`"):
        load_audio_flat(tmp_path, **kwargs)


def test_empty_class_and_too_few_classes(tmp_path):
    _write_wav(tmp_path / "a" / "0.wav", _tone())
    with _raises(tmp_path, "need at least 2"):
        load_audio_folders(tmp_path)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt").write_text("x")
    with _raises(tmp_path / "b", "no .wav files"):
        load_audio_folders(tmp_path)
    with _raises(tmp_path / "missing", "no such folder"):
        load_audio_folders(tmp_path / "missing")
    flat = tmp_path / "flat"
    _write_wav(flat / "1_a.wav", _tone())
    with _raises(flat, "need at least 2"):
        load_audio_flat(flat, r"^(\d)")


# --- read_wav ------------------------------------------------------------------------------


def test_read_wav_16_bit_values(tmp_path):
    tone = _tone()
    out = read_wav(_write_wav(tmp_path / "t.wav", tone), 8000)
    assert out.dtype == tf.float32 and out.shape == tone.shape
    np.testing.assert_allclose(out.numpy(), tone, atol=1e-4)


@pytest.mark.parametrize("width", [1, 3, 4])
def test_other_pcm_widths_are_converted_like_16_bit(tmp_path, width):
    tone = _tone()
    out = read_wav(_write_wav(tmp_path / "t.wav", tone, width=width), 8000).numpy()
    atol = 1e-2 if width == 1 else 1e-5
    np.testing.assert_allclose(out, tone, atol=atol)
    assert np.abs(out).max() <= 1.0


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"this is a text file, not audio\n", "not a readable PCM WAV"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00", "not a readable PCM WAV"),  # truncated
    ],
)
def test_corrupt_or_text_file_names_the_file(tmp_path, content, reason):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with _raises(path, reason):
        read_wav(path, 8000)


def test_float_wav_and_missing_file_raise_audio_error(tmp_path):
    path = _write_float_wav(tmp_path / "float.wav", _tone())
    with _raises(path, "unknown format: 3"):
        read_wav(path, 8000)
    with _raises(tmp_path / "none.wav", "cannot read"):
        read_wav(tmp_path / "none.wav", 8000)


def test_stereo_is_mixed_to_mono(tmp_path):
    left, right = _tone(440, amplitude=0.6), _tone(1000, amplitude=0.2)
    path = _write_wav(tmp_path / "s.wav", np.stack([left, right], axis=1))
    out = read_wav(path, 8000).numpy()
    np.testing.assert_allclose(out, (left + right) / 2, atol=1e-4)


def test_resampling_16k_to_8k_keeps_the_frequency(tmp_path):
    path = _write_wav(tmp_path / "t.wav", _tone(440, rate=16000, seconds=1.0), rate=16000)
    out = read_wav(path, 8000).numpy()
    assert out.shape == (8000,)
    spectrum = np.abs(np.fft.rfft(out))
    peak_hz = np.argmax(spectrum) * 8000 / len(out)
    assert abs(peak_hz - 440) <= 1
    np.testing.assert_allclose(np.abs(out[100:-100]).max(), 0.5, atol=0.02)


# --- transforms ----------------------------------------------------------------------------


def test_pad_or_crop():
    wave = tf.range(10, dtype=tf.float32)
    np.testing.assert_array_equal(pad_or_crop(wave, 4), [3, 4, 5, 6])  # centre
    np.testing.assert_array_equal(pad_or_crop(wave, 12), [*range(10), 0, 0])  # right pad
    np.testing.assert_array_equal(pad_or_crop(wave, 10), wave)
    assert pad_or_crop(tf.zeros([3, 7]), 5).shape == (3, 5)


def test_log_mel_and_mfcc_shapes_and_layer_matches():
    wave = tf.constant(_tone(seconds=1.0)[None].repeat(2, axis=0))
    spec = log_mel_spectrogram(wave, 8000, frame_length=256, frame_step=128, num_mel_bins=20)
    assert spec.shape == (2, 1 + (8000 - 256) // 128, 20)
    assert mfcc(spec, 13).shape == (2, 61, 13)
    layer = LogMelSpectrogram(sample_rate=8000, num_mel_bins=20)
    np.testing.assert_allclose(layer(wave), spec, atol=1e-5)
    assert layer.compute_output_shape((None, 8000)) == (None, 61, 20)
    mfcc_layer = LogMelSpectrogram(sample_rate=8000, num_mel_bins=20, num_mfcc=13)
    np.testing.assert_allclose(mfcc_layer(wave), mfcc(spec, 13), atol=1e-4)


def test_layer_config_and_keras_save_load(tmp_path):
    layer = LogMelSpectrogram(8000, frame_length=200, frame_step=80, num_mel_bins=16, num_mfcc=8)
    config = layer.get_config()
    for name in [
        "sample_rate",
        "frame_length",
        "frame_step",
        "fft_length",
        "num_mel_bins",
        "lower_hz",
        "upper_hz",
        "num_mfcc",
    ]:
        assert name in config
    inputs = keras.Input((4000,))
    model = keras.Model(inputs, LogMelSpectrogram.from_config(config)(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(0).uniform(-1, 1, (2, 4000)).astype("float32")
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-5)
    with pytest.raises(ValueError, match="Received: frame_step=0"):
        LogMelSpectrogram(8000, frame_step=0)


def _seed(a):
    return tf.constant([a, 7], tf.int64)


@pytest.mark.parametrize(
    "augment",
    [
        lambda w, s: time_shift(w, 200, s),
        lambda w, s: add_noise(w, (5.0, 20.0), s),
        lambda w, s: speed_change(w, (0.8, 1.25), s),
    ],
    ids=["time_shift", "add_noise", "speed_change"],
)
def test_wave_augmentations_deterministic_per_seed(augment):
    wave = tf.constant(_tone())
    a, b, c = augment(wave, _seed(1)), augment(wave, _seed(1)), augment(wave, _seed(2))
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.allclose(a, c)


def test_time_shift_fills_with_zeros_and_add_noise_hits_snr():
    wave = tf.ones([100])
    shifted = time_shift(wave, 30, _seed(3)).numpy()
    zeros = int((shifted == 0).sum())
    assert 0 <= zeros <= 30 and shifted.sum() == 100 - zeros
    tone = tf.constant(_tone(seconds=2.0))
    noisy = add_noise(tone, (10.0, 10.0), _seed(4))
    snr = 10 * np.log10(np.mean(tone**2) / np.mean((noisy - tone) ** 2))
    assert abs(snr - 10.0) < 0.3


def test_speed_change_length_and_interpolation():
    wave = tf.range(100, dtype=tf.float32)
    fast = speed_change(wave, (2.0, 2.0), _seed(0))
    np.testing.assert_allclose(fast, np.arange(0, 100, 2), atol=1e-4)
    slow = speed_change(wave, (0.5, 0.5), _seed(0))
    assert slow.shape == (200,)
    np.testing.assert_allclose(slow[:5], [0, 0.5, 1, 1.5, 2], atol=1e-4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spec_augment_masks_the_stated_rows_and_columns(seed):
    spec = tf.random.stateless_normal([50, 20], _seed(99)) + 5.0
    out = spec_augment(spec, 3, 4, 2, 3, _seed(seed)).numpy()
    mean = float(tf.reduce_mean(spec))
    masked = np.isclose(out, mean)
    assert masked.all(axis=1).sum() == 3 * 4  # masked frames
    assert masked.all(axis=0).sum() == 2 * 3  # masked mel bins
    kept = ~masked
    np.testing.assert_array_equal(out[kept], spec.numpy()[kept])
    again = spec_augment(spec, 3, 4, 2, 3, _seed(seed)).numpy()
    np.testing.assert_array_equal(out, again)


# --- dataset -------------------------------------------------------------------------------


@pytest.fixture
def wav_files(tmp_path):
    paths = []
    for i, freq in enumerate([300, 500, 700, 900, 1100, 1300]):
        seconds = 0.2 + 0.1 * i  # shorter and longer than `length`
        paths.append(_write_wav(tmp_path / f"{i % 2}_{i}.wav", _tone(freq, seconds=seconds)))
    return paths, [i % 2 for i in range(6)]


@pytest.mark.parametrize(
    ("features", "shape"),
    [("log_mel", (61, 40)), ("mfcc", (61, 13)), ("wave", (8000,))],
)
def test_dataset_shapes(wav_files, features, shape):
    paths, labels = wav_files
    ds = audio_dataset(paths, labels, 8000, 8000, 4, True, 0, features=features)
    batches = list(ds)
    assert [tuple(x.shape) for x, _ in batches] == [(4, *shape), (2, *shape)]
    assert sorted(np.concatenate([y.numpy() for _, y in batches]).tolist()) == sorted(labels)
    assert batches[0][0].dtype == tf.float32 and batches[0][1].dtype == tf.int32


def test_dataset_without_shuffle_keeps_order_and_matches_functions(wav_files):
    paths, labels = wav_files
    ds = audio_dataset(paths, labels, 8000, 4000, 6, False, 0, features="log_mel")
    x, y = next(iter(ds))
    assert y.numpy().tolist() == labels
    expected = log_mel_spectrogram(pad_or_crop(read_wav(paths[2], 8000), 4000), 8000)
    np.testing.assert_allclose(x[2], expected, atol=1e-5)


def test_augmented_dataset_is_reproducible_and_varies(wav_files):
    paths, labels = wav_files
    options = AugmentOptions(time_mask_width=2, freq_mask_width=2)

    def run(seed):
        ds = audio_dataset(paths, labels, 8000, 8000, 6, True, seed, "mfcc", augment=options)
        return [x.numpy() for x, _ in ds], [x.numpy() for x, _ in ds]  # two epochs

    (first, second), (again, _) = run(5), run(5)
    assert first[0].shape == (6, 61, 13)
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.allclose(first[0], second[0])  # new shuffle and augmentation each epoch


@pytest.mark.parametrize("features, shape", [("wave", (6, 8000)), ("log_mel", (6, 61, 40))])
def test_augmented_dataset_keeps_shapes_and_changes_the_data(wav_files, features, shape):
    paths, labels = wav_files
    plain = audio_dataset(paths, labels, 8000, 8000, 6, False, 0, features)
    augmented = audio_dataset(paths, labels, 8000, 8000, 6, False, 0, features, augment=True)

    x_plain, y_plain = next(iter(plain))
    x_augmented, y_augmented = next(iter(augmented))

    assert x_augmented.shape == shape
    np.testing.assert_array_equal(y_plain.numpy(), y_augmented.numpy())
    assert not np.allclose(x_plain.numpy(), x_augmented.numpy())


def test_dataset_errors_name_the_file_and_option(tmp_path, wav_files):
    paths, labels = wav_files
    with pytest.raises(ValueError, match="Received: features='spec'"):
        audio_dataset(paths, labels, 8000, 8000, 2, False, 0, features="spec")
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    ds = audio_dataset([*paths, bad], [*labels, 0], 8000, 8000, 2, False, 0)
    with pytest.raises(tf.errors.OpError, match=re.escape(str(bad))):
        list(ds)


# --- real data -----------------------------------------------------------------------------


@needs_fsdd
def test_fsdd_flat_folder_labels_groups_and_every_file_decodes():
    ex = load_audio_flat(FSDD, r"^(\d+)_", group_pattern=r"^\d+_([a-z]+)_")
    assert len(ex.paths) == 2000
    assert ex.class_names == tuple(str(d) for d in range(10))
    assert {g: ex.groups.count(g) for g in set(ex.groups)} == {
        "george": 500,
        "jackson": 500,
        "lucas": 500,
        "nicolas": 500,
    }
    lengths = []
    for path in ex.paths:
        with wave.open(str(path)) as f:
            assert (f.getframerate(), f.getnchannels(), f.getsampwidth()) == (8000, 1, 2)
        wave_8k = read_wav(path, 8000).numpy()
        assert wave_8k.ndim == 1 and np.abs(wave_8k).max() <= 1.0
        lengths.append(len(wave_8k))
    assert 0.13 * 8000 <= min(lengths) and max(lengths) <= 1.32 * 8000
