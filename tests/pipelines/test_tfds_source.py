"""Tests for `pipelines.tfds_source`; TFDS is always mocked or empty: nothing is downloaded."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from pipelines.synthetic_tasks import WaveExamples
from pipelines.text_source import TextExamples
from pipelines.tfds_source import TfdsSourceError, TfdsSpec, load_tfds, parse_tfds_spec


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("tfds:imdb_reviews", TfdsSpec("imdb_reviews", "train")),
        ("tfds:imdb_reviews:test", TfdsSpec("imdb_reviews", "test")),
        ("tfds:speech_commands:train[:10%]", TfdsSpec("speech_commands", "train[:10%]")),
        ("tfds:imdb_reviews:train+test", TfdsSpec("imdb_reviews", "train+test")),
        ("tfds:glue/sst2:validation", TfdsSpec("glue/sst2", "validation")),
    ],
)
def test_parse_tfds_spec(spec, expected):
    assert parse_tfds_spec(spec) == expected


@pytest.mark.parametrize(
    "spec", ["imdb_reviews", "tfds:", "tfds:Bad Name", "synthetic:x", "tfds:a:"]
)
def test_parse_tfds_spec_rejects_malformed_specs_naming_them(spec):
    with pytest.raises(TfdsSourceError, match=f"Received: spec='{spec}'"):
        parse_tfds_spec(spec)


def test_imdb_reviews_reads_texts_with_the_builders_class_names():
    with tfds.testing.mock_data(num_examples=6):
        examples = load_tfds("tfds:imdb_reviews:test")
        capped = load_tfds("tfds:imdb_reviews", max_examples=2)
        names = tfds.builder("imdb_reviews").info.features["label"].names
    assert isinstance(examples, TextExamples)
    assert len(examples) + examples.skipped == 6 and len(capped) + capped.skipped == 2
    assert examples.class_names == names == ["neg", "pos"]
    assert all(isinstance(t, str) for t in examples.texts)
    assert set(examples.labels) <= set(names)
    assert examples.sources[0].startswith("tfds:imdb_reviews:test:")


@pytest.mark.parametrize("name, rate", [("speech_commands", 16000), ("spoken_digit", 8000)])
def test_audio_datasets_read_fixed_length_float_waves(name, rate):
    with tfds.testing.mock_data(num_examples=5):
        audio = load_tfds(f"tfds:{name}")
        short = load_tfds(f"tfds:{name}:train", audio_samples=10, max_examples=3)
        names = tfds.builder(name).info.features["label"].names
    assert isinstance(audio, WaveExamples) and len(audio) == 5
    assert audio.sample_rate == rate and audio.waves.shape == (5, rate)
    assert audio.waves.dtype == np.float32 and np.abs(audio.waves).max() <= 1.0
    assert audio.class_names == tuple(names) and len(names) == (
        12 if name == "speech_commands" else 10
    )
    assert audio.labels.dtype == np.int32 and audio.labels.max() < len(names)
    assert short.waves.shape == (3, 10)


def test_unprepared_dataset_without_download_says_how_to_get_it(tmp_path):
    message = r"tfds:spoken_digit: .*not prepared.*pass --download \(download=True\)"
    with pytest.raises(TfdsSourceError, match=message):
        load_tfds("tfds:spoken_digit", data_dir=str(tmp_path))


def test_unknown_dataset_is_an_error_naming_the_spec(tmp_path):
    with pytest.raises(TfdsSourceError, match="tfds:no_such_dataset_xyz: no TFDS dataset"):
        load_tfds("tfds:no_such_dataset_xyz", data_dir=str(tmp_path))


def test_bad_max_examples_is_an_error_naming_the_value():
    with pytest.raises(TfdsSourceError, match="Received: max_examples=0"):
        load_tfds("tfds:imdb_reviews", max_examples=0)


def test_unknown_split_of_a_prepared_dataset_lists_the_splits():
    from types import SimpleNamespace

    from pipelines.tfds_source import _check_split

    builder = SimpleNamespace(info=SimpleNamespace(splits={"train": 1, "test": 1}))
    spec = "tfds:imdb_reviews:train[:5%]+valid"
    _check_split(
        "tfds:imdb_reviews:test[:10]", parse_tfds_spec("tfds:imdb_reviews:test[:10]"), builder
    )
    with pytest.raises(TfdsSourceError, match=r"no split 'valid'; splits: train, test"):
        _check_split(spec, parse_tfds_spec(spec), builder)
