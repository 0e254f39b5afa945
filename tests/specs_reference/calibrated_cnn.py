"""A randomly initialised torchvision CNN in a state like a trained one, so that comparing
outputs at 1e-5 means something: every batch norm gets a random affine and the running
statistics of one batch (without them, activations grow or vanish with depth), and linear
layers torch's default scale (torchvision's std 0.01 heads give logits near 0)."""

from __future__ import annotations

import torch


@torch.no_grad()
def calibrate(model: torch.nn.Module, image: torch.Tensor, seed: int = 0) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            bound = module.in_features ** -0.5
            module.weight.copy_(torch.rand(module.weight.shape, generator=generator) * 2 * bound
                                - bound)
            module.bias.copy_(torch.rand(module.bias.shape, generator=generator) * 0.2 - 0.1)
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
            module.bias.copy_(torch.rand(module.bias.shape, generator=generator) * 0.4 - 0.2)
            module.momentum = 1.0  # the running statistics become this batch's
    model.train()
    model(image)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = 0.1
    return model.eval()


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()
