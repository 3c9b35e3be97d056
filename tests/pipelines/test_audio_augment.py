"""Batched log-mel augmentations (pipelines/audio_augment.py)."""

import numpy as np
import pytest
import tensorflow as tf

from pipelines import audio_augment as aug


def _seed(n):
    return tf.constant([n, 7], tf.int64)


def _specs(batch=6, frames=20, bins=8):
    return tf.random.stateless_normal([batch, frames, bins], [3, 4])


@pytest.mark.parametrize(
    "augment",
    [
        lambda s, seed: aug.tempo_change(s, (0.8, 1.2), seed),
        lambda s, seed: aug.time_shift_frames(s, 5, seed),
        lambda s, seed: aug.add_noise_floor(s, (0.0, 10.0), seed),
        lambda s, seed: aug.spec_augment_batch(s, 2, 3, 1, 2, seed),
        lambda s, seed: aug.augment_log_mel(s, (0.9, 1.1), 3, (10.0, 30.0), 1, 2, 1, 2, seed),
    ],
    ids=["tempo", "shift", "noise", "masks", "all"],
)
def test_deterministic_per_seed_and_different_per_example(augment):
    specs = tf.tile(_specs(batch=1), [6, 1, 1])  # six identical examples
    a, b, c = augment(specs, _seed(1)), augment(specs, _seed(1)), augment(specs, _seed(2))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), c.numpy())
    assert a.shape == specs.shape
    # each example draws its own parameters, so identical inputs come out different
    assert len({a[i].numpy().tobytes() for i in range(6)}) > 1


def test_time_shift_moves_frames_and_fills_with_silence():
    spec = np.zeros((1, 10, 2), "float32")
    spec[0, 4] = 5.0
    for seed in range(20):
        out = aug.time_shift_frames(tf.constant(spec), 3, _seed(seed)).numpy()[0]
        hot = np.flatnonzero(out[:, 0] == 5.0)
        assert len(hot) == 1 and abs(hot[0] - 4) <= 3
        assert np.all(np.delete(out[:, 0], hot) == 0.0)  # silence = the example's minimum


def test_tempo_factor_one_is_identity():
    specs = _specs()
    np.testing.assert_allclose(aug.tempo_change(specs, (1.0, 1.0), _seed(0)), specs, atol=1e-6)


def test_noise_floor_only_adds_energy():
    specs = _specs()
    out = aug.add_noise_floor(specs, (0.0, 5.0), _seed(0))
    assert np.all(out.numpy() >= specs.numpy() - 1e-5)
    assert np.mean(out.numpy() - specs.numpy()) > 0.01


def test_masks_cover_exactly_masks_times_width_per_example():
    specs = _specs(batch=5, frames=30, bins=12) + 100.0
    out = aug.spec_augment_batch(specs, 2, 3, 1, 4, _seed(5)).numpy()
    mean = tf.reduce_mean(specs, axis=[1, 2]).numpy()
    for i in range(5):
        masked = out[i] == mean[i]
        assert masked.all(axis=1).sum() == 2 * 3  # whole masked frames
        assert masked.all(axis=0).sum() == 1 * 4  # whole masked bins
