"""specs/googlenet.yaml's auxiliary heads, switched on by `aux_logits`: they read inception 4a
and 4d by instance name (`inception4.0`, `inception4.3`), and then the spec has torchvision's
googlenet(aux_logits=True) parameters, tensor for tensor, and its three outputs."""

from __future__ import annotations

from pathlib import Path

import torch
from reference_models import torchvision_models

from dlspec.backends.torch_module import build_module
from dlspec.compiler import check_spec

SPEC = Path(__file__).resolve().parents[2] / "specs" / "googlenet.yaml"


def test_the_aux_heads_are_torchvision_s():
    reference = torchvision_models().googlenet(aux_logits=True, init_weights=False)
    checked = check_spec(SPEC, ["aux_logits=true"])
    with torch.device("meta"):
        module = build_module(checked.graph)
    theirs = {k: tuple(v.shape) for k, v in reference.state_dict().items() if "aux" in k}
    ours = {k: tuple(v.shape) for k, v in module.state_dict().items() if "aux" in k}
    assert ours == theirs and len(ours) == 20  # the same names, too
    assert sum(p.numel() for p in module.parameters()) == 13_004_888 == sum(
        p.numel() for p in reference.parameters())
    graph = checked.graph
    assert graph.outputs == ["fc", "aux2.fc2", "aux1.fc2"]  # torchvision's order
    assert graph.node("aux1.adaptive_avg_pool2d").inputs == ["inception4.0.concat"]
    assert graph.node("aux2.adaptive_avg_pool2d").inputs == ["inception4.3.concat"]
    assert str(graph.node("aux1.conv.conv").type) == "(N, 128, 4, 4)"


def test_without_them_the_spec_is_the_shipped_one():
    checked = check_spec(SPEC)
    assert checked.graph.outputs == ["fc"]
    assert not [n.name for n in checked.graph.layers() if n.name.startswith("aux")]
