"""seqcore reaches private Keras and TensorFlow APIs through `seqcore/_private.py` only."""

import ast
import pathlib

import pytest

import seqcore

PACKAGE = pathlib.Path(seqcore.__file__).parent
PRIVATE_PREFIXES = ("keras.src", "tensorflow.python", "keras._tf_keras", "tf_keras")
DOOR = "_private.py"


def _private_imports(path):
    """`(line, module)` of every import of a private module in `path`, including
    `importlib.import_module("...")` with a literal name and `tf.python` attributes."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            names = [a.value for a in node.args if isinstance(a, ast.Constant)]
        elif isinstance(node, ast.Attribute) and node.attr in ("src", "python"):
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("keras", "tf", "tensorflow"):
                names = [f"{base.id}.{node.attr}"]
        for name in names:
            if isinstance(name, str) and name.startswith((*PRIVATE_PREFIXES, "tf.python")):
                found.append((node.lineno, name))
                break
    return found


def test_no_seqcore_module_but_the_door_imports_a_private_path():
    offenders = {
        str(path.relative_to(PACKAGE)): _private_imports(path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != DOOR
    }
    offenders = {name: found for name, found in offenders.items() if found}
    assert not offenders, (
        f"private Keras/TensorFlow imports outside seqcore/{DOOR} (add the name to the door "
        f"with what it is for and its public alternative): {offenders}"
    )


def test_the_door_holds_private_imports_and_documents_every_name():
    from seqcore import _private

    assert _private_imports(PACKAGE / DOOR), "the door imports nothing private"
    source = (PACKAGE / DOOR).read_text()
    for name in _private.__all__:
        assert hasattr(_private, name), name
        assert "public alternative" in " ".join(_documentation(source, name).lower().split()), name


def _documentation(source, name):
    """The docstring after `name = ...` or of `def name`."""
    tree = ast.parse(source)
    body = tree.body
    for index, node in enumerate(body):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_docstring(node) or ""
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            following = body[index + 1] if index + 1 < len(body) else None
            if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
                return following.value.value
    return ""


@pytest.mark.parametrize(
    "snippet",
    [
        "from keras.src import backend\n",
        "import tensorflow.python.ops\n",
        "import importlib\nm = importlib.import_module('keras.src.backend.tensorflow.rnn')\n",
        "import tensorflow as tf\nx = tf.python.ops\n",
    ],
)
def test_the_check_catches_each_form_of_private_import(tmp_path, snippet):
    path = tmp_path / "module.py"
    path.write_text(snippet)
    assert _private_imports(path)


def test_the_check_passes_public_imports(tmp_path):
    path = tmp_path / "module.py"
    path.write_text("import keras\nfrom keras import tree, ops\nimport tensorflow as tf\n")
    assert _private_imports(path) == []
