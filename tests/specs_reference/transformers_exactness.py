"""Shared steps of the exactness tests against Hugging Face transformers (llama, t5-small):
the reference's parameters drawn N(0, 1) from a seed (so a misplaced norm weight or bias table
shows in the outputs), its state dict mapped with the spec's shipped mapping and loaded
strictly into the compiled spec."""

from __future__ import annotations

from pathlib import Path

import torch

from dlspec.backends.torch_module import build_module
from dlspec.compiler import check_spec
from dlspec.weights import map_weights, shipped_mapping

SPECS = Path(__file__).resolve().parents[2] / "specs"


def randomized(reference: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return reference.eval()


def mapped_spec(spec: str, reference: torch.nn.Module, overrides: list[str], source=None):
    """(the compiled spec with the reference's weights, what the mapping reported); `source`
    replaces the reference's state dict (a file's tensors)."""
    graph = check_spec(SPECS / f"{spec}.yaml", overrides).graph
    model = build_module(graph, spec).eval()
    source = reference.state_dict() if source is None else source
    mapped = map_weights(source, shipped_mapping(spec), model.state_dict())
    assert mapped.complete and not mapped.unused, mapped.lines()
    model.load_state_dict(mapped.tensors, strict=True)
    return model, mapped


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())  # a tied tensor counts once


def saved_pretrained(reference, folder: Path) -> dict[str, torch.Tensor]:
    """The tensors of the model.safetensors that `save_pretrained` writes (as the Hub has
    them): of a group of tied tensors it keeps one."""
    from safetensors.torch import load_file

    reference.save_pretrained(folder)
    return load_file(folder / "model.safetensors")
