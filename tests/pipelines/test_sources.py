"""`pipelines.sources.load_source`: one entry point for every `--data SRC`."""

import pathlib
import wave

import numpy as np
import pytest

from pipelines.audio_source import AudioExamples
from pipelines.series_source import Series
from pipelines.sources import SourceError, load_source
from pipelines.synthetic_tasks import WaveExamples
from pipelines.text_source import TextExamples


def _wav(path, rate=8000):
    samples = (np.sin(np.arange(800) / 5.0) * 3000).astype("<i2")
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(samples.tobytes())


@pytest.mark.parametrize(
    "spec, domain, kind",
    [
        ("synthetic:sentiment", "text", TextExamples),
        ("synthetic:speech", "audio", WaveExamples),
        ("synthetic:forecast", "series", Series),
    ],
)
def test_synthetic_sources_by_domain(spec, domain, kind):
    assert isinstance(load_source(spec, domain, n=30, seed=1), kind)


def test_paths_go_to_the_reader_of_the_domain(tmp_path):
    (tmp_path / "t.tsv").write_text("text\tlabel\ngood\tpos\nbad\tneg\n")
    texts = load_source(tmp_path / "t.tsv", "text", text_column="text", label_column="label")
    assert texts.labels == ["pos", "neg"]

    (tmp_path / "s.csv").write_text("a,b\n1,2\n3,4\n")
    assert load_source(tmp_path / "s.csv", "series").values.shape == (2, 2)

    flat = tmp_path / "flat"
    flat.mkdir()
    for name in ("0_ann_0.wav", "1_bob_0.wav"):
        _wav(flat / name)
    audio = load_source(flat, "audio", label_pattern=r"^(\d)_", group_pattern=r"_([a-z]+)_")
    assert isinstance(audio, AudioExamples) and list(audio.groups) == ["ann", "bob"]

    folders = tmp_path / "folders"
    for label in ("yes", "no"):
        (folders / label).mkdir(parents=True)
        _wav(folders / label / "a.wav")
    assert sorted(load_source(folders, "audio").class_names) == ["no", "yes"]


def test_unset_options_are_ignored(tmp_path):
    (tmp_path / "s.csv").write_text("a\n1\n2\n")
    assert load_source(tmp_path / "s.csv", "series", time_column=None).values.shape == (2, 1)


@pytest.mark.parametrize(
    "spec, domain, options, words",
    [
        ("synthetic:speech", "text", {}, ["audio data", "text app"]),
        ("tfds:imdb_reviews", "audio", {}, ["text data", "audio app"]),
        ("synthetic:sentiment", "text", {"fill": "ffill"}, ["fill", "do not apply"]),
        ("synthetic:sentiment", "video", {}, ["unknown domain", "video"]),
    ],
)
def test_errors_name_what_is_wrong(spec, domain, options, words):
    with pytest.raises(SourceError) as info:
        load_source(spec, domain, **options)
    for word in words:
        assert word in str(info.value)


def test_missing_path_is_named(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(SourceError, match="nope.csv: no such file"):
        load_source(missing, "series")


def test_options_the_series_reader_lacks_are_named(tmp_path):
    (tmp_path / "s.csv").write_text("a\n1\n")
    with pytest.raises(SourceError, match="label_pattern"):
        load_source(pathlib.Path(tmp_path / "s.csv"), "series", label_pattern="x")
