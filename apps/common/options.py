"""Click options that every app's commands share, defined once (as mlflow's `cli_args`).

Each name here is a decorator (or a factory of one) for a command. Options are kebab-case
with `show_default=True`; paths are `click.Path(path_type=pathlib.Path)`. No TensorFlow
import here: `--help` must stay fast.

Example:

>>> import click
>>> @click.command()
... @json_option
... @seed_option()
... def cmd(as_json, seed):
...     click.echo(f"{as_json} {seed}")
>>> from click.testing import CliRunner
>>> CliRunner().invoke(cmd, ["--json", "--seed", "3"]).output
'True 3\\n'
"""

import pathlib

import click


def compose(*decorators):
    """One decorator applying `decorators` in the order listed (first = first option)."""

    def apply(function):
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object on stdout (progress and logs go to stderr).",
)

debug_option = click.option(
    "--debug",
    is_flag=True,
    help="Show the full traceback of an error instead of one line.",
)


def data_option(
    required=True,
    help="Data source: tfds:NAME[:SPLIT], synthetic:NAME, a folder or a CSV/TSV file.",
):
    """`--data SRC` (a string: `tfds:` and `synthetic:` specs are not paths)."""
    return click.option("--data", "data", required=required, metavar="SRC", help=help)


def seed_option(default=0, help="Seed of the split, the initial weights and the shuffle."):
    """`--seed N` (an int >= 0)."""
    return click.option(
        "--seed", type=click.IntRange(min=0), default=default, show_default=True, help=help
    )


def epochs_option(default):
    """`--epochs N` (the most training epochs)."""
    return click.option(
        "--epochs",
        type=click.IntRange(min=1),
        default=default,
        show_default=True,
        help="The most training epochs.",
    )


def batch_size_option(default, help="Examples per batch."):
    """`--batch-size N`."""
    return click.option(
        "--batch-size", type=click.IntRange(min=1), default=default, show_default=True, help=help
    )


def out_option(default, help="Folder to write the model, metrics and plots to."):
    """`--out DIR`."""
    return click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=pathlib.Path),
        default=default,
        show_default=True,
        help=help,
    )


def model_option(help="A training folder (model.keras) or a SavedModel folder."):
    """`--model DIR` (must exist)."""
    return click.option(
        "--model",
        "model_path",
        type=click.Path(exists=True, path_type=pathlib.Path),
        required=True,
        help=help,
    )


class OptionalFloat(click.ParamType):
    """A float, or `none` / `off` / `0` for `None` (e.g. `--clip-norm none`).

    Only converts: the range is checked by the config dataclass the value goes into.
    """

    name = "float|none"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, float):
            return value
        text = str(value).strip().lower()
        if text in ("none", "off", "0", "0.0"):
            return None
        try:
            return float(text)
        except ValueError:
            self.fail(f"{value!r} is not a number or 'none'", param, ctx)


class IntList(click.ParamType):
    """Comma-separated integers (e.g. `--dense 64,32`); `none` or empty is an empty list.

    Only converts: the config dataclass the value goes into checks the numbers.
    """

    name = "ints"

    def convert(self, value, param, ctx):
        if isinstance(value, (list, tuple)):
            return list(value)
        text = str(value).strip().lower()
        if text in ("", "none"):
            return []
        try:
            return [int(part) for part in text.split(",")]
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of integers", param, ctx)
