"""Shared steps of the exactness tests of the shipped weight mappings (resnet18, resnet50,
mobilenet_v2, vit_b_16, bert-base, gpt2-small), through the public path: the reference's
state dict saved as safetensors (as torchvision users save it, or as transformers'
save_pretrained writes model.safetensors), imported with `import_weights` and the spec's
shipped mapping, read back as a dlspec checkpoint, loaded strictly into the compiled spec."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from dlspec.api import check, compile_module
from dlspec.backends.torch_module import build_module
from dlspec.train.run_folder.checkpoint import load_checkpoint
from dlspec.weights import shipped_mapping
from dlspec.weights.importing import import_weights

SPECS = Path(__file__).resolve().parents[2] / "specs"


def save_torchvision(model: torch.nn.Module, folder: Path) -> Path:
    """The model's state dict as one safetensors file."""
    path = folder / "reference.safetensors"
    save_file(model.state_dict(), str(path))
    return path


def save_transformers(model, folder: Path) -> Path:
    """model.safetensors as `save_pretrained` writes it (tied weights stored once)."""
    model.save_pretrained(folder / "hf", safe_serialization=True)
    return folder / "hf" / "model.safetensors"


def randomize_batch_norms(model: torch.nn.Module, seed: int = 0) -> None:
    """Running statistics and affine parameters away from 0/1, so that a mapping mixing
    them up changes the outputs."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                for tensor, low, high in ((module.running_mean, -0.2, 0.2),
                                          (module.running_var, 0.5, 1.5),
                                          (module.weight, 0.5, 1.0), (module.bias, -0.2, 0.2)):
                    tensor.copy_(torch.rand(tensor.shape, generator=generator)
                                 * (high - low) + low)


def imported_spec(spec: str, source: Path, overrides: list[str], folder: Path,
                  initialize: bool = True):
    """(the compiled spec with the imported weights, in eval mode; the import's result).
    Without `initialize` the module is built on the meta device and then allocated, not
    initialized (seconds saved on ViT-B; every tensor is loaded; the spec must tie none:
    moving off the meta device unties)."""
    checked = check(SPECS / f"{spec}.yaml", overrides)
    result = import_weights(checked, source, shipped_mapping(spec), folder / "imported.safetensors")
    assert result.mapped.complete and not result.mapped.unused, result.mapped.lines()
    if initialize:
        model = compile_module(checked, seed=1).eval()
    else:
        with torch.device("meta"):
            model = build_module(checked.graph, spec).eval()
        assert not _non_persistent(model)
        model.to_empty(device="cpu")
    model.load_state_dict(load_checkpoint(folder / "imported.safetensors").state_dict,
                          strict=True)
    return model, result


def _non_persistent(model: torch.nn.Module) -> list[str]:
    """Buffers a state dict leaves out (they would stay uninitialized)."""
    stored = set(model.state_dict())
    return [name for name, _ in model.named_buffers() if name not in stored]


def parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def max_difference(got: torch.Tensor, want: torch.Tensor) -> tuple[float, float]:
    """(max |got - want|, max |want|), the shapes being equal."""
    assert got.shape == want.shape
    return (got - want).abs().max().item(), want.abs().max().item()
