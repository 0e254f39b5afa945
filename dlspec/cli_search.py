"""`dlspec search`: hyperparameter search over the spec's `search:` section, on Optuna.

The spec (with its search space) is checked torch-free first, so a mistake is reported in a
fraction of a second and no study is touched.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dlspec.cli import SetOption, SpecArg, app, reports_errors


@app.command()
@reports_errors
def search(spec: SpecArg, set_: SetOption = (),
           trials: Annotated[int | None, typer.Option(
               min=0, help="Trials the study should hold when done (default: search.trials); "
                           "a study stopped before resumes up to it.")] = None,
           workers: Annotated[int, typer.Option(
               min=1, help="Trial processes on this machine, on the same study.")] = 1,
           storage: Annotated[str | None, typer.Option(
               metavar="URL", help="An Optuna storage URL (postgresql://..., mysql+pymysql://..., "
                    "sqlite:///abs/path.db, journal:///abs/path.log) for a study shared by "
                    "several machines. Default: OUT/STUDY/study.db (SQLite).")] = None,
           study: Annotated[str | None, typer.Option(
               metavar="NAME", help="The study's name (default: the spec's name); the same name resumes "
                    "it.")] = None,
           out: Annotated[Path, typer.Option(
               help="Folder of study folders (trials, best.yaml, plots).")] = Path("studies"),
           quiet: Annotated[bool, typer.Option(help="No table of trials.")] = False,
           plots: Annotated[bool, typer.Option(
               help="Draw PNG plots of the study into OUT/STUDY/plots.")] = True,
           heartbeat: Annotated[float, typer.Option(
               min=1, hidden=True, help="Seconds between heartbeats of a running trial; a "
                                        "trial silent for twice that is run again.")] = 30.0,
           worker_index: Annotated[int | None, typer.Option(
               hidden=True, help="Internal: this process is worker N of --workers.")] = None):
    """Search hyperparameters: trials are normal runs; writes best.yaml, a table and plots."""
    from dlspec.cli_early import spec_readable

    spec_readable(spec)
    from dlspec.api import check

    check(spec, set_, search=True)  # torch-free: the spec and its search space
    from dlspec.search.driver import SearchRequest, resume_command
    from dlspec.search.driver import search as run_search

    request = SearchRequest(spec, tuple(set_), study, out, storage, trials, workers,
                            worker_index, heartbeat, quiet, plots)
    try:
        run_search(request)
    except KeyboardInterrupt:  # a trial's run says `dlspec train --resume`: not for a search
        if worker_index is None:
            print(f"interrupted: the trials under way will run again when the search "
                  f"resumes: `{resume_command(request)}`", file=sys.stderr)
        raise typer.Exit(130) from None
