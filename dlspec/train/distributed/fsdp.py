"""The fsdp strategy: parameters, gradients and optimizer state sharded over the processes
with PyTorch's `fully_shard` (FSDP2).

Each layer of the model (a direct child with parameters, or each instance of a repeated
block's container) is sharded as a unit of its own, then the root, which keeps what is left
(a layer sharing a parameter with another, a `tie:`, stays with the root, so that both uses
see the whole weight). Every collective runs in every process in the same
order. Checkpoints gather each tensor whole and rank 0 writes them as one process would
(keys, whole tensors, the optimizer state numbered as `optimizer.state_dict()` numbers it),
so that evaluate, export, predict and `--resume` on any number of processes read a normal
run folder; resuming, each process cuts its shard of each tensor as its parameter is cut.
Evaluation gathers the weights once and keeps them through its forward passes, which then
need no collective (each process measures its own shard of a split).
"""

from __future__ import annotations

import contextlib
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

import torch
from torch.distributed.fsdp import FSDPModule, fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor

from dlspec.train.distributed.strategy import Parallel

CONTAINERS = (torch.nn.ModuleList, torch.nn.Sequential, torch.nn.ModuleDict)


def shard_units(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The layers of `model` sharded as units of their own: each child with parameters (each
    child of a container), except those sharing a parameter with another (left to the root)."""
    layers: list[torch.nn.Module] = []
    for child in model.children():
        layers += _called_layers(child)
    layers = [layer for layer in layers if any(True for _ in layer.parameters())]
    owners = Counter(pid for layer in layers for pid in {id(p) for p in layer.parameters()})
    owners.update(id(p) for p in model.parameters(recurse=False))
    return [layer for layer in layers if all(owners[id(p)] == 1 for p in layer.parameters())]


def _called_layers(child: torch.nn.Module) -> list[torch.nn.Module]:
    """The modules the model calls for `child`: itself, or the children of a container, or
    (recursively) those of a module without a forward of its own (the holder of a repeated
    block's instances, whose layers the graph calls one by one: FSDP gathers a unit's
    parameters in its forward, which such a holder never runs)."""
    if isinstance(child, CONTAINERS):
        return list(child.children())
    if type(child).forward is torch.nn.Module.forward:
        return [layer for grandchild in child.children() for layer in _called_layers(grandchild)]
    return [child]


def fsdp_models(models: dict[str, torch.nn.Module]) -> dict[str, torch.nn.Module]:
    """Each model with a trainable parameter sharded in place: its layers, then the root."""
    # the loss reads the model's output without changing it in place (what FSDP warns of)
    warnings.filterwarnings("ignore", message=r"FSDP2-wrapped module .* returned a view")
    sharded = {}
    for name, model in models.items():
        if not any(p.requires_grad for p in model.parameters()):
            continue
        for layer in shard_units(model):
            fully_shard(layer)
        fully_shard(model)
        # the root reshards after forward too (FSDP leaves it whole by default): a forward
        # before the optimizer is made (setup's fit check) would otherwise leave the root's
        # whole tensors, not its shards, on the modules, and the optimizer would hold them
        model.set_reshard_after_forward(True, recurse=False)
        sharded[name] = model
    return sharded


class ShardedParallel(Parallel):
    """A run whose models are sharded with fully_shard: gathered state for checkpoints,
    sharded state loaded from a whole one, gradients reduced at a step's last micro-batch."""

    gathers = True  # every process takes part in a checkpoint (the gather)

    def roots(self) -> list[FSDPModule]:
        return [m for m in self.wrappers.values() if isinstance(m, FSDPModule)]

    @contextlib.contextmanager
    def accumulating(self, last: bool) -> Iterator[None]:
        for root in self.roots():
            root.set_requires_gradient_sync(last)
        try:
            yield
        finally:
            for root in self.roots():
                root.set_requires_gradient_sync(True)

    def model_state(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """The whole state dict (single-process keys, tied weights under each name) on rank
        0, on the CPU; {} on the other ranks."""
        return self._rank0(gathered(model.state_dict()))

    def load_model_state(self, model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
        """Each process keeps its shard of a whole state dict (every process passes it)."""
        own = model.state_dict()
        model.load_state_dict({k: shard_like(state[k], own[k]) if k in own else state[k]
                               for k in state})

    def optimizer_state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer
                        ) -> dict[str, Any]:
        """The whole optimizer state on rank 0 in the format `optimizer.state_dict()` has in
        one process (so any number of processes resumes it); {} on the other ranks."""
        state = optimizer.state_dict()
        whole = {"state": {i: gathered(values) for i, values in state["state"].items()},
                 "param_groups": state["param_groups"]}
        return self._rank0(whole)

    def load_optimizer_state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                             state: dict[str, Any]) -> None:
        """Each process keeps its shard of a whole optimizer state (single-process format)."""
        params = [p for group in optimizer.param_groups for p in group["params"]]
        optimizer.load_state_dict({
            "state": {i: {k: shard_like(v, params[int(i)]) if v.dim() else v
                          for k, v in values.items()}
                      for i, values in state["state"].items()},
            "param_groups": state["param_groups"]})

    def _rank0(self, state: dict) -> dict:
        return state if self.ranks.is_main else {}

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """The whole weights gathered once in every process, kept through the evaluation's
        forward passes (which then need no collective, however many each process runs)."""
        units = [m for root in self.roots() for m in root.modules()
                 if isinstance(m, FSDPModule)]
        for unit in units:
            unit.set_reshard_after_forward(False, recurse=False)
            unit.unshard()
        try:
            yield
        finally:
            for unit in units:
                unit.reshard()
                unit.set_reshard_after_forward(True, recurse=False)
                _forget_forwards(unit)


def gathered(state: dict[str, Any]) -> dict[str, Any]:
    """Each sharded tensor of `state` whole (a collective: every process calls it, with the
    same keys in the same order), on the CPU."""
    return {k: (v.full_tensor() if isinstance(v, DTensor) else v).detach().cpu()
            if isinstance(v, torch.Tensor) else v for k, v in state.items()}


def shard_like(whole: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """This process's shard of `whole`, sharded as `like` is (no collective: every process
    holds `whole`); `whole` itself when `like` is not sharded."""
    if not isinstance(like, DTensor):
        return whole
    return distribute_tensor(whole.to(like.device, like.dtype), like.device_mesh,
                             like.placements, src_data_rank=None)


def _forget_forwards(unit: FSDPModule) -> None:
    """Drop the order of the evaluation's forward passes, which FSDP records to prefetch in
    the next backward (that backward follows the next training forward only)."""
    state = unit._get_fsdp_state()
    for group in state._fsdp_param_groups:
        group._post_forward_indices.clear()
        group.comm_ctx.post_forward_order.clear()

