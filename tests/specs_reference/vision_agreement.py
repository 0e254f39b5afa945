"""The step the swin_t and convnext_tiny exactness tests share, through the public path of
weights_exactness: the reference's state dict saved as safetensors, imported with the spec's
shipped mapping, loaded strictly, both models run on the same images."""

from __future__ import annotations

import torch
from weights_exactness import imported_spec, max_difference, parameters, save_torchvision


def agreement(spec: str, reference: torch.nn.Module, overrides: list[str], image: int,
              folder, batch: int = 2) -> tuple[float, float, int, int]:
    """(max |spec - reference|, the reference's largest |output|, the parameters of each)."""
    reference = reference.eval()
    model, result = imported_spec(spec, save_torchvision(reference, folder), overrides, folder)
    assert len(result.mapped.tensors) == len(model.state_dict())
    x = torch.randn(batch, 3, image, image, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff, scale = max_difference(model(x), reference(x))
    return diff, scale, parameters(model), parameters(reference)
