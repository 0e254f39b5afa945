"""specs/llama.yaml is transformers' LlamaForCausalLM: with the reference's random weights
mapped by the shipped mapping (dlspec/weights/mappings/llama.yaml), the logits agree within
1e-5 and the parameter counts are equal, on a small config with grouped-query attention
(4 heads sharing 2 key/value heads) and another rotary base."""

from __future__ import annotations

import torch
from reference_models import transformers_module
from transformers_exactness import mapped_spec, parameters, randomized, saved_pretrained

SMALL = {"vocab": 101, "d": 32, "heads": 4, "kv_heads": 2, "layers": 2, "ffn": 48,
         "ctx": 64, "eps": 1e-5, "base": 500.0}


def reference(kv_heads: int = SMALL["kv_heads"], tied: bool = False):
    transformers = transformers_module()
    config = transformers.LlamaConfig(
        vocab_size=SMALL["vocab"], hidden_size=SMALL["d"], intermediate_size=SMALL["ffn"],
        num_hidden_layers=SMALL["layers"], num_attention_heads=SMALL["heads"],
        num_key_value_heads=kv_heads, max_position_embeddings=SMALL["ctx"],
        rms_norm_eps=SMALL["eps"], rope_theta=SMALL["base"], tie_word_embeddings=tied)
    return randomized(transformers.LlamaForCausalLM(config))


def overrides(**changes) -> list[str]:
    return [f"{key}={value}" for key, value in {**SMALL, **changes}.items()]


def test_small_llama_agrees_with_transformers():
    for kv_heads in (2, 1):  # grouped-query, then multi-query attention
        ref = reference(kv_heads)
        model, _ = mapped_spec("llama", ref, overrides(kv_heads=kv_heads))
        ids = torch.randint(0, SMALL["vocab"], (2, 9), generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            want, got = ref(ids).logits, model(ids)
        assert got.shape == want.shape == (2, 9, SMALL["vocab"])
        assert parameters(model) == parameters(ref)
        assert want.abs().max() > 1.0  # not all near 0
        assert (got - want).abs().max().item() <= 1e-5


def test_mapping_reads_every_reference_tensor():
    model, mapped = mapped_spec("llama", reference(), overrides())
    assert len(mapped.tensors) == len(model.state_dict()) == 2 + 6 * SMALL["layers"] + 1
    assert model.get_submodule("layers.0.layer.self_attn").in_proj_weight.shape == (64, 32)


def test_a_tied_checkpoint_saved_by_save_pretrained_fills_the_head_from_the_embedding(tmp_path):
    """save_pretrained leaves lm_head.weight out when it is tied to the embedding (as in the
    small Llama 3.2 models); the mapping then reads the embedding for the head."""
    ref = reference(tied=True)
    source = saved_pretrained(ref, tmp_path)
    assert "lm_head.weight" not in source
    model, _ = mapped_spec("llama", ref, overrides(), source=source)
    ids = torch.tensor([[3, 14, 15, 92, 65]])
    with torch.no_grad():
        assert (model(ids) - ref(ids).logits).abs().max().item() <= 1e-5
