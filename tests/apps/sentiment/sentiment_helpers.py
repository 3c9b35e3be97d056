"""Helpers shared by the sentiment tests (imported by conftest.py and the test modules)."""

from click.testing import CliRunner

from apps.cli import main

# The "base" preset shrunk: the hybrid (recurrent + n-gram branch, token ratios) end to end.
TINY_MODEL = ["--preset", "base", "--units", "4", "--embedding-dim", "8", "--max-length", "50"]
TINY_RUN = ["--limit", "60", "--epochs", "2", "--batch-size", "16", "--seed", "3"]


def invoke(*args, input=None):
    """Runs `seqapps ARGS` in-process; returns click's result (stdout and stderr apart)."""
    return CliRunner().invoke(main, [str(a) for a in args], input=input)
