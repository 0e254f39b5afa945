"""Dropout honours train/eval: the identity in eval mode; while training, plain dropout zeroes
elements, the channel variants zero whole channels, alpha dropout keeps mean and variance."""

from __future__ import annotations

import pytest
import torch

from dlspec.backends.torch_module import instantiate
from dlspec.ir.types import TensorType
from dlspec.ops.registry import op_registry

CHANNEL_DROPOUT = {"dropout1d": (6, 50), "dropout2d": (6, 7, 8), "dropout3d": (6, 3, 4, 5)}


def module(name: str, shape: tuple[int, ...], p: float = 0.5) -> torch.nn.Module:
    op = op_registry()[name].model_validate({"op": name, "p": p})
    return instantiate(op.build(TensorType(shape)))


@pytest.mark.parametrize("name", ["dropout", "alpha_dropout", *CHANNEL_DROPOUT])
def test_eval_mode_is_the_identity(name):
    shape = (4, *CHANNEL_DROPOUT.get(name, (6, 5)))
    x = torch.randn(shape)
    assert torch.equal(module(name, shape).eval()(x), x)


@pytest.mark.parametrize("name", CHANNEL_DROPOUT)
def test_training_zeroes_whole_channels_and_scales_the_rest(name):
    shape = (8, *CHANNEL_DROPOUT[name])
    torch.manual_seed(0)
    x = torch.rand(shape) + 1.0  # no zeros of its own
    out = module(name, shape, p=0.5).train()(x)
    per_channel = out.flatten(2)
    dropped = (per_channel == 0).all(-1)
    kept = (per_channel != 0).all(-1)
    assert torch.equal(dropped | kept, torch.ones_like(dropped))  # all or nothing
    assert 0 < dropped.sum() < dropped.numel()
    torch.testing.assert_close(per_channel[kept], 2 * x.flatten(2)[kept])


def test_plain_dropout_zeroes_single_elements():
    torch.manual_seed(0)
    x = torch.rand(8, 6, 50) + 1.0
    out = module("dropout", (8, 6, 50), p=0.3).train()(x)
    zero = out == 0
    assert 0.25 < zero.float().mean() < 0.35
    assert not zero.all(-1).any()  # no channel loses everything
    torch.testing.assert_close(out[~zero], x[~zero] / 0.7)


def test_alpha_dropout_keeps_a_standard_normal_standard():
    torch.manual_seed(0)
    out = module("alpha_dropout", (1, 200_000), p=0.2).train()(torch.randn(1, 200_000))
    _, counts = out.unique(return_counts=True)  # dropped elements all get one value
    assert counts.max().item() / out.numel() == pytest.approx(0.2, abs=0.01)
    assert out.mean().item() == pytest.approx(0.0, abs=0.02)
    assert out.std().item() == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("name", ["dropout", "alpha_dropout", *CHANNEL_DROPOUT])
def test_int64_input_fails_in_torch_while_training_as_the_rule_says(name):
    shape = (4, *CHANNEL_DROPOUT.get(name, (6, 5)))
    with pytest.raises(RuntimeError):
        module(name, shape).train()(torch.randint(0, 5, shape))
