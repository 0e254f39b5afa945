"""The part of a model downstream of a layer: a VAE's decoder, whose layers keep their names
so that the trained weights load into it, computing exactly what the whole model computes
from that layer's output."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from dlspec.backends.torch_module import build_module
from dlspec.compiler import check_spec
from dlspec.errors import GenerateError
from dlspec.generate.decoder_graph import downstream_graph, downstream_module

ROOT = Path(__file__).resolve().parents[2]
VAE = ROOT / "specs" / "vae-digits.yaml"

# a VAE whose decoder is a repeated block (qualified names dec.0.fc, dec.1.fc), with a
# branch (`side`) that no output reads from z and a head tied to an encoder layer
BLOCKS = """\
dlspec: 1
name: t
inputs: {x: {shape: [6]}}
blocks:
  up:
    params: {out: int}
    layers:
      - {op: linear, name: fc, out_features: "${out}"}
      - {op: tanh}
model:
  - {op: linear, name: enc, out_features: 6, bias: false}
  - {op: linear, name: mu, out_features: 3}
  - {op: linear, name: logvar, inputs: enc, out_features: 3}
  - {op: reparameterize, name: z, inputs: [mu, logvar]}
  - {block: up, name: dec, repeat: 2, out: [5, 6]}
  - {op: linear, name: recon, out_features: 6, bias: false, tie: enc}
  - {op: linear, name: score, inputs: mu, out_features: 1}
outputs: [recon, score, mu]
"""


def spec_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def with_z_replaced(module: torch.nn.Module, layer: str, z: torch.Tensor, x: torch.Tensor):
    """The whole model's outputs on `x` with `layer`'s output replaced by `z`."""
    handle = module.get_submodule(layer).register_forward_hook(lambda *_: z)
    try:
        with torch.no_grad():
            return module(x)
    finally:
        handle.remove()


def test_the_vae_decoder_computes_what_the_whole_model_does_from_the_code():
    checked = check_spec(VAE)
    part = downstream_graph(checked.graph, "z")
    assert part.inputs == ["z"] and part.outputs == ["recon"]  # mu, logvar do not depend on z
    assert [node.name for node in part.layers()] == ["dec", "relu", "recon"]
    assert part.node("z").type.shape == ("N", 4) and part.node("z").is_input
    torch.manual_seed(0)
    whole = build_module(checked.graph).eval()
    torch.manual_seed(1)  # other weights: the loaded ones must replace them
    decoder = build_module(part)
    state = whole.state_dict()
    missing, _ = whole.load_state_dict(state, strict=False)
    decoder.load_state_dict({name: state[name] for name in decoder.state_dict()})
    assert not missing and set(decoder.state_dict()) == {
        "dec.weight", "dec.bias", "recon.weight", "recon.bias"}
    z, x = torch.randn(5, 4), torch.randn(5, 64)
    recon, mu, _ = with_z_replaced(whole, "z", z, x)
    with torch.no_grad():
        got = decoder(z)
    assert not torch.equal(recon, whole(x)[0])  # the hook did replace z
    assert (got - recon).abs().max().item() == 0.0


def test_qualified_names_and_an_upstream_tie_load_by_name(tmp_path):
    checked = check_spec(spec_file(tmp_path, BLOCKS))
    part = downstream_graph(checked.graph, "z")
    assert part.outputs == ["recon"]  # score and mu do not depend on z
    assert [n.name for n in part.layers()] == ["dec.0.fc", "dec.0.tanh", "dec.1.fc",
                                               "dec.1.tanh", "recon"]
    assert part.node("recon").tie is None  # its weight is enc's: it comes by name
    torch.manual_seed(0)
    whole = build_module(checked.graph).eval()
    decoder = downstream_module(part, whole)
    assert decoder.recon.weight is whole.enc.weight  # shared, not copied
    assert decoder.get_submodule("dec.1.fc") is whole.get_submodule("dec.1.fc")
    z = torch.randn(4, 3)
    recon, _, _ = with_z_replaced(whole, "z", z, torch.randn(4, 6))
    with torch.no_grad():
        assert (decoder(z) - recon).abs().max().item() == 0.0


def test_sharing_draws_nothing_from_torchs_generator(tmp_path):
    checked = check_spec(VAE)
    whole = build_module(checked.graph)
    torch.manual_seed(7)
    downstream_module(downstream_graph(checked.graph, "z"), whole)
    after = torch.rand(1)
    torch.manual_seed(7)
    assert torch.equal(after, torch.rand(1))


def test_unknown_layer_is_refused_with_a_suggestion():
    with pytest.raises(GenerateError) as err:
        downstream_graph(check_spec(VAE).graph, "zz")
    assert err.value.codes == ["DLS601"]
    assert "the model has no layer 'zz'" in str(err.value)
    assert "did you mean 'z'" in str(err.value)


def test_a_layer_no_output_depends_on_is_refused(tmp_path):
    checked = check_spec(spec_file(tmp_path, BLOCKS.replace("outputs: [recon, score, mu]",
                                                            "outputs: [score, mu]")))
    with pytest.raises(GenerateError) as err:
        downstream_graph(checked.graph, "z")
    assert "no output of the model depends on 'z' (its outputs: score, mu)" in str(err.value)
    assert err.value.diagnostics[0].span.line == 14  # the layer's place in the spec


def test_a_decoder_reading_the_encoder_is_refused(tmp_path):
    skip = BLOCKS.replace("- {op: linear, name: recon, out_features: 6, bias: false, "
                          "tie: enc}",
                          "- {op: add, name: recon, inputs: [dec, enc]}")
    with pytest.raises(GenerateError) as err:
        downstream_graph(check_spec(spec_file(tmp_path, skip)).graph, "z")
    message = str(err.value)
    assert "DLS601" in message and "in layer 'recon' (add)" in message
    assert "'recon' reads 'enc' besides what 'z' computes" in message


def test_a_layer_in_a_block_feeds_an_input_of_an_identifiers_name(tmp_path):
    checked = check_spec(spec_file(tmp_path, BLOCKS))
    part = downstream_graph(checked.graph, "dec.0.fc")
    assert part.inputs == ["dec_0_fc"]
    assert part.node("dec.0.tanh").inputs == ["dec_0_fc"]
    torch.manual_seed(0)
    whole = build_module(checked.graph).eval()
    decoder = downstream_module(part, whole)
    h = torch.randn(3, 5)
    recon, _, _ = with_z_replaced(whole, "dec.0.fc", h, torch.randn(3, 6))
    with torch.no_grad():
        assert (decoder(h) - recon).abs().max().item() == 0.0
