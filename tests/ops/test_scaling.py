"""scale multiplies by its constant; layer_scale learns one factor per channel shaped to
broadcast (ConvNeXt's (C, 1, 1)), starting at init_value; drop_path drops whole samples while
training and is the identity in eval mode (the op table exports it: identity in ONNX too)."""

from __future__ import annotations

import torch
from harness import T

from dlspec.backends.torch_module import instantiate
from dlspec.ops.registry import op_registry


def layer(config: dict, *types):
    op = op_registry()[config["op"]].model_validate(config)
    return op, instantiate(op.build(*types))


def test_scale_multiplies_by_the_constant():
    _, scale = layer({"op": "scale", "factor": 768 ** 0.5}, T("N", 4))
    x = torch.randn(3, 4)
    assert torch.equal(scale(x), x * 768 ** 0.5)


def test_layer_scale_is_per_channel_and_starts_at_init_value():
    op, gamma = layer({"op": "layer_scale", "init_value": 0.5}, T("N", 3, 2, 2))
    assert op.param_shapes(T("N", 3, 2, 2)) == {"weight": (3, 1, 1)}
    with torch.no_grad():
        gamma.weight.copy_(torch.tensor([1.0, 2.0, 3.0]).view(3, 1, 1))
    out = gamma(torch.ones(2, 3, 2, 2))
    assert out[:, :, 1, 1].tolist() == [[1.0, 2.0, 3.0]] * 2
    _, last = layer({"op": "layer_scale", "dim": -1}, T("N", "seq", 5))
    assert torch.equal(last.weight, torch.full((5,), 1e-6))


def test_drop_path_drops_whole_samples_in_training_only():
    _, drop = layer({"op": "drop_path", "p": 0.5}, T("N", 6, 5))
    torch.manual_seed(0)
    x = torch.rand(64, 6, 5) + 1.0
    out = drop.train()(x).flatten(1)
    dropped, kept = (out == 0).all(1), (out != 0).all(1)
    assert torch.equal(dropped | kept, torch.ones(64, dtype=torch.bool))  # whole samples
    assert 16 < dropped.sum() < 48
    torch.testing.assert_close(out[kept], 2 * x.flatten(1)[kept])
    assert torch.equal(drop.eval()(x), x)

