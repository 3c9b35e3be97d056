"""Every third-party package the installed code imports is declared in pyproject.toml.

A package that arrives only as another one's dependency (scipy through scikit-learn) can
vanish when that one changes; what our code imports, we declare.
"""

import ast
import importlib.metadata
import pathlib
import re
import sys

import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("seqcore", "pipelines", "apps")


def _declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [re.split(r"[\s<>=!~\[;]", spec, maxsplit=1)[0] for spec in project["dependencies"]]
    return {_normal(name) for name in names}


def _normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules():
    """Top-level module name -> first file that imports it."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_imported_third_party_package_is_declared():
    distributions = importlib.metadata.packages_distributions()
    declared = _declared()
    missing = {}
    for module, where in _imported_modules().items():
        if module in sys.stdlib_module_names or module in PACKAGES:
            continue
        providers = {_normal(d) for d in distributions.get(module, ())}
        assert providers, f"{module!r} (imported by {where}) is not installed"
        if not providers & declared:
            missing[module] = (sorted(providers), where)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_scipy_is_declared():
    assert "scipy" in _declared()
