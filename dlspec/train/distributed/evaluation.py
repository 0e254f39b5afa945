"""Validation and test numbers of a distributed run, equal to one process's on the same
weights.

Rank 0's buffers (batch-norm statistics: what its checkpoints hold) are first broadcast.
An objective that reduces its numbers over the processes (`Objective.shards_evaluation`:
supervised, whose torchmetrics metrics sync their states, and whose loss sums are added up
by `reduce_totals`) measures each process's contiguous shard of the split; any other
objective measures the whole split in every process (the same numbers, no speed-up).
"""

from __future__ import annotations

from typing import Any

import torch

from dlspec.train.distributed.ranks import Ranks, current
from dlspec.train.distributed.sharding import shard_bounds
from dlspec.train.distributed.strategy import parallel_of


def shard(data: Any, ranks: Ranks) -> Any:
    """Rank `ranks.rank`'s contiguous shard of a split (the split itself in one process)."""
    if not ranks.several:
        return data
    start, stop = shard_bounds(len(data), ranks.rank, ranks.world)
    return data.rows(slice(start, stop))


def evaluated_split(run: Any, name: str) -> tuple[Any, bool]:
    """What this process measures of split `name` (its shard, or the whole split), and
    whether it is a shard; rank 0's buffers are broadcast first."""
    data, ranks = run.splits[name], run.ranks
    if not ranks.several:
        return data, False
    ranks.broadcast_state(run.model, buffers_only=True)
    if type(run.objective).shards_evaluation:
        return shard(data, ranks), True
    return data, False


def evaluate_split(run: Any, name: str, batch_size: int) -> dict[str, float]:
    """The loss and metrics of split `name` (`<name>_<metric>`), the same in every process."""
    data, _ = evaluated_split(run, name)
    with parallel_of(run).evaluating():  # fsdp: the whole weights, gathered once
        return run.objective.evaluate(data, name, batch_size)


def after_test(run: Any) -> None:
    """What the objective writes about the test split (rank 0 writes; with a shard every
    process measures its part and rank 0 writes the whole)."""
    data, sharded = evaluated_split(run, "test")
    with parallel_of(run).evaluating():  # fsdp: the whole weights, gathered once
        _after_test(run, data, sharded)


def _after_test(run: Any, data: Any, sharded: bool) -> None:
    if sharded:
        run.objective.after_test(run.files.root if run.ranks.is_main else None, data)
    elif run.ranks.is_main:
        run.objective.after_test(run.files.root, data)


def reduce_totals(totals: dict[str, torch.Tensor], count: int
                  ) -> tuple[dict[str, torch.Tensor], int]:
    """Sums of a shard (and its sample count) added up over the processes of a distributed
    run; unchanged in one process."""
    ranks = current()
    if not ranks.several:
        return totals, count
    keys = list(totals)
    device = next(iter(totals.values())).device if totals else "cpu"
    summed = ranks.sum_([*(totals[k].to(device) for k in keys),
                         torch.tensor(float(count), device=device)])
    return dict(zip(keys, summed[:-1], strict=True)), int(summed[-1].item())
