"""The models of a distributed run, wrapped for its strategy (`train.distributed.strategy`).

ddp: each model that trains is wrapped in DistributedDataParallel, which starts from rank
0's weights and averages the gradients of every backward pass over the processes. Buffers
(batch-norm statistics) are not synchronized at each forward: each process keeps its own
while training, and rank 0's are broadcast before each evaluation and kept in the
checkpoints. The objective calls the wrappers; checkpoints hold the plain models.

A strategy is one entry of STRATEGIES: a function from the run's models to their wrappers.
What DDP can leave to rank 0 alone (the state a checkpoint captures: loop.py's save_state
returns at once on the other ranks; the best weights, read by rank 0 and broadcast) is
where a sharding strategy needs every rank to take part.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch.nn.parallel import DistributedDataParallel

from dlspec.errors import Diagnostic, TrainError
from dlspec.train.distributed.ranks import SINGLE, Ranks
from dlspec.train.objectives.base import ObjectiveConfig, check_processes


class Parallel:
    """How a run's steps go over its processes: which wrappers average the gradients."""

    def __init__(self, ranks: Ranks, wrappers: dict[str, torch.nn.Module] | None = None):
        self.ranks = ranks
        self.wrappers = wrappers or {}
        self.gradients_checked = False  # unused_parameters, after the first step's backward

    def wrap(self, models: dict[str, torch.nn.Module]) -> dict[str, torch.nn.Module]:
        """The models as the objective calls them (wrapped where one was made)."""
        return {name: self.wrappers.get(name, model) for name, model in models.items()}

    def check(self, objective: ObjectiveConfig | None) -> None:
        """TrainError DLS403 when this run has several processes and they cannot train the
        objective (a GAN's alternating updates: check_processes)."""
        if self.ranks.several:
            check_processes(objective)

    @contextlib.contextmanager
    def accumulating(self, last: bool) -> Iterator[None]:
        """Around one micro-batch's forward and backward: gradients are averaged over the
        processes only at a step's last micro-batch (they add up locally before)."""
        if last or not self.wrappers:
            yield
            if last and not self.gradients_checked:
                self.gradients_checked = True
                unused_parameters(self.wrappers)
            return
        with contextlib.ExitStack() as stack:
            for wrapper in self.wrappers.values():
                if isinstance(wrapper, DistributedDataParallel):
                    stack.enter_context(wrapper.no_sync())
            yield

    # what a checkpoint holds and a resume loads (fsdp.py: gathered from the shards)
    gathers = False  # whether every process must take part in writing a checkpoint

    def model_state(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        return model.state_dict()

    def load_model_state(self, model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
        model.load_state_dict(state)

    def optimizer_state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict:
        return optimizer.state_dict()

    def load_optimizer_state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                             state: dict) -> None:
        optimizer.load_state_dict(state)

    def evaluating(self) -> contextlib.AbstractContextManager:
        """Around an evaluation (fsdp: the whole weights gathered for it)."""
        return contextlib.nullcontext()


def unused_parameters(wrappers: dict[str, torch.nn.Module]) -> None:
    """TrainError DLS403 naming the trainable parameters a step's backward left without a
    gradient in a DistributedDataParallel without find_unused_parameters: DDP would wait
    for them, leave their bucket's gradients unaveraged and fail at the next forward."""
    for wrapper in wrappers.values():
        if not isinstance(wrapper, DistributedDataParallel) or wrapper.find_unused_parameters:
            continue
        unused = [name for name, p in wrapper.module.named_parameters()
                  if p.requires_grad and p.grad is None]
        if unused:
            listed = ", ".join(unused[:8]) + (f" and {len(unused) - 8} more"
                                              if len(unused) > 8 else "")
            raise TrainError(Diagnostic(
                "DLS403", f"no loss depends on {listed}: a step leaves "
                          f"{'it' if len(unused) == 1 else 'them'} without a gradient, which "
                          "DistributedDataParallel waits for",
                hint="set train.distributed.find_unused_parameters: true, or leave out "
                     "what no loss reads"))


def parallel_of(run) -> Parallel:
    """The Parallel of a set-up run (one process's when it has none)."""
    parallel = getattr(getattr(run, "stepper", None), "parallel", None)
    return parallel if parallel is not None else Parallel(SINGLE)


def ddp_models(models: dict[str, torch.nn.Module], ranks: Ranks, device: str,
               find_unused_parameters: bool) -> dict[str, torch.nn.Module]:
    """Each model with a trainable parameter wrapped in DistributedDataParallel."""
    device_ids = [torch.cuda.current_device()] if device == "cuda" else None
    return {name: DistributedDataParallel(
                model, device_ids=device_ids, forward_sync_buffers=False,
                find_unused_parameters=find_unused_parameters)
            for name, model in models.items()
            if any(p.requires_grad for p in model.parameters())}


# strategy name -> (models, ranks, device, train.distributed) -> wrappers by model name
STRATEGIES: dict[str, Callable[..., dict[str, torch.nn.Module]]] = {
    "ddp": lambda models, ranks, device, settings: ddp_models(
        models, ranks, device, settings.find_unused_parameters),
}


def parallel_for(models: dict[str, torch.nn.Module], ranks: Ranks, device: str,
                 settings) -> Parallel:
    """The wrappers of a run of `ranks` with `train.distributed` `settings`; one process:
    none. TrainError DLS403 for a strategy this dlspec lacks."""
    if not ranks.several:
        return Parallel(ranks)
    if settings.strategy == "fsdp":
        try:  # fully_shard (FSDP2) is public from torch 2.6
            from dlspec.train.distributed.fsdp import ShardedParallel, fsdp_models
        except ImportError:
            raise TrainError(Diagnostic(
                "DLS403", f"train.distributed.strategy fsdp needs torch.distributed.fsdp."
                          f"fully_shard (torch 2.6 or newer); this is torch {torch.__version__}",
                hint="upgrade torch, or use strategy: ddp")) from None
        return ShardedParallel(ranks, fsdp_models(models))
    if settings.strategy not in STRATEGIES:
        raise TrainError(Diagnostic(
            "DLS403", f"train.distributed.strategy {settings.strategy} is not available in "
                      "this dlspec", hint="use strategy: ddp"))
    return Parallel(ranks, STRATEGIES[settings.strategy](models, ranks, device, settings))
