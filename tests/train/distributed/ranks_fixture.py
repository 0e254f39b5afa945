"""Several ranks of a distributed run as forked copies of the test process (torch is
imported once: a fork starts in milliseconds where torchrun's fresh interpreters take
seconds), joined through torchrun's environment variables on this machine."""

from __future__ import annotations

import os
import socket
import sys
import traceback
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_ranks(world: int, work: Callable[[int], None], logs: Path) -> list[int]:
    """Call `work(rank)` in `world` forked processes, each with RANK, WORLD_SIZE,
    LOCAL_RANK, MASTER_ADDR and MASTER_PORT set as torchrun sets them, its output in
    `logs/rank<r>.out` and `.err`; the exit codes, by rank."""
    import torch

    torch.set_num_threads(1)
    logs.mkdir(parents=True, exist_ok=True)
    env = {"WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(free_port()), "LOCAL_WORLD_SIZE": str(world)}
    pids = []
    for rank in range(world):
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 1
            try:
                os.environ.update(env, RANK=str(rank), LOCAL_RANK=str(rank))
                with open(logs / f"rank{rank}.out", "w") as out, \
                        open(logs / f"rank{rank}.err", "w") as err:
                    os.dup2(out.fileno(), 1)
                    os.dup2(err.fileno(), 2)
                    sys.stdout, sys.stderr = out, err
                    try:
                        work(rank)
                        code = 0
                    except BaseException:
                        traceback.print_exc()
                    out.flush()
                    err.flush()
            finally:
                os._exit(code)
        pids.append(pid)
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
