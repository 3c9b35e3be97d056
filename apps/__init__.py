"""The seqapps applications: model builders, training, evaluation, export and the CLI.

`apps.cli` holds the `seqapps` click group. Modules here may import `seqcore` and
`pipelines`, never the other way round. TensorFlow is imported only inside command
bodies so that `seqapps --help` stays fast.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seqcore-apps")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
