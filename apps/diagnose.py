"""`seqapps diagnose`: diagnostics of recurrent models.

`seqapps diagnose gradients` measures how the gradient of a loss on the last step's
output reaches the earlier steps of freshly initialised seqcore layers
(`seqcore.diagnostics.gradient_flow`), prints the per-step norms and draws them.

TensorFlow, Keras and seqcore are imported inside the command body, so `--help` stays fast.
"""

import dataclasses
import json
import pathlib

import click

from apps.common.cli_config import with_configs
from apps.common.config import Checked, integer, number, setting, to_dict
from apps.common.options import json_option
from apps.common.runtime import start_tensorflow
from apps.common.settings import CELL_LAYERS

CELLS = tuple(CELL_LAYERS)
"""The cells measured by default, in this order."""
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def _parse_cells(ctx, param, values):
    """`--cell` values, each possibly comma-separated, in order, without repeats."""
    cells = []
    for value in values or ():
        for item in value.split(","):
            item = item.strip().lower()
            if not item:
                continue
            if item not in CELLS:
                raise click.BadParameter(
                    f"{item!r} is not one of {', '.join(CELLS)}.", ctx=ctx, param=param
                )
            if item not in cells:
                cells.append(item)
    return tuple(cells) or CELLS


def _check_plot(ctx, param, value):
    if value is None:
        return None
    if value.suffix.lower() not in PLOT_SUFFIXES:
        raise click.BadParameter(
            f"'{value}' must end in one of {', '.join(PLOT_SUFFIXES)}.", ctx=ctx, param=param
        )
    if not value.parent.is_dir():
        raise click.BadParameter(
            f"the folder '{value.parent}' of '{value}' does not exist.", ctx=ctx, param=param
        )
    return value


@click.group(name="diagnose", context_settings={"help_option_names": ["-h", "--help"]})
def diagnose():
    """Diagnostics of recurrent models (gradient flow through time)."""


@dataclasses.dataclass(frozen=True)
class GradientProbe(Checked):
    """What `diagnose gradients` measures: the sequences and the layer size."""

    steps: int = setting(100, "Sequence length T.", check=integer(minimum=2))
    units: int = setting(64, "Hidden units.", check=integer(minimum=1))
    features: int = setting(8, "Input features per step.", check=integer(minimum=1))
    batch_size: int = setting(32, "Sequences the norms are averaged over.",
                              check=integer(minimum=1))  # fmt: skip
    input_scale: float = setting(1.0, "Standard deviation of the Gaussian inputs.",
                                 check=number(0))  # fmt: skip
    seed: int = setting(0, "Seed of the data and of the initial weights (the same for every "
                        "cell).", check=integer(minimum=0))  # fmt: skip


@diagnose.command()
@with_configs(probe=GradientProbe)
@click.option(
    "--cell",
    "cells",
    multiple=True,
    callback=_parse_cells,
    metavar="simple_rnn|lstm|gru",
    help="Cell to measure; repeat or comma-separate for several (one figure). "
    "[default: simple_rnn,lstm,gru]",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    callback=_check_plot,
    default=None,
    help="Write a figure of the norms per step (log scale) to this .png/.pdf/.svg file.",
)
@json_option
def gradients(cells, probe, plot, as_json):
    """Per-step gradient norms of freshly initialised seqcore layers.

    For each cell: Input(T, features) -> seqcore layer(units) -> Dense(1), MSE against
    Gaussian targets, so the loss is on the last step's output. Prints, for every step
    t, the norm of dL/dh_t (the total derivative for the hidden state h_t, through all
    later steps) and of dL/dx_t, averaged over the batch, and the first/last ratio
    ||dL/dh_1|| / ||dL/dh_T||: near 1 the gradient reaches the first step intact; a tiny
    ratio is the vanishing gradient.
    """
    import numpy as np

    start_tensorflow()
    results = {}
    for cell in cells:
        click.echo(f"{cell}: measuring gradient flow over {probe.steps} steps", err=True)
        results[cell] = _measure(cell, probe)
    if plot is not None:
        _plot(results, plot, probe)
        click.echo(f"plot written to {plot}", err=True)
    steps = probe.steps
    summary = {
        **to_dict(probe),
        "loss": "mean squared error on the last step's output, summed over the batch",
        "cells": {cell: flow.to_dict() for cell, flow in results.items()},
        "plot": None if plot is None else str(plot),
    }
    if as_json:
        click.echo(json.dumps(summary))
        return
    header = "step" + "".join(f"  {cell + ' dh':>14}" for cell in cells)
    header += "".join(f"  {cell + ' dx':>14}" for cell in cells)
    click.echo(header)
    for t in range(steps):
        row = f"{t + 1:>4}"
        row += "".join(f"  {results[cell].dh_norms[t]:>14.4e}" for cell in cells)
        row += "".join(f"  {results[cell].dx_norms[t]:>14.4e}" for cell in cells)
        click.echo(row)
    click.echo("first/last ratio ||dL/dh_1|| / ||dL/dh_T||:")
    for cell in cells:
        ratio = results[cell].first_last_ratio
        click.echo(f"  {cell:<10} {ratio:.3e}" + ("" if np.isfinite(ratio) else " (undefined)"))


def _measure(cell, probe):
    import keras
    import numpy as np

    import seqcore
    from seqcore.diagnostics import gradient_flow

    rng = np.random.default_rng(probe.seed)
    shape = (probe.batch_size, probe.steps, probe.features)
    x = (probe.input_scale * rng.standard_normal(shape)).astype("float32")
    y = rng.standard_normal((probe.batch_size, 1)).astype("float32")
    keras.utils.set_random_seed(probe.seed)
    model = keras.Sequential(
        [
            keras.Input((probe.steps, probe.features)),
            getattr(seqcore, CELL_LAYERS[cell])(units=probe.units, name=cell),
            keras.layers.Dense(1),
        ]
    )
    return gradient_flow(model, x, y, loss="mean_squared_error")


def _plot(results, path, probe):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), sharex=True)
    colors = dict(zip(CELLS, ("tab:red", "tab:blue", "tab:green"), strict=True))
    steps = probe.steps
    t = np.arange(1, steps + 1)
    for cell, flow in results.items():
        label = f"{CELL_LAYERS[cell]} (first/last {flow.first_last_ratio:.1e})"
        left.plot(
            t,
            np.where(flow.dh_norms > 0, flow.dh_norms, np.nan),
            label=label,
            color=colors[cell],
            linewidth=1.8,
        )
        right.plot(
            t,
            np.where(flow.dx_norms > 0, flow.dx_norms, np.nan),
            label=CELL_LAYERS[cell],
            color=colors[cell],
            linewidth=1.8,
        )
    for axis, name in ((left, "||dL/dh_t||"), (right, "||dL/dx_t||")):
        axis.set_yscale("log")
        axis.set_xlabel("step t (loss on the output of step T)")
        axis.set_ylabel(f"{name}, mean over the batch")
        axis.grid(True, which="major", alpha=0.4)
        axis.set_xlim(1, steps)
    left.set_title("gradient reaching the hidden state h_t")
    right.set_title("gradient reaching the input x_t")
    left.legend(loc="upper left")
    figure.suptitle(
        f"Gradient flow at initialisation: T={steps}, {probe.units} units, "
        f"Gaussian inputs (std {probe.input_scale:g})"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
