"""Pretrained word vectors for the embedding layer (GloVe or word2vec text format).

`load_word_vectors(path, vocabulary)` reads a text file of one `word v1 ... vD` per line
(GloVe), optionally after a `COUNT D` header line (word2vec `.txt`/`.vec`), and returns a
`(len(vocabulary), D)` matrix: the file's vector for each vocabulary word found (exactly,
else by its lower-case form), random vectors (normal, with the found vectors' std) for the
words not found and for the OOV token, zeros for padding (id 0). Only the vocabulary's
vectors are kept in memory, so large files work. Binary word2vec files are not read.

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "vectors.txt"
>>> _ = path.write_text("good 1 0\\nbad 0 1\\n")
>>> vectors = load_word_vectors(path, ["", "[UNK]", "good", "film"], seed=0)
>>> vectors.matrix.shape, vectors.found, vectors.coverage
((4, 2), 1, 0.5)
>>> vectors.matrix[2].tolist()
[1.0, 0.0]
"""

import dataclasses
import pathlib

import numpy as np


class EmbeddingsError(ValueError):
    """A word-vector file that cannot be read; the message names the file and line."""


@dataclasses.dataclass(frozen=True, eq=False)
class WordVectors:
    """Vectors for a vocabulary.

    Attributes:
        matrix: float32 array `(vocabulary size, dim)`.
        dim: vector size of the file.
        found: vocabulary words (padding and OOV excluded) with a vector in the file.
        words: vocabulary words (padding and OOV excluded).
        path: the file read.
    """

    matrix: np.ndarray
    dim: int
    found: int
    words: int
    path: str

    @property
    def coverage(self):
        """Fraction of the vocabulary words found in the file."""
        return self.found / self.words if self.words else 0.0

    def summary(self):
        """A JSON-ready dict: path, dim, found, words, coverage."""
        return {
            "path": self.path,
            "dim": self.dim,
            "found": self.found,
            "words": self.words,
            "coverage": self.coverage,
        }


def _special(word):
    return word in ("", "[UNK]")


def read_vectors(path, words, encoding="utf-8"):
    """Reads the vectors of `words` (a set) from the text file `path`.

    A file word that is not in `words` but whose lower-case form is gives the vector of that
    form, unless the form itself is in the file.

    Returns:
        `(vectors, dim)`: a dict word -> float32 vector, and the file's vector size.

    Raises:
        EmbeddingsError: see `load_word_vectors`.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise EmbeddingsError(f"{path}: no such file (--embeddings)")
    exact, lowered, dim = {}, {}, None
    with path.open("r", encoding=encoding, errors="strict", newline="\n") as f:
        try:
            for number, line in enumerate(f, 1):
                fields = line.rstrip("\n").rstrip("\r").rstrip(" ").split(" ")
                if number == 1 and len(fields) == 2 and all(x.isdigit() for x in fields):
                    dim = int(fields[1])  # word2vec header: count and dimension
                    continue
                if len(fields) < 2:
                    if line.strip():
                        raise EmbeddingsError(f"{path}, line {number}: expected a word and values")
                    continue
                if dim is None:
                    dim = len(fields) - 1
                if len(fields) - 1 != dim:
                    raise EmbeddingsError(
                        f"{path}, line {number}: {len(fields) - 1} values, expected {dim}"
                    )
                word = fields[0]
                target, key = (exact, word) if word in words else (lowered, word.lower())
                if key not in words or key in target:
                    continue
                try:
                    target[key] = np.asarray(fields[1:], dtype=np.float32)
                except ValueError:
                    raise EmbeddingsError(
                        f"{path}, line {number}: a value is not a number"
                    ) from None
        except UnicodeDecodeError as e:
            raise EmbeddingsError(
                f"{path}: cannot decode the file as {encoding} ({e.reason})"
            ) from None
    if dim is None:
        raise EmbeddingsError(f"{path}: no word vectors in the file")
    return {**lowered, **exact}, dim


def vectors_for_vocabulary(vectors, dim, vocabulary, seed=0, path=""):
    """Builds the `WordVectors` of `vocabulary` from `read_vectors`'s `(vectors, dim)`.

    Raises:
        EmbeddingsError: no vocabulary word has a vector.
    """
    index = {word: i for i, word in enumerate(vocabulary) if not _special(word)}
    known = [word for word in index if word in vectors]
    if not known:
        raise EmbeddingsError(f"{path}: none of the {len(index)} vocabulary words has a vector")
    rng = np.random.default_rng(seed)
    scale = float(np.stack([vectors[w] for w in known]).std()) or 0.1
    matrix = rng.normal(0.0, scale, size=(len(vocabulary), dim)).astype(np.float32)
    for word in known:
        matrix[index[word]] = vectors[word]
    if len(vocabulary) and vocabulary[0] == "":
        matrix[0] = 0.0
    return WordVectors(matrix, dim, len(known), len(index), str(path))


def load_word_vectors(path, vocabulary, seed=0, encoding="utf-8"):
    """Reads the vectors of `vocabulary` from the text file `path`.

    Args:
        path: a GloVe or word2vec text file.
        vocabulary: the words by id (`TextVectorization.get_vocabulary()`: `""` for padding,
            `"[UNK]"` for OOV first).
        seed: seed of the random vectors of words not found.
        encoding: the file's text encoding.

    Returns:
        A `WordVectors`.

    Raises:
        EmbeddingsError: a missing or empty file, a line with a wrong number of values or
            a value that is not a number (file and line named), no vocabulary word found.
    """
    words = {word for word in vocabulary if not _special(word)}
    vectors, dim = read_vectors(path, words, encoding=encoding)
    return vectors_for_vocabulary(vectors, dim, vocabulary, seed=seed, path=path)
