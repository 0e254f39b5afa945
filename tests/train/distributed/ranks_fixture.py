"""Several ranks of a distributed run as fresh processes started by multiprocessing's spawn
(never forked from the test process: a fork inherits whatever torch.distributed and its
threads left there from earlier tests, and hung), joined through torchrun's environment
variables on this machine."""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_ranks(world: int, logs: Path, work: Callable[..., None], *args: Any,
              timeout: float = 300, **kwargs: Any) -> list[int]:
    """Call `work(*args, **kwargs)` (a module-level function: it is pickled by name) in
    `world` processes, each with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT set
    as torchrun sets them, its output in `logs/rank<r>.out` and `.err`; the exit codes, by
    rank (a process still running after `timeout` seconds is killed: a hung collective fails
    its test instead of stopping the whole run)."""
    logs.mkdir(parents=True, exist_ok=True)
    env = {"WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(free_port()), "LOCAL_WORLD_SIZE": str(world),
           "OMP_NUM_THREADS": "1"}
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=_rank, args=(rank, env, logs, work, args, kwargs))
                 for rank in range(world)]
    for process in processes:
        process.start()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
    return [process.exitcode for process in processes]


def _rank(rank: int, env: dict[str, str], logs: Path, work: Callable[..., None],
          args: tuple, kwargs: dict) -> None:
    """One rank: its environment, its output in its log files, then `work`."""
    code = 1
    try:
        os.environ.update(env, RANK=str(rank), LOCAL_RANK=str(rank))
        with open(logs / f"rank{rank}.out", "w") as out, \
                open(logs / f"rank{rank}.err", "w") as err:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            sys.stdout, sys.stderr = out, err
            try:
                import torch

                torch.set_num_threads(1)
                work(*args, **kwargs)
                code = 0
            except BaseException:
                traceback.print_exc()
            out.flush()
            err.flush()
    finally:
        os._exit(code)
