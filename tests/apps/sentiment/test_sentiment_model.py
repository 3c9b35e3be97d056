"""The model builder, presets, custom layers and the robustness the issue asks for."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from apps.common.config import ConfigError, to_dict
from apps.sentiment import layers
from apps.sentiment.model import build_model, build_vectorizer
from apps.sentiment.presets import PRESETS

TRAIN_TEXTS = [
    "the movie was good",
    "the plot was not very good, but the acting was great",
    "it felt dull!",
    "the music seemed so boring?",
]
LONG = " ".join(["boring"] * 5000)
EDGE_TEXTS = [
    "",
    "   ",
    "très émouvant, ¡qué bueno! 映画",
    "loved it 😍🎬",
    " ".join(["good"] * 10000),
]


CLASSES = ["bad", "meh", "good"]


def _model(**overrides):
    config = dataclasses.replace(
        PRESETS["small"], **{"units": 4, "embedding_dim": 8, "max_length": 40, **overrides}
    )
    return build_model(config, build_vectorizer(config, TRAIN_TEXTS), CLASSES)


def test_presets_are_model_configs_that_round_trip_through_json():
    assert set(PRESETS) == {"small", "base"}
    for config in PRESETS.values():
        assert type(config)(**json.loads(json.dumps(to_dict(config)))) == config
    assert PRESETS["base"].units > PRESETS["small"].units
    assert not PRESETS["small"].uses_ngrams and PRESETS["base"].uses_ngrams


def test_a_preset_with_overrides_is_a_new_config():
    config = dataclasses.replace(PRESETS["base"], units=7, dense=[3])
    assert config.units == 7 and config.dense == (3,)
    assert config.pooling == PRESETS["base"].pooling and PRESETS["base"].dense == ()


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"units": 0}, "Invalid `units`: expected an integer >= 1. Received: units=0"),
        ({"units": True}, "Received: units=True"),
        ({"cell": "transformer"}, "Received: cell='transformer'"),
        ({"dropout": 1.0}, "Received: dropout=1.0"),
        ({"dense": [8, -1]}, "Received: dense=(8, -1)"),
        ({"standardize": "upper"}, "Received: standardize='upper'"),
    ],
)
def test_model_config_names_what_is_wrong(overrides, message):
    with pytest.raises(ConfigError) as info:
        dataclasses.replace(PRESETS["small"], **overrides)
    assert message in str(info.value)
    assert info.value.field == next(iter(overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        {"cell": "lstm", "pooling": "last"},
        {"cell": "gru", "pooling": "max", "num_layers": 2},
        {
            "cell": "simple_rnn",
            "pooling": "mean",
            "bidirectional": False,
            "dense": [4],
            "standardize": "none",
        },
    ],
    ids=["lstm-last", "gru-max-2layers", "simple_rnn-mean-unidirectional"],
)
def test_predictions_ignore_padding_and_batch_company(overrides):
    model = _model(**overrides)
    text = TRAIN_TEXTS[1]
    alone = model(tf.constant([text])).numpy()[0]
    with_long = model(tf.constant([LONG, text, ""])).numpy()[1]
    np.testing.assert_allclose(with_long, alone, atol=1e-5)
    probabilities = model(tf.constant(EDGE_TEXTS)).numpy()
    assert probabilities.shape == (len(EDGE_TEXTS), 3)
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)


def test_long_texts_are_cut_to_max_length():
    model = _model(max_length=5)
    base = " ".join(["good"] * 5)
    a = model(tf.constant([base + " dull dull dull"])).numpy()
    b = model(tf.constant([base])).numpy()
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_token_window_and_masked_pooling():
    window = layers.TokenWindow(3)
    assert window(tf.zeros((2, 0), tf.int64)).shape == (2, 1)
    assert window(tf.ones((1, 9), tf.int64)).shape == (1, 3)
    assert layers.TokenWindow.from_config(window.get_config()).max_length == 3
    with pytest.raises(ValueError, match="max_length=0"):
        layers.TokenWindow(0)
    x = tf.constant([[[1.0, -2.0], [5.0, -1.0]], [[7.0, 7.0], [9.0, 9.0]]])
    mask = tf.constant([[True, True], [False, False]])
    np.testing.assert_allclose(layers.MaskedPooling("max")(x, mask=mask), [[5, -1], [0, 0]])
    np.testing.assert_allclose(layers.MaskedPooling("mean")(x, mask=mask), [[3, -1.5], [0, 0]])


def test_standardizer_keeps_punctuation_as_tokens():
    out = layers.lower_split_punctuation(tf.constant(["Great!", "ÉMOUVANT, n'est-ce pas?"]))
    assert [s.decode().split() for s in out.numpy()] == [
        ["great", "!"],
        ["émouvant", ",", "n'est", "-", "ce", "pas", "?"],
    ]


def test_keras_file_loads_in_a_fresh_process_with_only_the_package(tmp_path):
    model = _model(cell="gru", pooling="mean")
    path = tmp_path / "model.keras"
    model.save(path)
    expected = model(tf.constant(TRAIN_TEXTS + EDGE_TEXTS[:4])).numpy()
    code = (
        "import json, sys, keras, tensorflow as tf\n"
        "import apps.sentiment.model\n"
        "model = keras.saving.load_model(sys.argv[1])\n"
        "texts = json.loads(sys.stdin.read())\n"
        "print(json.dumps(model(tf.constant(texts)).numpy().tolist()))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        input=json.dumps(TRAIN_TEXTS + EDGE_TEXTS[:4]),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    np.testing.assert_allclose(json.loads(proc.stdout.splitlines()[-1]), expected, atol=1e-5)
