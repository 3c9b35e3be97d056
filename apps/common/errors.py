"""Bad input on the command line: exit code 2 and one line `Error: ...` (see CLI.md).

Library code raises `ValueError` (or a subclass such as `pipelines.sources.SourceError`)
whose message names the file, line, column or option at fault. A command wraps the steps
that read user input in `input_errors(debug)`, which turns those exceptions into an
`InputError`; click prints it as `Error: <message>` and exits with code 2. With `--debug`
the original exception propagates, traceback and all.
"""

import contextlib

import click


class InputError(click.ClickException):
    """Bad input (data, options, model folder): printed as one `Error:` line, exit code 2."""

    exit_code = 2

    def __init__(self, message):
        super().__init__(one_line(message))


def one_line(message):
    """`message` as a single line (newlines and runs of spaces collapsed)."""
    return " ".join(str(message).split())


@contextlib.contextmanager
def input_errors(debug=False, kinds=(ValueError, OSError)):
    """Re-raises `kinds` raised inside the block as `InputError` (unless `debug`).

    Args:
        debug: let the original exception through (the CLI's `--debug`).
        kinds: exception classes that mean bad input in this block.
    """
    try:
        yield
    except click.ClickException:
        raise
    except kinds as exc:
        if debug:
            raise
        message = str(exc) or type(exc).__name__
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in message:
            message = f"{exc.filename}: {message}"
        raise InputError(message) from exc
