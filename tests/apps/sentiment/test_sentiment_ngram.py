"""The n-gram branch of the hybrid model: features, the NB-weighted fit, the mixture."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from apps.common.config import ConfigError
from apps.sentiment import layers, ngram
from apps.sentiment.model import build_hybrid, build_model, build_vectorizer
from apps.sentiment.presets import PRESETS

TEXTS = [
    "a good film",
    "very good acting",
    "good fun , good music",
    "a bad film",
    "very bad plot",
    "dull and bad !",
    "not good at all",
    "surprisingly good",
]
LABELS = np.array([1, 1, 1, 0, 0, 0, 0, 1])


def test_char_ngrams_stay_inside_words_and_mark_their_ends():
    grams = layers.char_wb_ngrams(tf.constant(["ab cd", "", "é"])).to_list()
    first = [g.decode() for g in grams[0]]
    assert {" a", "ab", "b ", " ab", "ab ", " ab "} <= set(first)
    assert not any("b c" in g for g in first)  # nothing spans the space between words
    assert grams[1] == []
    assert {g.decode() for g in grams[2]} == {" é", "é ", " é "}


def test_features_are_binary_and_ignore_out_of_vocabulary_ngrams():
    vectorizers = ngram.ngram_vectorizers(TEXTS, word_ngrams=2, char_ngrams=False)
    x = ngram.features(vectorizers, ["good good film", "zzz qqq"])
    vocabulary = vectorizers[0].get_vocabulary()
    row = x[0].toarray().ravel()
    assert set(np.unique(row)) == {0.0, 1.0}
    assert row[vocabulary.index("good")] == 1 and row[vocabulary.index("good film")] == 1
    assert x[1].nnz == 0  # only unknown words: no evidence at all


def test_log_count_ratios_match_their_definition():
    x = sparse.csr_matrix(np.array([[1, 0], [1, 1], [0, 1]], dtype=np.float32))
    r = ngram.log_count_ratios(x, np.array([1, 1, 0]), num_classes=2, alpha=1.0)
    p = np.array([1 + 2, 1 + 1])
    q = np.array([1 + 0, 1 + 1])
    np.testing.assert_allclose(r[:, 0], np.log(p / p.sum()) - np.log(q / q.sum()), rtol=1e-6)
    assert ngram.log_count_ratios(x, np.array([0, 1, 2]), num_classes=3).shape == (2, 3)


def test_two_class_fit_gives_the_logistic_regression_probabilities():
    vectorizers = ngram.ngram_vectorizers(TEXTS, word_ngrams=2)
    x = ngram.features(vectorizers, TEXTS)
    fit = ngram.fit_nb_logistic(x, LABELS, num_classes=2, C=1.0)
    r = ngram.log_count_ratios(x, LABELS, 2)[:, 0]
    reference = LogisticRegression(C=1.0, max_iter=3000).fit(x @ sparse.diags(r), LABELS)
    expected = reference.predict_proba(x @ sparse.diags(r))
    np.testing.assert_allclose(ngram.probabilities(vectorizers, fit, TEXTS), expected, atol=1e-4)


def test_multiclass_fit_is_one_vs_rest_and_learns_the_classes():
    texts = ["red red", "red one", "blue blue", "blue one", "green green", "green one"]
    labels = np.array([0, 0, 1, 1, 2, 2])
    vectorizers = ngram.ngram_vectorizers(texts, word_ngrams=1, char_ngrams=False)
    fit = ngram.fit_nb_logistic(ngram.features(vectorizers, texts), labels, 3, C=10.0)
    assert fit["kernel"].shape == (vectorizers[0].vocabulary_size(), 3)
    p = ngram.probabilities(vectorizers, fit, ["red", "blue", "green"])
    assert p.argmax(axis=1).tolist() == [0, 1, 2]


def test_choose_weight_prefers_the_better_calibrated_branch():
    ids = np.array([0, 1, 0, 1])
    good = np.array([[0.9, 0.1], [0.1, 0.9], [0.8, 0.2], [0.2, 0.8]])
    bad = good[:, ::-1]
    weight, losses = ngram.choose_weight(bad, good, ids)
    assert weight == 1.0 and len(losses) == 11
    assert ngram.choose_weight(good, bad, ids)[0] == 0.0


@pytest.fixture(scope="module")
def hybrid():
    config = dataclasses.replace(PRESETS["base"], units=4, embedding_dim=8, max_length=20)
    vectorizer = build_vectorizer(config, TEXTS)
    ratios = ngram.token_log_ratios(vectorizer, TEXTS, LABELS, 2)
    recurrent = build_model(config, vectorizer, ["neg", "pos"], token_ratios=ratios)
    vectorizers = ngram.ngram_vectorizers(TEXTS)
    fit = ngram.fit_nb_logistic(ngram.features(vectorizers, TEXTS), LABELS, 2)
    return recurrent, vectorizers, fit, build_hybrid(recurrent, vectorizers, fit, 0.7)


def test_token_ratios_are_a_frozen_feature_of_the_recurrent_branch(hybrid):
    recurrent, *_ = hybrid
    layer = recurrent.get_layer("token_ratios")
    assert not layer.trainable
    vocabulary = recurrent.get_layer(index=1).get_vocabulary()
    table = layer.get_weights()[0]
    assert table[vocabulary.index("good"), 0] > 0 > table[vocabulary.index("bad"), 0]
    np.testing.assert_array_equal(table[:2], 0.0)  # padding and out-of-vocabulary


def test_hybrid_averages_the_two_branches(hybrid):
    recurrent, vectorizers, fit, model = hybrid
    texts = ["a good film", "very bad", "", "😍 très bon"]
    expected = 0.3 * recurrent(tf.constant(texts)).numpy()
    expected += 0.7 * ngram.probabilities(vectorizers, fit, texts)
    np.testing.assert_allclose(model(tf.constant(texts)).numpy(), expected, atol=1e-5)
    assert model.layers[-1].name == "probabilities"


def test_hybrid_ignores_padding_and_batch_company(hybrid):
    model = hybrid[3]
    text = "not good at all"
    alone = model(tf.constant([text])).numpy()[0]
    crowded = model(tf.constant([" ".join(["bad"] * 5000), text, ""])).numpy()[1]
    np.testing.assert_allclose(crowded, alone, atol=1e-5)
    edge = model(tf.constant(["", "   ", "¡qué bueno! 映画", "😍🎬", " ".join(["good"] * 10000)]))
    assert np.all(np.isfinite(edge)) and np.allclose(np.sum(edge, axis=1), 1.0, atol=1e-5)


def test_hybrid_settings_are_checked():
    base = PRESETS["base"]
    with pytest.raises(ConfigError, match="Received: ngram_weight=1.5"):
        dataclasses.replace(base, ngram_weight=1.5)
    with pytest.raises(ConfigError, match="Received: word_ngrams=0"):
        dataclasses.replace(base, word_ngrams=0, char_ngrams=False)
    with pytest.raises(ConfigError, match="Received: ngram_c=0"):
        dataclasses.replace(base, ngram_c=0)


def test_hybrid_keras_file_loads_in_a_fresh_process_with_only_the_model_module(hybrid, tmp_path):
    model = hybrid[3]
    path = tmp_path / "hybrid.keras"
    model.save(path)
    texts = ["a good film", "not good at all", "", "😍 très bon"]
    code = (
        "import json, sys, keras, tensorflow as tf\n"
        "import apps.sentiment.model\n"
        "model = keras.saving.load_model(sys.argv[1])\n"
        "print(json.dumps(model(tf.constant(json.loads(sys.stdin.read()))).numpy().tolist()))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    expected = model(tf.constant(texts)).numpy()
    np.testing.assert_allclose(json.loads(proc.stdout.splitlines()[-1]), expected, atol=1e-5)
