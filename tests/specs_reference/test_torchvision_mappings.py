"""The shipped mappings for resnet18, resnet50, mobilenet_v2, vit_b_16, alexnet, vgg16,
googlenet, densenet121 and efficientnet_b0 turn torchvision's
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


def _drawn_on_meta(build):
    """The reference made on the meta device, then drawn here, seeded: He-scaled weights and
    biases N(0, 0.1), so that the outputs stay near unit scale through the plain ReLU stacks
    (PyTorch's and torchvision's initializations shrink them to near zero); seconds saved on
    the big classifiers."""
    with torch.device("meta"):
        reference = build()
    reference.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in reference.state_dict().values():
            std = (2.0 / tensor[0].numel()) ** 0.5 if tensor.dim() > 1 else 0.1
            tensor.normal_(generator=generator, std=std)
    return reference


@pytest.mark.parametrize("name, full", [("alexnet", 61_100_840), ("vgg16", 138_357_544)])
def test_full_size_classifiers_map_every_tensor(name, full):
    """Names and shapes only, on the meta device; their exactness at full size (a 37M and a
    103M parameter first linear layer) is in the slow run."""
    with torch.device("meta"):
        reference = getattr(torchvision_models(), name)()
    mapped = map_weights(reference.state_dict(), shipped_mapping(name),
                         spec_tensors(check(SPECS / f"{name}.yaml")))
    assert mapped.complete and not mapped.unused, mapped.lines()
    assert len(mapped.tensors) == len(reference.state_dict())
    assert sum(t.numel() for t in mapped.tensors.values()) == parameters(reference) == full


@pytest.mark.slow
def test_alexnet(tmp_path):
    _agree("alexnet", _drawn_on_meta(torchvision_models().alexnet),
           ["inputs.image={shape: [3, 64, 64]}"], 64, tmp_path, 61_100_840, batch=1,
           initialize=False)


def _vgg16(width: int = 64, hidden: int = 4096, num_classes: int = 1000):
    """torchvision's VGG with configuration D, at `width` channels first (64 in torchvision)
    and `hidden` units in the classifier (4096: torchvision fixes both; the narrow one gets
    its three linear layers replaced)."""
    vgg = torchvision_models().vgg
    config = [c if c == "M" else c * width // 64 for c in vgg.cfgs["D"]]
    model = vgg.VGG(vgg.make_layers(config), num_classes=num_classes, init_weights=False)
    if (width, hidden) != (64, 4096):
        model.classifier[0] = torch.nn.Linear(8 * width * 7 * 7, hidden)
        model.classifier[3] = torch.nn.Linear(hidden, hidden)
        model.classifier[6] = torch.nn.Linear(hidden, num_classes)
    return model


def test_narrow_vgg16(tmp_path):
    _agree("vgg16", _drawn_on_meta(lambda: _vgg16(8, 64, 10)),
           ["width=8", "hidden=64", "num_classes=10", "inputs.image={shape: [3, 32, 32]}"], 32,
           tmp_path)


@pytest.mark.slow
def test_vgg16(tmp_path):
    _agree("vgg16", _drawn_on_meta(_vgg16), ["inputs.image={shape: [3, 32, 32]}"], 32,
           tmp_path, 138_357_544, batch=1, initialize=False)


def test_googlenet(tmp_path):
    torch.manual_seed(0)
    _agree("googlenet", torchvision_models().googlenet(aux_logits=False, init_weights=False),
           ["inputs.image={shape: [3, 64, 64]}"], 64, tmp_path, 6_624_904)


def test_densenet121(tmp_path):
    torch.manual_seed(0)
    _agree("densenet121", torchvision_models().densenet121(),
           ["inputs.image={shape: [3, 64, 64]}"], 64, tmp_path, 7_978_856)


def test_efficientnet_b0(tmp_path):
    torch.manual_seed(0)
    _agree("efficientnet_b0", torchvision_models().efficientnet_b0(),
           ["inputs.image={shape: [3, 64, 64]}"], 64, tmp_path, 5_288_548)
