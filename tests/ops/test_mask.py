"""padding_mask: its values, and that a transformer encoder-decoder given padding masks
(derived in the graph from the ids, or read as an input) ignores what its padded source
positions hold, while the same model without the masks does not."""

from __future__ import annotations

import pytest
import torch

from dlspec.api import compile_module
from dlspec.backends.torch_module import instantiate
from dlspec.compiler import check_spec
from dlspec.ir.types import TensorType
from dlspec.ops.registry import op_registry

VOCAB, PAD = 12, 0
SPEC = """\
dlspec: 1
name: masked-seq2seq
inputs:
  src: {shape: [src_len], dtype: int64}
  tgt: {shape: [tgt_len], dtype: int64}
MASK_INPUT
model:
  - MASK_LAYER
  - {op: embedding, name: src_embed, inputs: src, num_embeddings: 12, embedding_dim: 16, padding_idx: 0}
  - {op: sinusoidal_position, name: src_position}
  - {op: transformer_encoder_block, name: encoder, inputs: ENCODER_INPUTS, heads: 2, ffn: 32}
  - {op: embedding, name: tgt_embed, inputs: tgt, num_embeddings: 12, embedding_dim: 16, padding_idx: 0}
  - {op: sinusoidal_position, name: tgt_position}
  - {op: transformer_decoder_block, name: decoder, inputs: DECODER_INPUTS, heads: 2, ffn: 32}
  - {op: linear, name: generator, out_features: 12}
"""


def _model(tmp_path, mask: str):
    """The encoder-decoder with the source mask `derived` by padding_mask, read from an
    int64 `src_mask` `input`, or `none`."""
    layer = {"derived": "{op: padding_mask, name: src_mask, inputs: src, pad: 0}",
             "input": "{op: identity, name: unused, inputs: src}",
             "none": "{op: identity, name: unused, inputs: src}"}[mask]
    masked = mask != "none"
    text = (SPEC.replace("MASK_LAYER", layer)
            .replace("MASK_INPUT", "  src_mask: {shape: [src_len], dtype: int64}"
                     if mask == "input" else "")
            .replace("ENCODER_INPUTS", "[src_position, src_mask]" if masked else "src_position")
            .replace("DECODER_INPUTS", "[tgt_position, encoder, src_mask]" if masked
                     else "[tgt_position, encoder]"))
    path = tmp_path / f"{mask}.yaml"
    path.write_text(text)
    return compile_module(check_spec(path), seed=0).eval(), mask == "input"


def _batch(source_length: int = 9):
    """Two source sequences of 4 and 7 tokens padded with 0, and targets of 5 tokens."""
    generator = torch.Generator().manual_seed(0)
    src = torch.randint(1, VOCAB, (2, source_length), generator=generator)
    lengths = torch.tensor([[4], [7]])
    src[torch.arange(source_length) >= lengths] = PAD
    tgt = torch.randint(1, VOCAB, (2, 5), generator=generator)
    return src, tgt


def _run(model, with_mask_input: bool, src, tgt):
    with torch.no_grad():
        if with_mask_input:
            return model(src, tgt, (src != PAD).long())
        return model(src, tgt)


def test_padding_mask_values():
    op = op_registry()["padding_mask"](pad=2)
    module = instantiate(op.build(TensorType(("N", "seq"), "int64")))
    ids = torch.tensor([[5, 3, 2, 2], [2, 0, 1, 2]])
    assert module(ids).tolist() == [[1, 1, 0, 0], [0, 1, 1, 0]]
    assert module(ids).dtype == torch.int64


@pytest.mark.parametrize("mask", ["derived", "input"])
def test_more_padding_changes_nothing_at_real_positions(tmp_path, mask):
    """The same sources padded to 9 and to 14 tokens give the same logits."""
    model, with_input = _model(tmp_path, mask)
    src, tgt = _batch()
    longer = torch.cat([src, torch.zeros(2, 5, dtype=torch.int64)], dim=1)
    torch.testing.assert_close(_run(model, with_input, longer, tgt),
                               _run(model, with_input, src, tgt), atol=1e-5, rtol=1e-5)


def test_ids_at_padded_positions_change_nothing_given_a_mask_input(tmp_path):
    """With the mask read from the data, any ids at its 0 positions are ignored."""
    model, _ = _model(tmp_path, "input")
    src, tgt = _batch()
    mask = (src != PAD).long()
    noisy = torch.where(mask.bool(), src, torch.randint(1, VOCAB, src.shape))
    with torch.no_grad():
        torch.testing.assert_close(model(noisy, tgt, mask), model(src, tgt, mask),
                                   atol=1e-5, rtol=1e-5)


def test_without_a_mask_padding_changes_the_real_positions(tmp_path):
    """The control: the same model without masks attends to the padding, so the checks
    above can fail."""
    model, _ = _model(tmp_path, "none")
    src, tgt = _batch()
    longer = torch.cat([src, torch.zeros(2, 5, dtype=torch.int64)], dim=1)
    noisy = torch.where(src != PAD, src, torch.randint(1, VOCAB, src.shape))
    plain = _run(model, False, src, tgt)
    assert (_run(model, False, longer, tgt) - plain).abs().max() > 1e-3
    assert (_run(model, False, noisy, tgt) - plain).abs().max() > 1e-3
