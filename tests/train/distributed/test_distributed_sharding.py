"""The global order cut into pieces per rank, and each piece's gradient weighted so that the
average over the ranks is the global batch's gradient (uneven and empty pieces included)."""

from __future__ import annotations

import copy

import pytest
import torch
from train_data_fixtures import mlp, supervised_stepper

from dlspec.train.distributed.ranks import Ranks
from dlspec.train.distributed.sharding import piece, piece_bounds
from dlspec.train.distributed.strategy import Parallel
from dlspec.train.engine.batch import Tensors
from dlspec.train.engine.precision import Precision
from dlspec.train.engine.steps import StepPlan
from dlspec.train.recipe.config import CrossEntropyConfig
from dlspec.train.recipe.losses import build_loss


@pytest.mark.parametrize("world", [1, 2, 3, 5])
@pytest.mark.parametrize("size", [0, 1, 2, 7, 64])
def test_pieces_cover_a_micro_batch_in_order(size, world):
    bounds = [piece_bounds(size, rank, world) for rank in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == size
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_an_empty_piece_is_the_first_sample_weighted_zero():
    order = torch.tensor([9, 4, 7])
    assert [(i.tolist(), n) for i, n in (piece(order, 3, r, 4) for r in range(4))] == \
        [([9], 1), ([4], 1), ([7], 1), ([9], 0)]
    assert piece(slice(10, 13), 3, 1, 2) == (slice(12, 13), 1)
    assert piece(slice(10, 11), 1, 1, 2) == (slice(10, 11), 0)


def test_every_rank_reads_its_piece_of_the_same_global_batches():
    order = torch.randperm(70, generator=torch.Generator().manual_seed(0))
    whole = StepPlan.create(70, 16, 1, accumulate=2)
    for step in range(whole.steps_per_epoch):
        pieces = [StepPlan.create(70, 16, 1, 2, rank, 3).batches(step, order)
                  for rank in range(3)]
        for m, (index, size) in enumerate(whole.batches(step, order)):
            parts = [pieces[rank][m] for rank in range(3)]
            assert sum(n for _, n in parts) == size
            assert torch.cat([i for i, n in parts if n]).tolist() == index.tolist()


class LocalRanks(Ranks):
    """A rank whose sums stay local (the test averages the ranks itself)."""

    def sum_(self, tensors):
        return tensors


def one_sgd_step(model, data, micro, total, world=1, rank=0):
    loss = build_loss(CrossEntropyConfig(), "classification")
    stepper = supervised_stepper(model, loss, torch.optim.SGD(model.parameters(), lr=1.0),
                                 Precision("fp32", "cpu"))
    if world > 1:
        stepper.parallel, stepper.world = Parallel(LocalRanks(rank, world)), world
    result = stepper.step(data, micro, total=total)
    return result, model.state_dict()


@pytest.mark.parametrize("world", [2, 3])
def test_averaged_gradients_are_the_global_batch_gradient(world):
    """18 samples in batches of 8 (2 per step): the uneven last step has 2 samples, so one
    of three ranks gets none. DDP averages the ranks' gradients; with SGD at lr 1 that is
    the average of the weights each rank's own gradient gives."""
    torch.manual_seed(0)
    data = Tensors({"x": torch.randn(18, 2)}, torch.randint(0, 3, (18,)))
    order = torch.randperm(18)
    whole = StepPlan.create(18, 8, 1, accumulate=2)
    assert whole.bounds == ((0, 16), (16, 18))
    for step, (start, stop) in enumerate(whole.bounds):
        model = mlp()
        expected, weights = one_sgd_step(copy.deepcopy(model), data,
                                         whole.batches(step, order), stop - start)
        ranks = [one_sgd_step(copy.deepcopy(model), data,
                              StepPlan.create(18, 8, 1, 2, r, world).batches(step, order),
                              stop - start, world, r) for r in range(world)]
        for name, tensor in weights.items():
            mean = sum(state[name] for _, state in ranks) / world
            torch.testing.assert_close(mean, tensor, rtol=0, atol=1e-6)
        # each rank's share of the step's loss adds up to the global batch's mean loss
        assert sum(r.loss for r, _ in ranks) == pytest.approx(expected.loss, abs=1e-6)


def test_each_process_of_a_torchrun_job_refuses_an_alternating_objective():
    """The check `dlspec train --nproc` makes before starting processes is the one each
    process of a plain torchrun job makes: one process trains a GAN, two refuse it."""
    from dlspec.errors import TrainError
    from dlspec.train.objectives.gan import GanConfig
    from dlspec.train.objectives.supervised import SupervisedConfig

    gan = GanConfig(op="gan")
    Parallel(Ranks(0, 1)).check(gan)
    Parallel(Ranks(0, 2)).check(SupervisedConfig())
    with pytest.raises(TrainError, match="the gan objective alternates the updates of its "
                                         "models in each step"):
        Parallel(Ranks(0, 2)).check(gan)
