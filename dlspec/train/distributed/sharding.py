"""Each global micro-batch cut into one piece per process, and a split's shard.

The cut depends only on the micro-batch's size and the world size, so every process knows
every piece: rank r takes samples [start, stop) of `piece_bounds`, the first `size % world`
ranks one sample more. A rank whose piece is empty (a last micro-batch smaller than the
world) still runs its forward and backward, on the micro-batch's first sample weighted 0,
because DistributedDataParallel averages the gradients of every rank at every step.
"""

from __future__ import annotations

import torch


def piece_bounds(size: int, rank: int, world: int) -> tuple[int, int]:
    """[start, stop) of rank `rank`'s piece of `size` samples cut into `world` pieces."""
    base, extra = divmod(size, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def piece(index: torch.Tensor | slice, size: int, rank: int, world: int
          ) -> tuple[torch.Tensor | slice, int]:
    """Rank `rank`'s piece of one global micro-batch (`index` into the split, `size`
    samples) as (index, samples); an empty piece is the first sample with 0 samples."""
    start, stop = piece_bounds(size, rank, world)
    samples = stop - start
    if samples == 0:
        start, stop = 0, 1
    if isinstance(index, slice):
        first = index.start or 0
        return slice(first + start, first + stop), samples
    return index[start:stop], samples


def shard_bounds(samples: int, rank: int, world: int) -> tuple[int, int]:
    """[start, stop) of rank `rank`'s contiguous shard of a split (for evaluation)."""
    return piece_bounds(samples, rank, world)
