"""Typed configurations: frozen dataclasses whose fields carry their checks and CLI help.

Every app has two kinds of configuration (see the project guide):

- a **model config** (`apps/<app>/config.py: ModelConfig`): the architecture, saved inside
  the trained model by its `get_config()`; presets are instances of it;
- **run settings** (`DataConfig`, `RunConfig`): where the data is, epochs, batch size,
  paths, seed.

A field is declared with `setting(default, help, check=...)`. `Checked.__post_init__` runs
every field's check once, when the object is built, and raises `ConfigError` (a
`ValueError`) naming the field and the value, as `seqcore/_validation.py` does. The same
metadata gives the click options (`apps.common.cli_config`), so option names, choices and
defaults cannot drift from what the model accepts. Nothing here imports TensorFlow.

Example:

>>> import dataclasses
>>> @dataclasses.dataclass(frozen=True)
... class Tiny(Checked):
...     units: int = setting(8, "Hidden units.", check=integer(minimum=1))
...     cell: str = setting("gru", "Cell.", check=choice(("gru", "lstm")))
>>> Tiny(units=4).units
4
>>> Tiny(units=0)
Traceback (most recent call last):
...
apps.common.config.ConfigError: Invalid `units`: expected an integer >= 1. Received: units=0
>>> to_dict(Tiny()), from_dict(Tiny, {"units": 2, "cell": "lstm"}).cell
({'units': 8, 'cell': 'gru'}, 'lstm')
"""

import dataclasses
import pathlib


class ConfigError(ValueError):
    """A configuration value that fails its check; `field` names the setting."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


@dataclasses.dataclass(frozen=True)
class Check:
    """A check of one value: `test(value) -> bool` and what it expects, in words."""

    test: object
    expected: str
    choices: tuple = ()

    def __call__(self, name, value):
        if not self.test(value):
            raise ConfigError(
                name, f"Invalid `{name}`: expected {self.expected}. Received: {name}={value!r}"
            )


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def integer(minimum=None):
    """An int (not a bool), at least `minimum` when given."""
    expected = "an integer" + ("" if minimum is None else f" >= {minimum}")
    return Check(lambda v: _is_int(v) and (minimum is None or v >= minimum), expected)


def number(low=None, high=None, low_open=False, high_open=False):
    """An int or float in the interval `[low, high]` (ends open when asked)."""

    def inside(v):
        if not _is_number(v) or v != v:  # NaN fails every comparison
            return False
        above = low is None or (v > low if low_open else v >= low)
        below = high is None or (v < high if high_open else v <= high)
        return above and below

    if low is not None and high is not None:
        expected = f"a number in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    elif low is not None:
        expected = f"a number {'>' if low_open else '>='} {low}"
    else:
        expected = "a number"
    return Check(inside, expected)


def choice(names):
    """One of `names` (a tuple: the one list of valid names, used by the CLI too)."""
    names = tuple(names)
    return Check(lambda v: v in names, f"one of {', '.join(map(str, names))}", names)


def boolean():
    """`True` or `False`."""
    return Check(lambda v: isinstance(v, bool), "true or false")


def optional(check):
    """`None`, or a value that passes `check`."""
    return Check(lambda v: v is None or check.test(v), f"{check.expected} (or none)",
                 check.choices)  # fmt: skip


def either(literal, check):
    """The string `literal`, or a value that passes `check` (e.g. `"auto"` or a number)."""
    return Check(lambda v: v == literal or check.test(v), f'"{literal}" or {check.expected}')


def integers(minimum=1):
    """A list or tuple of ints >= `minimum` (may be empty)."""
    return Check(
        lambda v: isinstance(v, (list, tuple)) and all(_is_int(x) and x >= minimum for x in v),
        f"a list of integers >= {minimum}",
    )


def setting(default, help, check=None, **cli):
    """A dataclass field with its help text, its check and CLI hints.

    Args:
        default: the default value (a list becomes a tuple: configs are frozen).
        help: the option's help text.
        check: a `Check` run by `Checked.__post_init__`.
        **cli: hints for `apps.common.cli_config`: `option` (the option name when it is
            not `--field-name`), `flag` (the off switch of a bool, e.g. `--unidirectional`),
            `param` (a click type), `cli=False` (no option for this field).
    """
    if isinstance(default, list):
        default = tuple(default)
    return dataclasses.field(default=default, metadata={"help": help, "check": check, **cli})


class Checked:
    """Mixin for frozen dataclasses: every field's `check` runs once, when built.

    A subclass adds cross-field checks in `check_fields()`, raising `ConfigError`.
    """

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, list):  # a JSON list read back: keep configs hashable
                object.__setattr__(self, field.name, tuple(value))
            check = field.metadata.get("check")
            if check is not None:
                check(field.name, getattr(self, field.name))
        self.check_fields()

    def check_fields(self):
        """Cross-field checks of a subclass (none here)."""


def _plain(value):
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value):
        return to_dict(value)
    return value


def to_dict(config):
    """A JSON-ready dict of a config dataclass (paths as strings, tuples as lists)."""
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def from_dict(cls, values):
    """`cls(**values)`, with an unknown key reported as a `ConfigError` naming it."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            unknown[0],
            f"Unknown {cls.__name__} setting(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(known))}",
        )
    return cls(**values)
