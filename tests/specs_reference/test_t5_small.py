"""specs/t5-small.yaml is transformers' T5ForConditionalGeneration: with the reference's
random weights mapped by the shipped mapping (dlspec/weights/mappings/t5-small.yaml), the
logits agree within 1e-5 and the parameter counts are equal, on a small config, with a padded
source (the reference given the same attention mask) and sequences longer than the exact
buckets (the log-spaced ones in use)."""

from __future__ import annotations

import torch
from reference_models import transformers_module
from transformers_exactness import mapped_spec, parameters, randomized, saved_pretrained

SMALL = {"vocab": 101, "d": 32, "heads": 4, "layers": 2, "ffn": 48, "buckets": 8,
         "distance": 20}


def reference():
    transformers = transformers_module()
    config = transformers.T5Config(
        vocab_size=SMALL["vocab"], d_model=SMALL["d"], d_kv=SMALL["d"] // SMALL["heads"],
        d_ff=SMALL["ffn"], num_layers=SMALL["layers"], num_heads=SMALL["heads"],
        relative_attention_num_buckets=SMALL["buckets"],
        relative_attention_max_distance=SMALL["distance"], feed_forward_proj="relu",
        tie_word_embeddings=True)
    return randomized(transformers.T5ForConditionalGeneration(config))


def test_small_t5_agrees_with_transformers():
    ref = reference()
    model, mapped = mapped_spec("t5-small", ref, [f"{k}={v}" for k, v in SMALL.items()])
    generator = torch.Generator().manual_seed(1)
    src = torch.randint(1, SMALL["vocab"], (2, 30), generator=generator)
    src[1, 17:] = 0  # padding
    tgt = torch.randint(1, SMALL["vocab"], (2, 25), generator=generator)
    with torch.no_grad():
        want = ref(input_ids=src, attention_mask=(src != 0).long(), decoder_input_ids=tgt).logits
        got = model(src, tgt)
    assert got.shape == want.shape == (2, 25, SMALL["vocab"])
    assert parameters(model) == parameters(ref)
    assert want.abs().max() > 1.0
    assert (got - want).abs().max().item() <= 1e-5
    assert model.lm_head.weight is model.shared.weight is model.decoder_embed.weight
    assert len(mapped.tensors) == len(model.state_dict())


def test_a_save_pretrained_file_without_the_tied_copies_maps_whole(tmp_path):
    """save_pretrained (and the Hub's model.safetensors) keeps one tensor of a tied group:
    `shared.weight`, not the decoder's embedding or the head; the mapping reads it for both."""
    ref = reference()
    source = saved_pretrained(ref, tmp_path)
    assert "lm_head.weight" not in source and "decoder.embed_tokens.weight" not in source
    model, _ = mapped_spec("t5-small", ref, [f"{k}={v}" for k, v in SMALL.items()], source)
    src, tgt = torch.tensor([[5, 9, 2, 7]]), torch.tensor([[3, 1, 4]])
    with torch.no_grad():
        want = ref(input_ids=src, decoder_input_ids=tgt).logits
        assert (model(src, tgt) - want).abs().max().item() <= 1e-5
