"""specs/mobilenet_v3_small.yaml is torchvision's mobilenet_v3_small: the same parameters,
and, with the reference's weights mapped by the shipped mapping, the same outputs in eval
mode (hardswish, squeeze-excitation with a hardsigmoid gate, batch norms with eps 1e-3)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from calibrated_cnn import calibrate, max_abs_diff
from reference_models import torchvision_models

from dlspec.backends.torch_module import build_module
from dlspec.compiler import check_spec
from dlspec.weights.apply import map_weights
from dlspec.weights.mapping import shipped_mapping

SPEC = Path(__file__).resolve().parents[2] / "specs" / "mobilenet_v3_small.yaml"


@pytest.fixture(scope="module")
def pair():
    models = torchvision_models()
    torch.manual_seed(0)
    image = torch.randn(2, 3, 224, 224)
    reference = calibrate(models.mobilenet_v3_small(), image)
    module = build_module(check_spec(SPEC).graph).eval()
    mapped = map_weights(reference.state_dict(), shipped_mapping("mobilenet_v3_small"),
                         module.state_dict())
    assert mapped.complete and not mapped.unused, mapped.lines()
    module.load_state_dict(mapped.tensors, strict=True)
    return reference, module, image


def test_parameter_count_is_torchvision_s(pair):
    reference, module, _ = pair
    counts = [sum(p.numel() for p in m.parameters()) for m in (reference, module)]
    assert counts == [2_542_856, 2_542_856]


def test_outputs_are_identical_with_the_reference_weights(pair):
    reference, module, image = pair
    with torch.no_grad():
        expected, got = reference(image), module(image)
    assert got.shape == (2, 1000)
    # logits of order 0.1 that depend on the image: the comparison means something
    assert expected.abs().max() > 0.1 and max_abs_diff(expected[0], expected[1]) > 0.01
    assert max_abs_diff(got, expected) <= 1e-5
