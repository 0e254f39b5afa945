"""specs/inception_v3.yaml is torchvision's inception_v3: the same parameters with the aux
head and without it (`aux_logits`), and, with the reference's weights mapped by the shipped
mapping, the same outputs in eval mode. torchvision's weights-free constructor has
transform_input=False, as the spec; init_weights=False only skips its slow initialisation
(the weights are drawn again by calibrate anyway). torchvision computes the aux logits in
training mode only; the spec returns them in eval mode too, and they are compared with
torchvision's aux head applied to its Mixed_6e output."""

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

SPEC = Path(__file__).resolve().parents[2] / "specs" / "inception_v3.yaml"


def mapped_module(reference: torch.nn.Module, overrides: list[str]) -> torch.nn.Module:
    module = build_module(check_spec(SPEC, overrides).graph).eval()
    mapped = map_weights(reference.state_dict(), shipped_mapping("inception_v3"),
                         module.state_dict())
    assert mapped.complete and not mapped.unused, mapped.lines()
    module.load_state_dict(mapped.tensors, strict=True)
    return module


@pytest.mark.parametrize(("aux", "count"), [(True, 27_161_264), (False, 23_834_568)])
def test_parameter_counts_with_and_without_the_aux_head(aux, count):
    reference = torchvision_models().inception_v3(init_weights=False, aux_logits=aux)
    checked = check_spec(SPEC, [f"aux_logits={str(aux).lower()}"])
    with torch.device("meta"):
        module = build_module(checked.graph)
    assert sum(p.numel() for p in reference.parameters()) == count
    assert sum(p.numel() for p in module.parameters()) == count
    assert checked.graph.outputs == (["fc", "aux.fc"] if aux else ["fc"])


def test_without_the_aux_head_the_outputs_are_identical_at_a_small_size():
    """75x75, torchvision's smallest input (the aux head needs 299)."""
    torch.manual_seed(0)
    image = torch.randn(2, 3, 75, 75)
    reference = calibrate(torchvision_models().inception_v3(init_weights=False,
                                                            aux_logits=False), image)
    module = mapped_module(reference, ["aux_logits=false", "inputs.image.shape=[3, 75, 75]"])
    with torch.no_grad():
        expected, got = reference(image), module(image)
    assert got.shape == (2, 1000) and expected.abs().max() > 0.1
    assert max_abs_diff(got, expected) <= 1e-5


@pytest.mark.slow
def test_with_the_aux_head_both_outputs_are_identical_at_full_size():
    torch.manual_seed(0)
    image = torch.randn(2, 3, 299, 299)
    reference = calibrate(torchvision_models().inception_v3(init_weights=False), image)
    module = mapped_module(reference, [])
    mixed_6e = []
    reference.Mixed_6e.register_forward_hook(lambda _m, _i, output: mixed_6e.append(output))
    with torch.no_grad():
        expected = reference(image)  # eval mode: the logits only
        expected_aux = reference.AuxLogits(mixed_6e[0])
        logits, aux = module(image)
    assert logits.shape == aux.shape == (2, 1000)
    assert expected.abs().max() > 0.1 and expected_aux.abs().max() > 0.1
    assert max_abs_diff(logits, expected) <= 1e-5
    assert max_abs_diff(aux, expected_aux) <= 1e-5
