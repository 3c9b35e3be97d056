"""The `Example:` sections of the apps' docstrings run as written (every module of apps/)."""

import doctest
import importlib
import pkgutil

import pytest

import apps

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(apps.__path__, prefix="apps.")
    if not info.ispkg and info.name not in ("apps.serving_check",)
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_the_skeleton_modules_have_examples():
    for name in ("apps.common.config", "apps.common.cli_config", "apps.common.staging",
                 "apps.sentiment.config", "apps.sentiment.presets"):  # fmt: skip
        assert doctest.testmod(importlib.import_module(name)).attempted > 0, name
