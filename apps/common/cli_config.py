"""Click options derived from config dataclasses, and commands that receive config objects.

`options(cls)` turns the fields of a config dataclass (`apps.common.config.setting`) into
click options: `--field-name` (or the field's `option`), the field's help, its default
(`show_default`), a `click.Choice` of its `choice(...)` names, `--x/--no-x` for a bool.
`presets(PRESETS)` does the same for a model config whose defaults come from a preset:
`--preset NAME` plus one option per field that overrides the preset's value.

`with_configs(data=DataConfig, model=presets(PRESETS), run=RunConfig)` then wraps a
command: click's keyword arguments are gathered into those objects, so the command body
receives `data`, `model`, `run` and its own few options. Values are checked once, by the
dataclass; a failed check is click's usage error (exit code 2) naming the option. Options
that make each other meaningless (`exclusive=[("cv", "test_fraction")]`) are a
`click.UsageError` when both are given.

Example:

>>> import dataclasses
>>> from click.testing import CliRunner
>>> from apps.common.config import Checked, integer, setting
>>> @dataclasses.dataclass(frozen=True)
... class Run(Checked):
...     epochs: int = setting(3, "Epochs.", check=integer(minimum=1))
>>> @click.command()
... @with_configs(run=Run)
... def fit(run):
...     click.echo(f"epochs={run.epochs}")
>>> CliRunner().invoke(fit, ["--epochs", "5"]).output
'epochs=5\\n'
>>> result = CliRunner().invoke(fit, ["--epochs", "0"])
>>> result.exit_code, result.output.splitlines()[-1]
(2, "Error: Invalid value for '--epochs': expected an integer >= 1. Received: epochs=0")
"""

import dataclasses
import functools
import pathlib
import typing

import click
from click.core import ParameterSource

from apps.common.config import ConfigError


def option_name(field):
    """The option of a config field: its `option` hint, else `--field-name`."""
    return field.metadata.get("option") or "--" + field.name.replace("_", "-")


def _param_type(field):
    if "param" in field.metadata:
        return field.metadata["param"]
    check = field.metadata.get("check")
    choices = getattr(check, "choices", None)
    if choices:
        return click.Choice(choices)
    args = [a for a in typing.get_args(field.type) if a is not type(None)] or [field.type]
    kind = args[0]
    if kind is pathlib.Path:
        return click.Path(path_type=pathlib.Path)
    return {int: click.INT, float: click.FLOAT, str: click.STRING, bool: click.BOOL}.get(
        kind, click.STRING
    )


def _is_switch(field):
    return field.type is bool or "flag" in field.metadata


def field_option(field, default=dataclasses.MISSING, show_default=True):
    """The click option of one config field (`default`: the field's own unless given)."""
    default = field.default if default is dataclasses.MISSING else default
    name = option_name(field)
    if isinstance(default, tuple):
        default = ",".join(map(str, default)) if default else "none"
    if _is_switch(field) and "param" not in field.metadata:
        off = field.metadata.get("flag") or "--no-" + name[2:]
        return click.option(
            f"{name}/{off}", field.name, default=default, show_default=show_default,
            help=field.metadata["help"],
        )  # fmt: skip
    return click.option(
        name,
        field.name,
        type=_param_type(field),
        default=default,
        show_default=show_default,
        help=field.metadata["help"],
    )


def _cli_fields(cls):
    return [f for f in dataclasses.fields(cls) if f.metadata.get("cli", True)]


@dataclasses.dataclass(frozen=True)
class ConfigOptions:
    """The options of one config dataclass, and how to build it from click's kwargs.

    Attributes:
        cls: the config dataclass.
        only: the fields that get options (default: every field with `cli` not False);
            the others keep their defaults.
        unless_given: a field name; when click gives it as `None`, `build` returns `None`
            (an optional config, e.g. `--data` of `evaluate`).
    """

    cls: type
    only: tuple = ()
    unless_given: str | None = None

    def fields(self):
        fields = _cli_fields(self.cls)
        return [f for f in fields if f.name in self.only] if self.only else fields

    def decorate(self, command):
        for field in reversed(self.fields()):
            command = field_option(field)(command)
        return command

    def build(self, kwargs):
        names = {f.name for f in self.fields()}
        names |= {f.name for f in dataclasses.fields(self.cls) if f.name in kwargs}
        values = {name: kwargs.pop(name) for name in names}
        if self.unless_given and values.get(self.unless_given) is None:
            return None
        return self.cls(**values)


@dataclasses.dataclass(frozen=True)
class PresetOptions(ConfigOptions):
    """`--preset NAME` and an override option per field of the presets' dataclass."""

    presets: dict = dataclasses.field(default_factory=dict)
    default: str = ""

    def decorate(self, command):
        for field in reversed(self.fields()):
            command = field_option(field, None, show_default="the preset's")(command)
        return click.option(
            "--preset",
            type=click.Choice(tuple(self.presets)),
            default=self.default,
            show_default=True,
            help="Model preset; the options below override its settings.",
        )(command)

    def build(self, kwargs):
        preset = self.presets[kwargs["preset"]]  # the command keeps the name, for reports
        given = {f.name: kwargs.pop(f.name) for f in self.fields()}
        return dataclasses.replace(preset, **{k: v for k, v in given.items() if v is not None})


def options(cls, only=(), unless_given=None):
    """`ConfigOptions` of a config dataclass (see its attributes)."""
    return ConfigOptions(cls, tuple(only), unless_given)


def presets(presets_by_name, default=None):
    """`PresetOptions` of a model config whose presets are `presets_by_name`."""
    cls = type(next(iter(presets_by_name.values())))
    return PresetOptions(
        cls, presets=dict(presets_by_name), default=default or next(iter(presets_by_name))
    )


def _spec(value):
    return value if isinstance(value, ConfigOptions) else options(value)


def _names(specs):
    return {f.name: option_name(f) for s in specs.values() for f in dataclasses.fields(s.cls)}


def check_exclusive(ctx, pairs, names):
    """`click.UsageError` when both parameters of a pair in `pairs` were given."""
    for first, second in pairs:
        given = [
            p for p in (first, second) if ctx.get_parameter_source(p) != ParameterSource.DEFAULT
        ]
        if len(given) == 2:
            a, b = (names.get(p, "--" + p.replace("_", "-")) for p in given)
            raise click.UsageError(f"{a} and {b} do not go together: {a} makes {b} meaningless")


def with_configs(exclusive=(), **specs):
    """Decorator: adds the options of `specs` and passes built config objects instead.

    Args:
        exclusive: pairs of field names that must not be given together.
        **specs: argument name -> a config dataclass, or `presets(...)` / `options(...)`.
    """
    specs = {name: _spec(spec) for name, spec in specs.items()}
    names = _names(specs)

    def decorator(command):
        @functools.wraps(command)
        def wrapper(**kwargs):
            ctx = click.get_current_context()
            check_exclusive(ctx, exclusive, names)
            built = {}
            for arg, spec in specs.items():
                try:
                    built[arg] = spec.build(kwargs)
                except ConfigError as exc:
                    raise click.BadParameter(
                        str(exc).removeprefix(f"Invalid `{exc.field}`: "),
                        param_hint=f"'{names.get(exc.field, exc.field)}'",
                    ) from exc
            return command(**built, **kwargs)

        own = getattr(command, "__click_params__", [])
        wrapper.__click_params__ = []
        for spec in reversed(list(specs.values())):
            wrapper = spec.decorate(wrapper)
        wrapper.__click_params__ += own  # the command's own options are listed first
        return wrapper

    return decorator
