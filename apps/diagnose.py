"""`seqapps diagnose`: diagnostics of recurrent models.

`seqapps diagnose gradients` measures how the gradient of a loss on the last step's
output reaches the earlier steps of freshly initialised seqcore layers
(`seqcore.diagnostics.gradient_flow`), prints the per-step norms and draws them.

TensorFlow, Keras and seqcore are imported inside the command body, so `--help` stays fast.
"""

import json
import pathlib

import click

from apps.common.options import batch_size_option, json_option, seed_option
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


@diagnose.command()
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
    "--steps",
    type=click.IntRange(min=2),
    default=100,
    show_default=True,
    help="Sequence length T.",
)
@click.option(
    "--units", type=click.IntRange(min=1), default=64, show_default=True, help="Hidden units."
)
@click.option(
    "--features",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Input features per step.",
)
@batch_size_option(32, help="Sequences the norms are averaged over.")
@click.option(
    "--input-scale",
    type=click.FloatRange(min=0.0),
    default=1.0,
    show_default=True,
    help="Standard deviation of the Gaussian inputs.",
)
@seed_option(help="Seed of the data and of the initial weights (the same for every cell).")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    callback=_check_plot,
    default=None,
    help="Write a figure of the norms per step (log scale) to this .png/.pdf/.svg file.",
)
@json_option
def gradients(cells, steps, units, features, batch_size, input_scale, seed, plot, as_json):
    """Per-step gradient norms of freshly initialised seqcore layers.

    For each cell: Input(T, features) -> seqcore layer(units) -> Dense(1), MSE against
    Gaussian targets, so the loss is on the last step's output. Prints, for every step
    t, the norm of dL/dh_t (the total derivative for the hidden state h_t, through all
    later steps) and of dL/dx_t, averaged over the batch, and the first/last ratio
    ||dL/dh_1|| / ||dL/dh_T||: near 1 the gradient reaches the first step intact; a tiny
    ratio is the vanishing gradient.
    """
    import numpy as np

    results = {}
    for cell in cells:
        click.echo(f"{cell}: measuring gradient flow over {steps} steps", err=True)
        results[cell] = _measure(cell, steps, units, features, batch_size, input_scale, seed)
    if plot is not None:
        _plot(results, plot, steps, units, input_scale)
        click.echo(f"plot written to {plot}", err=True)
    summary = {
        "steps": steps,
        "units": units,
        "features": features,
        "batch_size": batch_size,
        "input_scale": input_scale,
        "seed": seed,
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


def _measure(cell, steps, units, features, batch_size, input_scale, seed):
    import keras
    import numpy as np

    import seqcore
    from seqcore.diagnostics import gradient_flow

    rng = np.random.default_rng(seed)
    x = (input_scale * rng.standard_normal((batch_size, steps, features))).astype("float32")
    y = rng.standard_normal((batch_size, 1)).astype("float32")
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((steps, features)),
            getattr(seqcore, CELL_LAYERS[cell])(units, name=cell),
            keras.layers.Dense(1),
        ]
    )
    return gradient_flow(model, x, y, loss="mean_squared_error")


def _plot(results, path, steps, units, input_scale):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), sharex=True)
    colors = {"simple_rnn": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
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
        f"Gradient flow at initialisation: T={steps}, {units} units, "
        f"Gaussian inputs (std {input_scale:g})"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
