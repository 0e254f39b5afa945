"""What torchrun (or any launcher following its contract) tells a process, read without
torch: `RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from dlspec.errors import Diagnostic, TrainError

REQUIRED = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Launch:
    """This process's place in a launched job."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def several(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launch_from_env(env: Mapping[str, str] | None = None) -> Launch:
    """The launch this process belongs to: one process unless WORLD_SIZE > 1; TrainError
    DLS403 when the variables a launcher sets are missing or do not fit together."""
    env = os.environ if env is None else env
    if int(_number(env, "WORLD_SIZE", "1")) <= 1:
        return Launch()
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        raise TrainError(Diagnostic(
            "DLS403", f"WORLD_SIZE is {env['WORLD_SIZE']} but {', '.join(missing)} "
                      f"{'is' if len(missing) == 1 else 'are'} not set",
            hint="start several processes with torchrun (`torchrun --nproc-per-node 2 -m "
                 "dlspec train SPEC`) or `dlspec train SPEC --nproc 2`"))
    launch = Launch(_number(env, "RANK"), _number(env, "WORLD_SIZE"),
                    _number(env, "LOCAL_RANK"))
    if not 0 <= launch.rank < launch.world:
        raise TrainError(Diagnostic(
            "DLS403", f"RANK {launch.rank} is outside 0..{launch.world - 1} (WORLD_SIZE "
                      f"{launch.world})", hint="let torchrun set the ranks"))
    return launch


def _number(env: Mapping[str, str], name: str, default: str | None = None) -> int:
    text = env.get(name, default)
    try:
        return int(text)
    except (TypeError, ValueError):
        raise TrainError(Diagnostic(
            "DLS403", f"{name} is '{text}', not a whole number",
            hint="let torchrun set it")) from None


def is_main_process(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process prints and writes (rank 0, or no launcher); torch-free, so the
    command line can decide what to print before anything is imported."""
    env = os.environ if env is None else env
    return env.get("RANK", "0") in ("0", "")
