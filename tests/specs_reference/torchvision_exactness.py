"""Shared steps of the exactness tests against torchvision (swin_t, convnext_tiny): build the
reference with seeded random weights, map its state dict with the spec's shipped mapping,
load it strictly into the compiled spec, and compare the two on one input."""

from __future__ import annotations

from pathlib import Path

import torch

from dlspec.backends.torch_module import build_module
from dlspec.compiler import check_spec
from dlspec.weights import map_weights, shipped_mapping

SPECS = Path(__file__).resolve().parents[2] / "specs"


def mapped_spec(spec: str, reference: torch.nn.Module, overrides: list[str]):
    """(the compiled spec with the reference's weights, what the mapping reported)."""
    graph = check_spec(SPECS / f"{spec}.yaml", overrides).graph
    model = build_module(graph, spec).eval()
    mapped = map_weights(reference.state_dict(), shipped_mapping(spec), model.state_dict())
    model.load_state_dict(mapped.tensors, strict=True)
    return model, mapped


def max_difference(spec: str, reference: torch.nn.Module, overrides: list[str],
                   image: int, batch: int = 2) -> tuple[float, float, int, int]:
    """(max |spec - reference| on `batch` random images, the reference's largest |output|,
    the parameters of each)."""
    reference = reference.eval()
    model, mapped = mapped_spec(spec, reference, overrides)
    assert mapped.complete and not mapped.unused, mapped.lines()
    x = torch.randn(batch, 3, image, image, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want, got = reference(x), model(x)
    assert got.shape == want.shape
    return ((got - want).abs().max().item(), want.abs().max().item(),
            sum(p.numel() for p in model.parameters()),
            sum(p.numel() for p in reference.parameters()))
