"""Shared fixtures of the sentiment tests: one tiny trained model and its export per worker.

Training runs once per pytest worker (session scope) on 60 synthetic sentences, preset
"base" (the hybrid) shrunk to 4 units, 2 epochs: a real model with real files, in a few seconds.
"""

import json

import pytest
from sentiment_helpers import TINY_MODEL, TINY_RUN, invoke


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """`(folder, train --json summary)` of a tiny model trained on synthetic:sentiment."""
    out = tmp_path_factory.mktemp("sentiment_run")
    result = invoke(
        "sentiment", "train", "--data", "synthetic:sentiment", *TINY_MODEL, *TINY_RUN,
        "--out", out, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


@pytest.fixture(scope="session")
def exported(trained, tmp_path_factory):
    """`(versions folder, export --json summary)`: the tiny model exported once, checked
    in a fresh process."""
    folder, _ = trained
    to = tmp_path_factory.mktemp("saved_models") / "sentiment"
    result = invoke("sentiment", "export", "--model", folder, "--to", to, "--json")
    assert result.exit_code == 0, result.output
    return to, json.loads(result.stdout)
