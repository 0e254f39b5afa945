"""Normalization layers against their formulas, written out here: RMS norm, group norm,
instance norm (with and without running statistics) and 3-D batch norm."""

from __future__ import annotations

import pytest
import torch

from dlspec.backends.torch_module import instantiate
from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.registry import op_registry


def layer(config: dict, shape: tuple) -> torch.nn.Module:
    op = op_registry()[config["op"]].model_validate(config)
    return instantiate(op.build(TensorType(shape)))


def standardize(x: torch.Tensor, dims: tuple[int, ...], eps: float) -> torch.Tensor:
    mean = x.mean(dims, keepdim=True)
    variance = x.var(dims, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(variance + eps)


def test_rmsnorm_divides_by_the_root_mean_square_and_scales():
    norm = layer({"op": "rmsnorm", "dims": 2, "eps": 1e-6}, ("N", "seq", 3, 4))
    torch.nn.init.normal_(norm.weight)
    x = torch.randn(2, 5, 3, 4)
    rms = torch.sqrt((x ** 2).mean((-2, -1), keepdim=True) + 1e-6)
    torch.testing.assert_close(norm(x), x / rms * norm.weight)


def test_rmsnorm_default_eps_is_the_machine_epsilon():
    norm = layer({"op": "rmsnorm", "elementwise_affine": False}, ("N", 8))
    x = torch.full((1, 8), 1e-4)
    eps = torch.finfo(torch.float32).eps
    torch.testing.assert_close(norm(x), x / torch.sqrt(x.pow(2).mean() + eps))
    assert list(norm.parameters()) == []


def test_groupnorm_normalizes_groups_of_channels_per_sample():
    norm = layer({"op": "groupnorm", "num_groups": 3, "eps": 1e-3}, ("N", 6, "H", "W"))
    torch.nn.init.normal_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    x = torch.randn(2, 6, 4, 5) * 3 + 1
    grouped = standardize(x.reshape(2, 3, 2, 4, 5), (2, 3, 4), 1e-3).reshape(2, 6, 4, 5)
    expected = grouped * norm.weight.reshape(1, 6, 1, 1) + norm.bias.reshape(1, 6, 1, 1)
    torch.testing.assert_close(norm(x), expected)


def test_groupnorm_hint_names_a_group_count_that_divides():
    op = op_registry()["groupnorm"].model_validate({"op": "groupnorm", "num_groups": 32})
    with pytest.raises(RuleError) as info:
        op.infer(TensorType(("N", 48, 8, 8)))
    assert "e.g. 24" in info.value.hint


@pytest.mark.parametrize("train", [True, False])
def test_instancenorm_uses_each_samples_own_statistics(train):
    norm = layer({"op": "instancenorm2d"}, ("N", 3, 5, 6)).train(train)
    x = torch.randn(4, 3, 5, 6) * 2 + 3
    torch.testing.assert_close(norm(x), standardize(x, (2, 3), 1e-5))


def test_instancenorm_with_running_stats_uses_them_in_eval():
    norm = layer({"op": "instancenorm1d", "track_running_stats": True, "momentum": 1.0,
                  "affine": True}, ("N", 2, "seq"))
    x = torch.randn(4, 2, 9) * 2 + 3
    torch.testing.assert_close(norm.train()(x), standardize(x, (2,), 1e-5))
    # momentum 1: the running statistics are the last batch's, averaged over its samples
    mean = x.mean(2).mean(0)
    variance = x.var(2, unbiased=True).mean(0)
    torch.testing.assert_close(norm.running_mean, mean)
    torch.testing.assert_close(norm.running_var, variance)
    expected = (x - mean[:, None]) / torch.sqrt(variance[:, None] + 1e-5)
    torch.testing.assert_close(norm.eval()(x), expected)


def test_batchnorm3d_normalizes_each_channel_over_batch_and_volume():
    norm = layer({"op": "batchnorm3d", "affine": False}, ("N", 2, 3, 4, 5)).train()
    x = torch.randn(3, 2, 3, 4, 5) * 4 - 1
    torch.testing.assert_close(norm(x), standardize(x, (0, 2, 3, 4), 1e-5))


def test_layernorm2d_is_convnexts_channels_first_layer_norm():
    from reference_models import torchvision_models

    torchvision_models()
    from torchvision.models.convnext import LayerNorm2d

    norm = layer({"op": "layernorm2d"}, ("N", 6, 3, 4))
    reference = LayerNorm2d(6, eps=1e-6)
    with torch.no_grad():
        for p in (*norm.parameters(), *reference.parameters()):
            p.copy_(torch.arange(6.0) - 2)
    x = torch.randn(2, 6, 3, 4) * 3 + 1
    assert torch.equal(norm(x), reference(x))
    torch.testing.assert_close(norm(x), standardize(x, (1,), 1e-6)
                               * (torch.arange(6.0) - 2).view(6, 1, 1) * 2 / 2
                               + (torch.arange(6.0) - 2).view(6, 1, 1))
