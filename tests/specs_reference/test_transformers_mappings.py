"""The shipped mappings for bert-base and gpt2-small turn transformers' model.safetensors
(as save_pretrained writes it; seeded random weights) into the specs' weights: loaded
strictly, the spec gives the reference's outputs within 1e-5 at float32, with as many
parameters. On small configurations, the spec shrunk alike with --set; full size, every
tensor maps with the right shape (on the meta device: nothing allocated)."""

from __future__ import annotations

import torch
from reference_models import transformers_module
from weights_exactness import (
    SPECS,
    imported_spec,
    max_difference,
    parameters,
    save_transformers,
)

from dlspec.api import check
from dlspec.weights import map_weights, shipped_mapping
from dlspec.weights.importing import spec_tensors

GPT2 = {"vocab_size": 97, "n_positions": 24, "n_embd": 32, "n_layer": 2, "n_head": 4}
BERT = {"vocab_size": 97, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 48, "max_position_embeddings": 24}


def _ids(vocab: int, length: int) -> torch.Tensor:
    return torch.randint(1, vocab, (2, length), generator=torch.Generator().manual_seed(0))


def _randomize_norms(model) -> None:
    """Layer norms away from (1, 0), so that a mapping mixing them up shows."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)


def test_small_gpt2(tmp_path):
    transformers = transformers_module()
    torch.manual_seed(0)
    reference = transformers.GPT2LMHeadModel(transformers.GPT2Config(**GPT2)).eval()
    _randomize_norms(reference)
    model, result = imported_spec(
        "gpt2-small", save_transformers(reference, tmp_path),
        ["vocab=97", "ctx=24", "d=32", "layers=2", "heads=4"], tmp_path)
    assert model.lm_head.weight is model.wte.weight  # still tied after loading
    ids = _ids(97, 24)
    with torch.no_grad():
        diff, scale = max_difference(model(ids), reference(ids).logits)
    assert parameters(model) == parameters(reference)
    assert scale > 0.1 and diff <= 1e-5


def test_small_bert(tmp_path):
    transformers = transformers_module()
    torch.manual_seed(0)
    reference = transformers.BertModel(transformers.BertConfig(**BERT)).eval()
    _randomize_norms(reference)
    with torch.no_grad():
        reference.pooler.dense.bias.normal_()
    model, result = imported_spec(
        "bert-base", save_transformers(reference, tmp_path),
        ["vocab=97", "max_len=24", "d=32", "layers=2", "heads=4", "ffn=48"], tmp_path)
    ids = _ids(97, 24)
    with torch.no_grad():
        hidden, pooled = model(ids)
        want = reference(ids)
    for got, expected in ((hidden, want.last_hidden_state), (pooled, want.pooler_output)):
        diff, scale = max_difference(got, expected)
        assert scale > 0.1 and diff <= 1e-5
    assert parameters(model) == parameters(reference)


def _full_size_maps(spec: str, reference, expected: int) -> None:
    mapped = map_weights(reference.state_dict(), shipped_mapping(spec),
                         spec_tensors(check(SPECS / f"{spec}.yaml")))
    assert mapped.complete, mapped.lines()
    assert parameters(reference) == expected


def test_full_size_gpt2_and_bert_map_every_tensor():
    transformers = transformers_module()
    with torch.device("meta"):
        gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config())
        bert = transformers.BertModel(transformers.BertConfig())
    _full_size_maps("gpt2-small", gpt2, 124_439_808)
    _full_size_maps("bert-base", bert, 109_482_240)
