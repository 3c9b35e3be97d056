"""The `seqapps` command line.

TensorFlow, Keras and the modules that import them are imported inside the command
bodies, so `seqapps --help` answers without loading them.
"""

import json
import pathlib

import click

from apps import __version__
from apps.common.options import batch_size_option, json_option, seed_option
from apps.common.runtime import AppGroup, start_tensorflow


@click.group(
    name="seqapps", cls=AppGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="seqapps")
def main():
    """Sequence learning apps built on the seqcore recurrent layers."""


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=pathlib.Path("saved_models"),
    show_default=True,
    help="Export base folder; the model goes to OUT/demo/<next version>/.",
)
@click.option(
    "--epochs", type=click.IntRange(min=1), default=5, show_default=True, help="Training epochs."
)
@seed_option(help="Seed of the data, the initial weights and the shuffle.")
@click.option("--train-size", type=click.IntRange(min=2), default=2000, show_default=True,
              help="Number of training sequences.")
@click.option("--test-size", type=click.IntRange(min=2), default=500, show_default=True,
              help="Number of test sequences.")  # fmt: skip
@batch_size_option(32, help="Examples per training batch.")
@json_option
def demo(out, epochs, seed, train_size, test_size, batch_size, as_json):
    """Train, evaluate, export and serve a seqcore LSTM on built-in data.

    The task: each sequence holds two events, A and B; the label says whether A comes
    first, so a model that ignores order scores no better than chance. The export is
    reloaded in a new process and its `serve` signature must reproduce the Keras
    predictions.
    """
    start_tensorflow()
    from apps.demo import DemoConfig, ServingCheckError, run_demo

    config = DemoConfig(
        out=out,
        epochs=epochs,
        seed=seed,
        train_size=train_size,
        test_size=test_size,
        batch_size=batch_size,
    )
    try:
        result = run_demo(config, report=lambda line: click.echo(line, err=True))
    except ServingCheckError as exc:
        raise click.ClickException(str(exc)) from exc

    check = result["serving_check"]
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"test accuracy: {result['test']['accuracy']:.3f} (n={result['test']['n']})")
        click.echo(f"exported: {result['export_dir']} (version {result['version']})")
        click.echo(f"served in a new process, signature '{check['signature']}':")
        rows = zip(
            check["labels"], check["served_predictions"], check["keras_predictions"], strict=False
        )
        for label, served, expected in rows:
            click.echo(f"  label {label}: served {_fmt(served)}  keras {_fmt(expected)}")
    if not check["match"]:
        raise click.ClickException(
            f"served predictions differ from Keras by {check['max_abs_diff']:.3g} "
            f"(allowed {check['atol']:g})"
        )
    if not as_json:
        click.echo(f"match: max |served - keras| = {check['max_abs_diff']:.2g}")


def _fmt(values):
    return "[" + ", ".join(f"{v:.4f}" for v in values) + "]"


from apps.sentiment.cli import sentiment  # noqa: E402

main.add_command(sentiment)


from apps.diagnose import diagnose  # noqa: E402

main.add_command(diagnose)


if __name__ == "__main__":
    main()
