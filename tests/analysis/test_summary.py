"""The summary counts what torch would count, without building anything: parameters (a tied
weight once), MACs (the published figures), for a spec as large as GPT-3."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from dlspec.analysis.summary import summarize
from dlspec.api import compile_module
from dlspec.compiler import check_spec
from dlspec.errors import DlspecError

ROOT = Path(__file__).resolve().parents[2]
SPECS, VALID = ROOT / "specs", ROOT / "tests" / "specs" / "valid"

TINY_LM = VALID / "tiny-lm.yaml"  # its head is tied to the embedding; seq has max 6


def gpt3_macs(layers: int, d: int, vocab: int, seq: int) -> int:
    """Per token and layer: q, k, v, out projections 4 d^2 and the FFN 8 d^2; per layer,
    scores and weighted values 2 seq^2 d; the LM head seq d vocab."""
    return layers * (12 * seq * d * d + 2 * seq * seq * d) + seq * d * vocab


def test_gpt3_has_its_exact_parameter_count_and_macs():
    summary = summarize(check_spec(VALID / "gpt3.yaml"))
    # 96 (12 d^2 + 13 d) + vocab d + ctx d + 2 d, d = 12288: the LM head is the embedding
    assert summary.params == 174_604_259_328
    assert summary.layers[-1].name == "lm_head" and summary.layers[-1].params == 0
    assert summary.dims == {"seq": 2048}  # the declared max
    assert summary.macs == gpt3_macs(96, 12288, 50257, 2048)
    assert summarize(check_spec(VALID / "gpt3.yaml"), dims={"seq": 128}).macs == \
        gpt3_macs(96, 12288, 50257, 128)


@pytest.mark.parametrize(("spec", "params", "macs"), [
    ("resnet18", 11_689_512, 1_814_073_344),  # torchvision: 11.7 M, 1.81 GFLOPS (MACs)
    ("resnet50", 25_557_032, 4_089_184_256),  # torchvision: 25.6 M, 4.09 GFLOPS (MACs)
])
def test_resnets_match_the_published_figures(spec, params, macs):
    summary = summarize(check_spec(SPECS / f"{spec}.yaml"))
    assert (summary.params, summary.macs) == (params, macs)


def test_counts_equal_torchs_on_the_compiled_module():
    checked = check_spec(SPECS / "cnn-digits.yaml")
    summary = summarize(checked)
    module = compile_module(checked).eval()
    assert summary.params == sum(p.numel() for p in module.parameters())
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(torch.randn(1, 1, 8, 8))
    assert 2 * summary.macs == counter.get_total_flops()
    by_layer = {row.name: row.params for row in summary.layers}
    assert by_layer["res1.conv1"] == sum(p.numel() for p in module.res1.conv1.parameters())


def test_a_tied_weight_is_counted_once_as_torch_does():
    checked = check_spec(TINY_LM)
    summary = summarize(checked)
    assert summary.params == sum(p.numel() for p in compile_module(checked).parameters())
    assert summary.layers[-1].params == 0 and summary.layers[-1].macs == 6 * 8 * 11


def test_an_unbound_dim_leaves_macs_and_memory_out(tmp_path):
    path = tmp_path / "lm.yaml"
    path.write_text(TINY_LM.read_text().replace("dims: {seq: {max: 6}}", "")
                    .replace("  - {op: learned_position, name: wpe, max_len: 6}\n", ""))
    summary = summarize(check_spec(path))
    assert summary.unbound == ["seq"] and summary.macs is None and summary.memory is None
    assert summary.params > 0 and all(row.macs is None for row in summary.layers)
    assert summary.to_json()["total"]["macs"] is None
    assert summarize(check_spec(path), dims={"seq": 6}).macs == summarize(
        check_spec(TINY_LM)).macs


def test_a_dim_no_input_has_is_an_error_with_a_suggestion():
    with pytest.raises(DlspecError) as caught:
        summarize(check_spec(TINY_LM), dims={"sq": 6})
    (problem,) = caught.value.diagnostics
    assert problem.code == "DLS102" and "did you mean 'seq'?" in problem.hint
    assert str(problem.span) == "--dim sq=6:1:1"


def test_the_batch_defaults_to_the_specs_and_scales_activations():
    checked = check_spec(SPECS / "mlp-digits.yaml")
    default, doubled = summarize(checked), summarize(checked, batch=128)
    assert default.batch == checked.spec.data.batch_size == 64
    assert doubled.memory.activations == 2 * default.memory.activations
    assert doubled.memory.weights == default.memory.weights == 4 * default.params
