"""How the commands start TensorFlow and end: quiet start-up, Ctrl-C as exit code 130.

- `start_tensorflow(debug)`: imports TensorFlow and Keras with their start-up log lines
  (absl's pre-init notice, CPU-feature and CUDA probing, oneDNN) kept from the user's
  terminal, unless `debug`. The lines are written by C++ straight to file descriptor 2, so
  it is pointed at a temporary file while TensorFlow loads and probes the devices; if the
  import fails, what was captured is shown.
- `AppGroup`: the click group class of `seqapps`: a `KeyboardInterrupt` (Ctrl-C) anywhere in
  a command prints one line and exits with code 130 (the shell's code for SIGINT) instead
  of click's "Aborted!" and code 1. Every writer stages its files (`apps.common.staging`),
  so an interrupted command leaves earlier results as they were.
"""

import contextlib
import os
import sys
import tempfile

import click

INTERRUPTED_EXIT_CODE = 130


@contextlib.contextmanager
def _captured_stderr_fd():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                capture.seek(0)
                sys.stderr.write(capture.read().decode("utf-8", "replace"))


def start_tensorflow(debug=False):
    """Imports TensorFlow (and Keras) quietly unless `debug`; returns the `tensorflow` module."""
    if "tensorflow" in sys.modules and getattr(start_tensorflow, "done", False):
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if debug else "2")
    quiet = contextlib.nullcontext() if debug else _captured_stderr_fd()
    with quiet:
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # CUDA probing logs here, once
    if not debug:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    start_tensorflow.done = True
    return tf


class AppGroup(click.Group):
    """A click group whose commands exit with code 130 on Ctrl-C (see the module docstring)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\nInterrupted; files written earlier are unchanged.", err=True)
            ctx.exit(INTERRUPTED_EXIT_CODE)
