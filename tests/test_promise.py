"""The promise: a spec that `dlspec validate` accepts trains, compiles and exports. Every
spec shipped in specs/ and tests/specs/valid/ is validated; one with `data:` goes through
what `dlspec train` does and the first steps of its objective (every update of it), and
every model of every spec compiles. The exports of every model are the slow half."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from spec_runs import train_steps

from dlspec.api import check, export_spec
from dlspec.backends.torch_module import build_module
from dlspec.compiler import check_spec

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted([*(ROOT / "specs").glob("*.yaml"), *(ROOT / "tests/specs/valid").glob("*.yaml")])
# the big ones export scaled down, with the same layers (their full size is checked by
# test_canonical_specs): the ops, not the widths, are what an export can get wrong
SMALLER = {
    "vgg16": ["width=8", "hidden=64", "num_classes=10"],
    "resnet18": ["width=16", "num_classes=10"],
    "resnet50": ["width=16", "num_classes=10"],
    "densenet121": ["growth=8", "init_features=16", "num_classes=10"],
    "mobilenet_v2": ["width=8", "last=64", "num_classes=10"],
    "efficientnet_b0": ["last=64", "num_classes=10"],
    "googlenet": ["num_classes=10"],
    "mobilenet_v3_small": ["last=64", "num_classes=10"],
    "inception_v3": ["num_classes=10"],  # full size: the aux head needs 299x299
    "ddpm-unet": ["width=16"],
    "dcgan": ["ngf=16", "ndf=16"],
    "gpt2-small": ["vocab=100", "d=32", "layers=2", "heads=2", "ctx=64"],
    "bert-base": ["vocab=100", "d=32", "layers=1", "heads=2", "ffn=64", "max_len=64"],
    "vit_b_16": ["image_size=32", "patch=8", "d=32", "heads=2", "layers=2", "mlp=64",
                 "num_classes=10"],
    "t5-small": ["vocab=100", "d=32", "heads=2", "ffn=64", "layers=1"],
    "llama": ["vocab=100", "d=32", "heads=4", "kv_heads=2", "ffn=48", "layers=1", "ctx=64"],
    "gpt3": ["vocab=100", "d=32", "layers=1", "heads=2", "ctx=32"],
}


def name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_every_shipped_spec_validates():
    for path in SPECS:
        check(path)


@pytest.mark.parametrize("path", [p for p in SPECS if re.search(r"^data:", p.read_text(), re.M)],
                         ids=name)
def test_a_spec_validate_accepts_trains(path, tmp_path):
    checked = check(path)
    torch.manual_seed(0)
    assert train_steps(checked, tmp_path, finite=True)


@pytest.mark.parametrize("path", SPECS, ids=name)
def test_every_model_compiles(path):
    checked = check_spec(path)
    for model, graph in checked.graphs.items():
        with torch.device("meta"):
            module = build_module(graph, model)
        assert sum(p.numel() for p in module.parameters()) > 0 or not graph.layers()


@pytest.mark.slow
@pytest.mark.cost(250)  # every spec
@pytest.mark.parametrize("path", SPECS, ids=name)
def test_every_model_exports_and_onnx_runtime_agrees(path, tmp_path):
    overrides = SMALLER.get(path.stem, [])
    checked = check_spec(path, overrides)
    for model in checked.graphs:
        report = export_spec(path, tmp_path / f"{model}.onnx", overrides=overrides,
                             untrained=True, model=model if len(checked.graphs) > 1 else None)
        assert set(report.max_abs_diff) == set(checked.graphs[model].outputs)
        for output, diff in report.max_abs_diff.items():
            assert diff <= report.tolerances[output], (model, output)
