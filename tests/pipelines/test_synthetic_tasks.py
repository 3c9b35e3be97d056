"""Tests for `pipelines.synthetic_tasks`: determinism, shapes, balance, order dependence."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from pipelines import synthetic_tasks as st
from pipelines.audio import log_mel_spectrogram
from pipelines.series_source import Series
from pipelines.text_source import TextExamples


def test_sentiment_is_deterministic_balanced_and_follows_the_rule():
    texts, labels, names = st.sentiment(101, seed=3)
    again, labels_again, _ = st.sentiment(101, seed=3)
    other, _, _ = st.sentiment(101, seed=4)
    assert texts == again and np.array_equal(labels, labels_again) and texts != other
    assert names == ("negative", "positive")
    assert labels.dtype == np.int32 and labels.shape == (101,)
    assert sorted(np.bincount(labels)) == [50, 51]
    assert [st.sentiment_label(t) for t in texts] == [names[y] for y in labels]


def test_sentiment_label_applies_negation_and_last_clause():
    assert st.sentiment_label("the plot was not good") == "negative"
    assert st.sentiment_label("it is not bad") == "positive"
    assert st.sentiment_label("the plot was not good, but the acting was bad") == "negative"
    assert st.sentiment_label("the plot was good, but the acting was not bad") == "positive"
    with pytest.raises(ValueError, match="Received: text='the plot'"):
        st.sentiment_label("the plot")


def test_sentiment_bag_of_words_scores_clearly_below_the_rule():
    train, y_train, _ = st.sentiment(1500, seed=0)
    test, y_test, names = st.sentiment(600, seed=1)
    vectorizer = CountVectorizer()
    model = LogisticRegression(max_iter=1000).fit(vectorizer.fit_transform(train), y_train)
    bag_accuracy = model.score(vectorizer.transform(test), y_test)
    rule_accuracy = np.mean([names.index(st.sentiment_label(t)) for t in test] == y_test)
    assert rule_accuracy == 1.0
    assert bag_accuracy < 0.8


def test_speech_is_deterministic_shaped_and_balanced():
    waves, labels, names = st.speech(9, seed=5, sample_rate=16000, duration=0.4)
    again, labels_again, _ = st.speech(9, seed=5, sample_rate=16000, duration=0.4)
    assert np.array_equal(waves, again) and np.array_equal(labels, labels_again)
    assert not np.array_equal(waves, st.speech(9, seed=6, sample_rate=16000, duration=0.4)[0])
    assert waves.shape == (9, 6400) and waves.dtype == np.float32
    assert names == ("low_first", "low_middle", "low_last")
    assert np.bincount(labels).tolist() == [3, 3, 3]
    assert np.all(np.isfinite(waves)) and np.abs(waves).max() < 1.5


def _log_mel(waves):
    return log_mel_spectrogram(waves, 8000, num_mel_bins=32).numpy()


def test_speech_time_averaged_spectrum_is_near_chance_but_order_features_are_not():
    train, y_train, _ = st.speech(450, seed=0)
    test, y_test, _ = st.speech(300, seed=1)
    mel_train, mel_test = _log_mel(train), _log_mel(test)
    averaged = LogisticRegression(max_iter=2000).fit(mel_train.mean(axis=1), y_train)
    assert averaged.score(mel_test.mean(axis=1), y_test) < 0.5  # chance is 1/3
    flat = LogisticRegression(max_iter=2000).fit(mel_train.reshape(450, -1), y_train)
    assert flat.score(mel_test.reshape(300, -1), y_test) > 0.8


def test_forecast_is_deterministic_with_daily_and_weekly_seasonality():
    values, names = st.forecast(24 * 7 * 8, seed=2, columns=2)
    assert values.shape == (1344, 2) and values.dtype == np.float32 and names == ("y0", "y1")
    assert np.array_equal(values, st.forecast(1344, seed=2, columns=2)[0])
    assert not np.array_equal(values, st.forecast(1344, seed=3, columns=2)[0])
    detrended = values - np.polyval(
        np.polyfit(np.arange(1344), values, 1), np.arange(1344)[:, None]
    )
    for lag in (24, 168):
        lagged = np.corrcoef(detrended[lag:, 0], detrended[:-lag, 0])[0, 1]
        off = np.corrcoef(detrended[12:, 0], detrended[:-12, 0])[0, 1]
        assert lagged > off + 0.5, lag


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: st.sentiment(1), "Received: n=1"),
        (lambda: st.speech(5, sample_rate=4000), "Received: sample_rate=4000"),
        (lambda: st.speech(5, duration=0.2), "Received: duration=0.2"),
        (lambda: st.forecast(10, columns=0), "Received: columns=0"),
    ],
)
def test_generators_reject_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_load_synthetic_returns_the_readers_containers():
    text = st.load_synthetic("synthetic:sentiment", seed=1, n=10)
    assert isinstance(text, TextExamples) and len(text) == 10
    assert text.class_names == ["negative", "positive"] and set(text.labels) <= {
        "negative",
        "positive",
    }
    assert text.sources[0] == "synthetic:sentiment:1"
    assert text.texts == st.sentiment(10, seed=1)[0]

    audio = st.load_synthetic("synthetic:speech", n=6)
    assert isinstance(audio, st.WaveExamples) and len(audio) == 6
    assert audio.waves.shape == (6, 4000) and audio.sample_rate == 8000
    assert audio.label_ids().tolist() == st.speech(6, seed=0)[1].tolist()

    series = st.load_synthetic("synthetic:forecast")
    assert isinstance(series, Series) and series.n_rows == st.DEFAULT_SIZES["forecast"]
    assert series.columns == ("y0", "y1", "y2") and series.target_indices == (0, 1, 2)
    assert str(series.time[24]) == "2020-01-02T00" and series.time_step == np.timedelta64(1, "h")


@pytest.mark.parametrize("spec", ["synthetic:nope", "tfds:imdb_reviews", "synthetic:", "speech"])
def test_load_synthetic_rejects_unknown_names_listing_the_known_ones(spec):
    with pytest.raises(
        ValueError, match="synthetic:sentiment, synthetic:speech, synthetic:forecast"
    ):
        st.load_synthetic(spec)
