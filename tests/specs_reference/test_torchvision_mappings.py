"""The shipped mappings for resnet18, resnet50, mobilenet_v2 and vit_b_16 turn torchvision's
state dicts (seeded random weights, batch-norm statistics drawn away from 0/1) into the
specs' weights: loaded strictly, the spec gives the reference's outputs within 1e-5 at
float32, with as many parameters. ResNet-50 and ViT-B/16 run full size in the slow run;
by default ViT is a small variant built alike on both sides."""

from __future__ import annotations

import pytest
import torch
from reference_models import torchvision_models
from weights_exactness import (
    SPECS,
    imported_spec,
    max_difference,
    parameters,
    randomize_batch_norms,
    save_torchvision,
)

from dlspec.api import check
from dlspec.weights import map_weights, shipped_mapping
from dlspec.weights.importing import spec_tensors


def _agree(spec, reference, overrides, image, tmp_path, expected_parameters=None, batch=2,
           initialize=True):
    reference = reference.eval()
    randomize_batch_norms(reference)
    model, result = imported_spec(spec, save_torchvision(reference, tmp_path), overrides,
                                  tmp_path, initialize)
    assert len(result.mapped.tensors) == len(reference.state_dict())
    x = torch.randn(batch, 3, image, image, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff, scale = max_difference(model(x), reference(x))
    assert parameters(model) == parameters(reference)
    if expected_parameters is not None:
        assert parameters(model) == expected_parameters
    assert scale > 0.1  # the outputs are not all near zero
    assert diff <= 1e-5


def test_resnet18(tmp_path):
    torch.manual_seed(0)
    _agree("resnet18", torchvision_models().resnet18(), ["inputs.image={shape: [3, 64, 64]}"],
           64, tmp_path, 11_689_512)


def test_mobilenet_v2(tmp_path):
    torch.manual_seed(0)
    _agree("mobilenet_v2", torchvision_models().mobilenet_v2(),
           ["inputs.image={shape: [3, 64, 64]}"], 64, tmp_path, 3_504_872)


def test_small_vit(tmp_path):
    models = torchvision_models()
    torch.manual_seed(0)
    reference = models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                         hidden_dim=32, mlp_dim=64, num_classes=10)
    with torch.no_grad():  # torchvision zeroes the head: draw it, or the output says nothing
        reference.heads.head.weight.normal_()
        reference.heads.head.bias.normal_()
    _agree("vit_b_16", reference, ["image_size=32", "patch=8", "layers=2", "heads=2", "d=32",
                                   "mlp=64", "num_classes=10"], 32, tmp_path)


@pytest.mark.slow
def test_resnet50(tmp_path):
    torch.manual_seed(0)
    _agree("resnet50", torchvision_models().resnet50(), ["inputs.image={shape: [3, 64, 64]}"],
           64, tmp_path, 25_557_032)


def test_full_size_vit_b_16_maps_every_tensor():
    """Names and shapes only (nothing allocated: both models on the meta device)."""
    with torch.device("meta"):
        reference = torchvision_models().vit_b_16()
    checked = check(SPECS / "vit_b_16.yaml")
    mapped = map_weights(reference.state_dict(), shipped_mapping("vit_b_16"),
                         spec_tensors(checked))
    assert mapped.complete and not mapped.unused, mapped.lines()
    assert sum(t.numel() for t in mapped.tensors.values()) == parameters(reference) \
        == 86_567_656


@pytest.mark.slow
def test_vit_b_16(tmp_path):
    """torchvision's own initialization of 86M parameters takes seconds: the reference is
    made on the meta device and drawn here, seeded (N(0, 0.02); norm scales near 1)."""
    with torch.device("meta"):
        reference = torchvision_models().vit_b_16()
    reference.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in reference.state_dict().items():
            tensor.normal_(generator=generator, std=0.02)
            if name.endswith("weight") and tensor.dim() == 1:  # layer norms
                tensor.add_(1.0)
    _agree("vit_b_16", reference, [], 224, tmp_path, 86_567_656, batch=1,
           initialize=False)
