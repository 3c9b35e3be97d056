"""The `Example:` sections of the public docstrings run as written."""

import doctest

import pytest

import seqcore.convert
import seqcore.gru
import seqcore.lstm
import seqcore.simple_rnn


@pytest.mark.parametrize(
    "module",
    [seqcore.lstm, seqcore.gru, seqcore.simple_rnn, seqcore.convert],
    ids=lambda module: module.__name__,
)
def test_docstring_examples_run(module):
    result = doctest.testmod(module)

    assert result.attempted > 0
    assert result.failed == 0
