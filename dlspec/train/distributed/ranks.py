"""The process group a distributed run joins, and the few collectives dlspec uses.

`joined(train)` joins the group torchrun's environment describes (gloo on the CPU, nccl on
CUDA, or `train.distributed.backend`) and leaves it afterwards; in one process it does
nothing. `Ranks` is this process's place in it: what it may write (rank 0 only), and the
sums and broadcasts that keep every process's numbers equal.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from dlspec.errors import Diagnostic, DlspecError, TrainError
from dlspec.train.distributed.env import launch_from_env
from dlspec.train.recipe.distributed_config import default_backend


class PeerFailed(TrainError):
    """Another process of the run failed; it reports its own error (this one says little)."""


@dataclass(frozen=True)
class Ranks:
    """This process's rank among `world` processes (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"  # where the tensors of its own collectives go (cuda under nccl)

    @property
    def is_main(self) -> bool:
        """Whether this process prints and writes the run folder."""
        return self.rank == 0

    @property
    def several(self) -> bool:
        return self.world > 1

    def sum_(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """Each tensor (scalars) summed over the processes, in one collective."""
        if not self.several or not tensors:
            return tensors
        stacked = torch.stack([t.detach().float() for t in tensors])
        dist.all_reduce(stacked)
        return list(stacked.unbind())

    def any(self, flag: bool) -> bool:
        """Whether `flag` is set in any process (a stop request)."""
        if not self.several:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(value)
        return bool(value.item() > 0)

    def broadcast_state(self, module: torch.nn.Module, buffers_only: bool = False) -> None:
        """Rank 0's parameters (unless `buffers_only`) and buffers, in every process."""
        if not self.several:
            return
        tensors = list(module.buffers()) if buffers_only else \
            [*module.parameters(), *module.buffers()]
        with torch.no_grad():
            for tensor in tensors:
                dist.broadcast(tensor.data, src=0)

    def decided(self, choose: Callable[[], str]) -> str:
        """What `choose()` returns in rank 0 (say, a run folder's name), in every process;
        when it raises there, the others raise PeerFailed (rank 0 reports the error)."""
        if not self.several:
            return choose()
        text, failure = "", None
        if self.is_main:
            try:
                text = choose()
            except DlspecError as error:
                failure = error
        device = self.device
        data = torch.tensor(list(text.encode("utf-8")), dtype=torch.uint8, device=device)
        size = torch.tensor([-1 if failure else len(data)], dtype=torch.int64, device=device)
        dist.broadcast(size, src=0)
        if size.item() < 0:
            if failure is not None:
                raise failure
            raise PeerFailed(Diagnostic("DLS403", "rank 0 could not start the run"))
        if not self.is_main:
            data = torch.empty(int(size.item()), dtype=torch.uint8, device=device)
        if int(size.item()):
            dist.broadcast(data, src=0)
        return bytes(data.cpu().tolist()).decode("utf-8")

    def seed(self, seed: int, step: int) -> int:
        """The seed of this rank's own random draws (dropout, augmentation) from `step` on:
        rank 0 continues the run's generator; the others draw from a seed of their own."""
        digest = hashlib.sha256(f"{seed}:{self.rank}:{step}".encode()).digest()
        return int.from_bytes(digest[:8], "little") % (2 ** 63)


SINGLE = Ranks()


def current() -> Ranks:
    """The ranks of the process group this process joined (one process when none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return SINGLE
    launch = launch_from_env()
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    return Ranks(dist.get_rank(), dist.get_world_size(), launch.local_rank, device)


@contextlib.contextmanager
def joined(train) -> Iterator[Ranks]:
    """Join the process group torchrun's environment describes for a run with the train
    settings `train` (TrainConfig), and leave it at the end; one process: nothing."""
    launch = launch_from_env()
    if not launch.several or dist.is_initialized():
        yield current()
        return
    from dlspec.train.engine.device import resolve_device

    settings = train.distributed
    device = resolve_device(train.device)
    backend = default_backend(device) if settings.backend == "auto" else settings.backend
    if backend == "nccl" and device != "cuda":
        raise TrainError(Diagnostic("DLS403", "backend nccl needs CUDA, and this run "
                                              "trains on the CPU", hint="use backend gloo"))
    if device == "cuda":
        if launch.local_rank >= torch.cuda.device_count():
            raise TrainError(Diagnostic(
                "DLS403", f"local rank {launch.local_rank} has no GPU of its own (this "
                          f"machine has {torch.cuda.device_count()})",
                hint="start at most one process per GPU (--nproc / --nproc-per-node)"))
        torch.cuda.set_device(launch.local_rank)
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=settings.timeout_s),
                            device_id=torch.device("cuda", launch.local_rank)
                            if device == "cuda" else None)
    ranks = current()
    try:
        yield ranks
        dist.barrier()  # no process leaves while another still has a collective under way
    except RuntimeError as error:  # DistError is one; gloo raises plain RuntimeErrors
        if not lost_peer(error):
            raise
        raise PeerFailed(Diagnostic(
            "DLS403", f"rank {ranks.rank} lost contact with the other processes of the run "
                      f"({str(error).splitlines()[0][:160]})",
            hint="another process stopped; its own error says why")) from None
    finally:
        dist.destroy_process_group()


def lost_peer(error: RuntimeError) -> bool:
    """Whether a collective failed because another process is gone (or timed out)."""
    text = str(error)
    return isinstance(error, dist.DistError) or any(
        mark in text for mark in ("Connection closed by peer", "Connection reset by peer",
                                  "gloo", "NCCL", "timed out", "Timed out"))
