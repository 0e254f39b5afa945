"""The spec's `train.distributed`: how a run on several processes shares its work (no torch).

One process ignores this section. Under torchrun (or `dlspec train --nproc N`) every process
trains the same spec; `strategy` says how the model is kept: `ddp` replicates it and
averages the gradients (DistributedDataParallel), `fsdp` shards parameters, gradients and
optimizer state across the processes (`fully_shard`). `data.batch_size` is the global batch
either way: each global micro-batch is cut into one piece per process (docs/distributed.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from dlspec.train.config_base import StrictConfig

BACKENDS = ("gloo", "nccl")


def default_backend(device: str) -> str:
    """The torch.distributed backend for a resolved device: nccl on CUDA, gloo on the CPU."""
    return "nccl" if device == "cuda" else "gloo"


class DistributedConfig(StrictConfig):
    """How several processes (torchrun, `dlspec train --nproc N`) train one model together."""

    strategy: Literal["ddp", "fsdp"] = Field(
        "ddp", description="ddp: every process holds the whole model and the gradients are "
                           "averaged (DistributedDataParallel); fsdp: parameters, gradients "
                           "and optimizer state are sharded across the processes "
                           "(fully_shard). Ignored by a run of one process.")
    backend: Literal["auto", "gloo", "nccl"] = Field(
        "auto", description="The torch.distributed backend: auto picks nccl when training "
                            "on CUDA, gloo on the CPU.")
    find_unused_parameters: bool = Field(
        False, strict=True,
        description="ddp: let a step leave some parameters without a gradient (a layer "
                    "skipped by its `when`, an unused output); slower, so off by default.")
    timeout_s: int = Field(
        600, ge=10, strict=True,
        description="Seconds a process waits for the others at a collective (a gradient "
                    "average, a checkpoint) before the run stops with an error.")


    @model_validator(mode="after")
    def _options_fit_the_strategy(self) -> DistributedConfig:
        if self.strategy == "fsdp" and self.find_unused_parameters:
            raise ValueError("find_unused_parameters is an option of strategy ddp; fsdp "
                             "reduces each layer's gradients on its own and needs no such "
                             "option: leave it out")
        return self
