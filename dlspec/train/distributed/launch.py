"""`dlspec train SPEC --nproc N`: N processes on this machine through torchrun's elastic
launcher (torch.distributed.launcher), each running `python -m dlspec train ...` as
`torchrun --standalone --nproc-per-node N -m dlspec train ...` would.

The run folder is named here, before the processes start, so that a failure can name it:
when a process dies (killed, out of memory), the elastic agent stops the others within
moments and this prints which rank failed and how to resume from the last complete
checkpoint, exiting with 1 (130 after Ctrl-C), without a traceback.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dlspec.errors import Diagnostic, TrainError


@dataclass(frozen=True)
class Failure:
    """One process of a launched job that ended badly."""

    rank: int
    pid: int
    exitcode: int  # negative: killed by that signal

    def describe(self) -> str:
        if self.exitcode < 0:
            try:
                name = signal.Signals(-self.exitcode).name
            except ValueError:
                name = f"signal {-self.exitcode}"
            return f"rank {self.rank} (pid {self.pid}) was killed by {name}"
        return f"rank {self.rank} (pid {self.pid}) exited with code {self.exitcode}"


def first_cause(failures: Sequence[Failure]) -> Failure:
    """The failure that most likely stopped the job: a process killed by a signal other
    than the SIGTERM the agent sends to stop the rest, else one that exited with an error,
    else any (the lowest rank of those)."""
    killed = [f for f in failures if f.exitcode < 0 and -f.exitcode != signal.SIGTERM]
    erred = [f for f in failures if f.exitcode > 0]
    return min(killed or erred or failures, key=lambda f: f.rank)


def failure_error(failures: Sequence[Failure], run_dir: Path, resume_args: str) -> TrainError:
    """The message of a job that lost a process: which one, what is left, how to go on."""
    from dlspec.train.run_folder.resume import checkpoint_step
    from dlspec.train.run_folder.run_dir import RunFiles

    cause = first_cause(failures)
    step = checkpoint_step(RunFiles(run_dir)) if run_dir.is_dir() else None
    if step is None and cause.exitcode > 0:  # it printed its error (a spec the ranks refuse)
        hint = "the error above says why; no checkpoint was kept"
    elif step is None:
        hint = (f"no checkpoint was kept in {run_dir}; start the run again"
                if not run_dir.is_dir() else
                f"{run_dir} has no resume checkpoint yet; start the run again")
    else:
        hint = (f"the last complete checkpoint of {run_dir} is at step {step}; continue "
                f"with: dlspec train --resume {run_dir}{resume_args}")
    return TrainError(Diagnostic(
        "DLS403", f"{cause.describe()}; the run's other processes were stopped", hint=hint))


def refuse_on_processes(checked) -> None:
    """TrainError DLS403 at the spec's objective when several processes cannot train it:
    said once, before any process starts."""
    from dlspec.train.objectives.base import check_processes

    check_processes(checked.spec.objective, checked.loaded.source.key_span(("objective",)))


def interrupted_line(nproc: int, signal_name: str, run_dir: Path, resume_args: str) -> str:
    """What an interrupted job says: how to go on from the checkpoint rank 0 saved, or,
    stopped before the run kept one (rank 0 then removes its folder), to start again; or
    that the run had finished (the signal came as its processes ended)."""
    from dlspec.train.run_folder.resume import checkpoint_step
    from dlspec.train.run_folder.run_dir import RunFiles

    stopped = f"interrupted: the {nproc} processes were stopped ({signal_name})"
    if RunFiles(run_dir).result_json.exists():  # the signal came as the processes ended
        return f"{stopped} after the run finished; its results are in {run_dir}"
    if run_dir.is_dir() and checkpoint_step(RunFiles(run_dir)) is not None:
        return f"{stopped}; continue with: dlspec train --resume {run_dir}{resume_args}"
    return f"{stopped} before the run kept a checkpoint; start it again"


def train_on_processes(nproc: int, spec: Path | None, overrides: Sequence[str], *, out: Path,
                       name: str | None, quiet: bool, resume: Path | None,
                       detect_anomaly: bool, checked) -> int:
    """`dlspec train` with `--nproc` (`checked`: the spec given, None with only
    --resume): the run folder named here (torch-free), then `launch`; the exit code."""
    from dlspec.train.run_folder.run_start import named_folder, timestamped_folder

    args = [str(spec)] if spec is not None else []
    for override in overrides:
        args += ["--set", override]
    args += ["--out", str(out)] + (["--quiet"] if quiet else []) + \
        (["--detect-anomaly"] if detect_anomaly else [])
    if resume is not None:
        from dlspec.train.run_folder.run_spec import resumed_spec

        run_dir = Path(resume)
        # not a run folder, another spec, nothing to continue (a finished run) or a run
        # several processes cannot continue: one error, before any process starts
        refuse_on_processes(resumed_spec(run_dir, spec, overrides)[0])
        args += ["--resume", str(resume)]
    else:
        refuse_on_processes(checked)
        run_dir = named_folder(out, name) if name else timestamped_folder(out, checked.spec.name)
        args += ["--name", run_dir.name]
    return launch(nproc, args, run_dir)


def quiet_elastic_loggers() -> None:
    """Silence the elastic agent's warnings ("Received 2 death signal, shutting down
    workers"): its modules set a level of their own (WARNING), so the parent's is not
    enough; this prints the outcome itself."""
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.startswith("torch.distributed.elastic") and isinstance(logger, logging.Logger):
            logger.setLevel(logging.CRITICAL)


def launch(nproc: int, args: Sequence[str], run_dir: Path) -> int:
    """Run `python -m dlspec train <args>` in `nproc` processes on this machine; the exit
    code (0 when every process finished). TrainError DLS403 naming the rank that failed."""
    from torch.distributed.elastic.multiprocessing.api import DefaultLogsSpecs, SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    quiet_elastic_loggers()
    if "OMP_NUM_THREADS" not in os.environ:  # the cores shared out, as torchrun does
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    resume_args = f" --nproc {nproc}"
    try:
        with tempfile.TemporaryDirectory(prefix="dlspec-elastic-") as logs:  # the agent's files
            config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc,
                                  run_id=str(uuid.uuid4()), rdzv_backend="c10d",
                                  rdzv_endpoint="localhost:0", max_restarts=0,
                                  monitor_interval=0.1, logs_specs=DefaultLogsSpecs(logs))
            elastic_launch(config, sys.executable)("-m", "dlspec", "train", *args)
    except ChildFailedError as error:
        failures = [Failure(rank, f.pid, f.exitcode) for rank, f in error.failures.items()]
        raise failure_error(failures, run_dir, resume_args) from None
    except SignalException as stop:
        print(interrupted_line(nproc, stop.sigval.name, run_dir, resume_args), file=sys.stderr)
        return 130
    return 0
