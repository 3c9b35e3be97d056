"""Pretrained word vectors: GloVe and word2vec text formats, coverage, errors."""

import numpy as np
import pytest

from apps.sentiment.embeddings import EmbeddingsError, load_word_vectors

VOCAB = ["", "[UNK]", "good", "bad", "paris", "zzz"]


def test_glove_format_fills_found_words_and_randomises_the_rest(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text("good 1 2 3\nbad -1 -2 -3\nother 9 9 9\n", encoding="utf-8")
    vectors = load_word_vectors(path, VOCAB, seed=0)
    assert vectors.dim == 3 and vectors.found == 2 and vectors.words == 4
    assert vectors.coverage == 0.5
    np.testing.assert_array_equal(vectors.matrix[2], [1, 2, 3])
    np.testing.assert_array_equal(vectors.matrix[0], [0, 0, 0])
    assert np.all(vectors.matrix[5] != 0)
    again = load_word_vectors(path, VOCAB, seed=0)
    np.testing.assert_array_equal(again.matrix, vectors.matrix)


def test_word2vec_header_and_case_fallback(tmp_path):
    path = tmp_path / "w2v.txt"
    path.write_text("3 2\nParis 1 1\nGOOD 5 5\ngood 2 2\n", encoding="utf-8")
    vectors = load_word_vectors(path, VOCAB)
    np.testing.assert_array_equal(vectors.matrix[4], [1, 1])  # Paris -> paris
    np.testing.assert_array_equal(vectors.matrix[2], [2, 2])  # the exact form wins
    assert vectors.summary()["found"] == 2


@pytest.mark.parametrize(
    "content, message",
    [
        ("good 1 2\nbad 1\n", "line 2: 1 values, expected 2"),
        ("good 1 x\n", "line 1: a value is not a number"),
        ("", "no word vectors"),
        ("other 1 2\n", "none of the 4 vocabulary words"),
    ],
)
def test_bad_files_name_the_line(tmp_path, content, message):
    path = tmp_path / "vectors.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(EmbeddingsError, match=message):
        load_word_vectors(path, VOCAB)


def test_missing_file(tmp_path):
    with pytest.raises(EmbeddingsError, match="no such file"):
        load_word_vectors(tmp_path / "nope.txt", VOCAB)
