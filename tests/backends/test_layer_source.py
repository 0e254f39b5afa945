"""dlspec's layer classes copied out of their modules: with what they use, nothing else, and
with same-named definitions of two modules kept apart."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from dlspec.backends.layer_source import layer_sources
from dlspec.backends.torch_layers.attention import TransformerEncoderBlock
from dlspec.backends.torch_layers.vision import SqueezeExcitation

LAYERS = "dlspec.backends.torch_layers"
BLOCK = f"{LAYERS}.attention.TransformerEncoderBlock"
SQUEEZE = f"{LAYERS}.vision.SqueezeExcitation"


def imported(sources, path):
    path.write_text("\n".join(sources.imports) + "\n\n\n" + "\n\n\n".join(sources.blocks))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_class_comes_with_the_helpers_and_bases_it_uses_and_nothing_else():
    sources = layer_sources([BLOCK])
    text = "\n".join(sources.blocks)
    for needed in ("class _Block(", "class MultiheadAttention(", "def attend(", "ACTIVATIONS ="):
        assert needed in text, needed
    assert "class TransformerDecoderBlock(" not in text
    assert {"import math", "import torch.nn.functional as F"} <= set(sources.imports)
    assert "import math" not in layer_sources([SQUEEZE]).imports  # vision does not use it


def test_same_named_definitions_of_two_modules_are_renamed_apart(tmp_path):
    sources = layer_sources([BLOCK, SQUEEZE])
    assert sources.names == {BLOCK: "TransformerEncoderBlock", SQUEEZE: "SqueezeExcitation"}
    text = "\n".join(sources.blocks)
    assert "ACTIVATIONS_vision = {" in text and "ACTIVATIONS_vision[activation]()" in text
    module = imported(sources, tmp_path / "copied.py")
    torch.manual_seed(0)
    for original, copy, args, shape in (
            (TransformerEncoderBlock, module.TransformerEncoderBlock, (8, 2, 16, "gelu_tanh"),
             (2, 5, 8)),
            (SqueezeExcitation, module.SqueezeExcitation, (8, 4, "silu"), (2, 8, 3, 3))):
        theirs, ours = original(*args).eval(), copy(*args).eval()
        ours.load_state_dict(theirs.state_dict(), strict=True)
        x = torch.randn(shape)
        assert torch.equal(ours(x), theirs(x))


def test_a_layer_module_importing_beyond_torch_is_refused(tmp_path, monkeypatch):
    (tmp_path / "fancy_layers.py").write_text(
        "import numpy\nfrom torch import nn\n\n\nclass Fancy(nn.Module):\n"
        "    scale = numpy.pi\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="imports 'numpy'"):
        layer_sources(["fancy_layers.Fancy"])
