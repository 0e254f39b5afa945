"""Commands around training runs: evaluate a checkpoint, find a learning rate, plot a run.

Registered on the `dlspec` app by dlspec.cli; torch is imported inside the commands.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dlspec.cli import RunOrSpecArg, SetOption, SpecArg, _console, app, reports_errors
from dlspec.cli_early import check_first


class SplitName(str, Enum):
    train = "train"
    val = "val"
    test = "test"


@app.command()
@reports_errors
def evaluate(spec: RunOrSpecArg,
             weights: Annotated[Path | None, typer.Option(
                 exists=True, help="A .safetensors checkpoint, or a run folder (its best "
                                   "checkpoint); not needed when the first argument is a run folder.")] = None,
             split: Annotated[SplitName, typer.Option(help="The split to measure.")] =
             SplitName.test,
             set_: SetOption = (),
             json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
             model: Annotated[str | None, typer.Option(
                 help="A spec with several `models`: report only the losses of the updates "
                      "that train this model.")] = None):
    """Print the loss and metrics of trained weights on a split of the spec's data."""
    check_first(spec, set_, model, folders=True, init_from=False)
    from rich.table import Table

    from dlspec.api import evaluate_spec

    result = evaluate_spec(spec, weights, split=split.value, overrides=set_, model=model)
    if result.warning:
        print(f"warning: {result.warning}", file=sys.stderr)
    if json_:
        print(json.dumps(result.to_json(), indent=2))
        return
    epoch = "" if result.epoch is None else f", epoch {result.epoch}"
    print(f"weights: {result.weights}{epoch}")
    table = Table(title=f"{result.split} split, {result.samples} samples")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in result.metrics.items():
        table.add_row(name.removeprefix(f"{result.split}_"), f"{value:.4f}")
    _console().print(table)


@app.command(name="lr-find")
@reports_errors
def lr_find(spec: SpecArg, set_: SetOption = (),
            plot: Annotated[Path | None, typer.Option(
                help="Write the loss-against-lr plot to this PNG file.")] = None,
            min_lr: Annotated[float, typer.Option(min=0.0, help="First learning rate.")] = 1e-7,
            max_lr: Annotated[float, typer.Option(min=0.0, help="Last learning rate.")] = 10.0,
            steps: Annotated[int, typer.Option(min=2, help="Steps of the sweep.")] = 100):
    """Learning-rate range test: sweep the lr exponentially over a few steps on a fresh
    model (no run is touched) and suggest the lr where the loss falls fastest."""
    if not 0 < min_lr < max_lr:
        raise typer.BadParameter("need 0 < --min-lr < --max-lr", param_hint="--min-lr")
    check_first(spec, set_)
    from dlspec.api import lr_find_spec
    from dlspec.train.diagnostics.plot import plot_lr_find

    result = lr_find_spec(spec, set_, min_lr=min_lr, max_lr=max_lr, steps=steps)
    if not result.lrs:
        print(f"the loss was NaN/inf at the first step (lr {min_lr:.1e}): check the data "
              "and the model (`dlspec train --detect-anomaly`)")
        raise typer.Exit(1)
    end = "the loss diverged" if result.diverged else "the sweep ended"
    print(f"swept lr {result.lrs[0]:.1e} to {result.lrs[-1]:.1e} in {len(result.lrs)} steps "
          f"({end})")
    if result.within_noise:
        print(f"no suggestion: the smoothed loss fell by {result.fall:.3g}, within its "
              f"batch-to-batch noise ({result.noise:.3g}); try more --steps or a larger batch")
    elif result.suggestion is None:
        print("no suggestion: the loss did not fall before it rose; try a lower --min-lr")
    else:
        print(f"suggested lr: {result.suggestion:.2e} (steepest descent of the smoothed loss)")
    if plot is not None:
        print(f"wrote {plot_lr_find(result, plot)}")


@app.command(name="plot")
@reports_errors
def plot_(run_dir: Annotated[Path, typer.Argument(help="A run folder from dlspec train.",
                                                  exists=True, file_okay=False,
                                                  show_default=False)],
          out: Annotated[Path | None, typer.Option(
              "-o", "--out", help="Folder for the PNG files (default: RUN_DIR/plots).")] = None):
    """Write PNG learning curves (loss and each metric per epoch) and, for classification,
    the test split's confusion matrix of the best checkpoint."""
    from dlspec.api import plot_run

    for path in plot_run(run_dir, out):
        print(f"wrote {path}")
