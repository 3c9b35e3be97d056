"""The `Example:` sections of the apps' public docstrings run as written."""

import doctest

import pytest

import apps.common.export
import apps.common.options
import apps.common.progress
import apps.common.reports
import apps.sentiment.baseline
import apps.sentiment.config
import apps.sentiment.data
import apps.sentiment.embeddings
import apps.sentiment.evaluate
import apps.sentiment.layers
import apps.sentiment.model
import apps.sentiment.predict

MODULES = [
    apps.common.export,
    apps.common.options,
    apps.common.progress,
    apps.common.reports,
    apps.sentiment.baseline,
    apps.sentiment.config,
    apps.sentiment.data,
    apps.sentiment.embeddings,
    apps.sentiment.evaluate,
    apps.sentiment.layers,
    apps.sentiment.model,
    apps.sentiment.predict,
]


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module)

    assert result.attempted > 0
    assert result.failed == 0
