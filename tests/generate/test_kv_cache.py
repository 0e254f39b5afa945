"""Decoding with the KV cache gives the logits of running the whole sequence again, for the
shipped decoders and for every attention and position layer with a cached form; a layer
without one sends the model to full recompute, and the reason names it."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch
from decode_helpers import SPECS, random_network

from dlspec.generate.kv_cache import IncrementalDecoder, cache_blocker
from dlspec.generate.stepper import decoding_of, open_stepper

TOLERANCE = 1e-4


def incremental_logits(network, step_input, output, static, ids, first=3, chunk=1):
    """The output at every position after the first `first - 1`, computed with the cache:
    `first` positions at the start, then `chunk` at a time."""
    decoder = IncrementalDecoder(network.module, network.graph, step_input, output)
    feeds = {k: torch.from_numpy(v) for k, v in static.items()}
    parts = [decoder.start({**feeds, step_input: torch.from_numpy(ids[:, :first])})]
    for t in range(first, ids.shape[1], chunk):
        parts.append(decoder.feed(torch.from_numpy(ids[:, t:t + chunk])))
    assert decoder.length == ids.shape[1]
    return torch.cat(parts, dim=1).numpy()


def test_gpt_chars_cached_logits_equal_full_recompute():
    checked, network = random_network(SPECS / "gpt-chars.yaml")
    ids = np.random.default_rng(0).integers(1, 49, size=(3, 64))  # the whole context
    full = network.output({"chars": ids})
    for chunk in (1, 5):
        cached = incremental_logits(network, "chars", "next_char", {}, ids, chunk=chunk)
        assert np.abs(cached - full).max() < TOLERANCE
    assert np.abs(full).max() > 0.1  # logits that say something
    assert decoding_of(network, "chars", "next_char").cached


def test_reverse_transformer_cached_logits_equal_full_recompute():
    checked, network = random_network(SPECS / "reverse-transformer.yaml")
    rng = np.random.default_rng(1)
    src = rng.integers(1, 10, size=(3, 12))
    src[1, 7:] = 0  # a padded source: the memory mask is cached with the memory
    tgt = np.concatenate([np.full((3, 1), 10), rng.integers(1, 10, size=(3, 12))], axis=1)
    full = network.output({"src": src, "tgt": tgt})
    cached = incremental_logits(network, "tgt", "generator", {"src": src}, tgt, first=1)
    assert np.abs(cached - full).max() < TOLERANCE


LAYERS = {
    # causal self-attention with rotary positions, a sliding window and a padding mask
    # derived from the generated ids
    "rotary-window-mask": """
      inputs: {ids: {shape: [seq], dtype: int64}}
      model:
        - {op: padding_mask, name: mask, inputs: ids}
        - {op: embedding, name: embed, inputs: ids, num_embeddings: 20, embedding_dim: 16}
        - {op: multihead_attention, name: attn, inputs: [embed, mask], heads: 2,
           causal: true, rotary: true, window: 3}
        - {op: rmsnorm, name: norm}
        - {op: linear, name: out, out_features: 20}
    """,
    # sinusoidal positions, a standalone rotary layer, scaled dot-product attention of
    # generated q, k and v, softmax over the features
    "sinusoidal-rotary-sdpa": """
      inputs: {ids: {shape: [seq], dtype: int64}}
      model:
        - {op: embedding, name: embed, num_embeddings: 20, embedding_dim: 16}
        - {op: sinusoidal_position, name: pos}
        - {op: linear, name: q, inputs: pos, out_features: 16}
        - {op: rotary_position, name: q_rot, inputs: q}
        - {op: linear, name: k, inputs: pos, out_features: 16}
        - {op: rotary_position, name: k_rot, inputs: k}
        - {op: linear, name: v, inputs: pos, out_features: 16}
        - {op: scaled_dot_product_attention, name: attend, inputs: [q_rot, k_rot, v],
           causal: true}
        - {op: add, name: residual, inputs: [attend, pos]}
        - {op: transformer_encoder_block, name: block, heads: 4, causal: true, norm: pre,
           window: 4}
        - {op: log_softmax, name: out, dim: -1}
    """,
    # a LLaMA block (RMS norms, SwiGLU, one key/value head, another scale) after positions
    # counted in the graph; a decoder block with grouped-query attention on a memory
    "llama-arange": """
      inputs:
        src: {shape: [src_len], dtype: int64}
        tgt: {shape: [tgt_len], dtype: int64, dims: {tgt_len: {max: 32}}}
      model:
        - {op: embedding, name: memory, inputs: src, num_embeddings: 20, embedding_dim: 16}
        - {op: arange, name: positions, inputs: tgt}
        - {op: embedding, name: pos, inputs: positions, num_embeddings: 32, embedding_dim: 16}
        - {op: embedding, name: embed, inputs: tgt, num_embeddings: 20, embedding_dim: 16}
        - {op: add, name: x, inputs: [embed, pos]}
        - {op: transformer_encoder_block, name: block, heads: 4, kv_heads: 1, causal: true,
           rotary: true, norm: pre, norm_type: rmsnorm, gated: true, activation: silu,
           bias: false, scale: 0.5}
        - {op: transformer_decoder_block, name: cross, inputs: [block, memory], heads: 4,
           kv_heads: 2, norm: pre, norm_type: rmsnorm, gated: true}
        - {op: linear, name: out, out_features: 20}
    """,
    # a memory computed once: multi-head cross-attention, additive attention on it, and
    # scaled dot-product attention of generated queries on it
    "cross-attention": """
      inputs:
        src: {shape: [src_len], dtype: int64}
        tgt: {shape: [tgt_len], dtype: int64, dims: {tgt_len: {max: 32}}}
      model:
        - {op: padding_mask, name: src_mask, inputs: src}
        - {op: embedding, name: src_embed, inputs: src, num_embeddings: 20, embedding_dim: 16}
        - {op: gru, name: encoder, hidden_size: 8, bidirectional: true}
        - {op: embedding, name: tgt_embed, inputs: tgt, num_embeddings: 20, embedding_dim: 16}
        - {op: learned_position, name: pos, max_len: 32}
        - {op: multihead_attention, name: cross, inputs: [pos, encoder, src_mask], heads: 2}
        - {op: additive_attention, name: additive, inputs: [cross, encoder, src_mask]}
        - {op: scaled_dot_product_attention, name: dot, inputs: [additive, encoder, encoder],
           scale: 1.0}
        - {op: concat, name: both, inputs: [cross, dot], dim: -1}
        - {op: gelu}
        - {op: linear, name: out, out_features: 20}
    """,
}


def write_spec(tmp_path, name, body):
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"dlspec: 1\nname: {name}\n" + textwrap.dedent(body))
    return path


@pytest.mark.parametrize("name", LAYERS)
def test_every_cached_layer_gives_the_full_recompute_logits(tmp_path, name):
    checked, network = random_network(write_spec(tmp_path, name, LAYERS[name]))
    rng = np.random.default_rng(2)
    step = "tgt" if "tgt" in network.inputs else "ids"
    ids = rng.integers(1, 20, size=(2, 14))
    ids[0, 9:11] = 0  # padding inside the generated sequence (masked where a mask is)
    static = {}
    if "src" in network.inputs:
        static = {"src": rng.integers(1, 20, size=(2, 6))}
        static["src"][1, 4:] = 0
    assert cache_blocker(checked.graph, step, "out") is None
    full = network.output({**static, step: ids})
    cached = incremental_logits(network, step, "out", static, ids, first=2)
    assert np.abs(cached - full).max() < TOLERANCE


BLOCKED = {  # the layers between the embedding and the output, the last named `mid`
    "gru": ("{op: gru, name: mid, hidden_size: 8}",
            "layer 'mid' (gru) mixes along the sequence"),
    "bidirectional": ("{op: transformer_encoder_block, name: mid, heads: 2}",
                      "layer 'mid' (transformer_encoder_block) attends both ways"),
    "conv-over-time": ("{op: transpose, name: turn}\n"
                       "  - {op: conv1d, name: conv, out_channels: 16, kernel_size: 3, "
                       "padding: 1}\n  - {op: transpose, name: mid}",
                       "layer 'turn' (transpose) mixes along the sequence"),
    "softmax-over-time": ("{op: softmax, name: mid, dim: 1}",
                          "layer 'mid' (softmax) acts along the sequence"),
    "attention-bias": ("{op: causal_mask, name: mask, inputs: embed}\n"
                       "  - {op: multihead_attention, name: mid, inputs: [embed, mask], "
                       "heads: 2}",
                       "layer 'mask' (causal_mask) mixes along the sequence"),
}


@pytest.mark.parametrize("name", BLOCKED)
def test_a_layer_without_a_cached_form_means_full_recompute_and_says_which(tmp_path, name):
    layers, reason = BLOCKED[name]
    body = ("inputs: {ids: {shape: [seq], dtype: int64}}\nmodel:\n"
            "  - {op: embedding, name: embed, num_embeddings: 20, embedding_dim: 16}\n"
            f"  - {layers}\n"
            "  - {op: linear, name: out, out_features: 16}\n"
            "  - {op: add, name: total, inputs: [out, embed]}\n")
    checked, network = random_network(write_spec(tmp_path, name, body))
    decoding = decoding_of(network, "ids", "total")
    assert not decoding.cached and reason in decoding.reason
    assert str(decoding).startswith("full recompute (layer ")
    with pytest.raises(ValueError, match="no cached decoding"):
        IncrementalDecoder(network.module, network.graph, "ids", "total")
    stepper = open_stepper(network, "ids", "total")  # and full recompute gives the model's
    ids = np.random.default_rng(3).integers(1, 20, size=(1, 6))
    first = stepper.start({}, ids[:, :5])
    assert np.allclose(first, network.output({"ids": ids[:, :5]})[:, -1])
    assert np.allclose(stepper.feed(ids[:, 5]), network.output({"ids": ids})[:, -1])


def test_the_cache_is_turned_off_on_request_and_for_an_onnx_file(tmp_path):
    from dlspec.generate.network import Network

    checked, network = random_network(SPECS / "gpt-chars.yaml")
    assert str(decoding_of(network, "chars", "next_char", cache=False)) == \
        "full recompute (the cache is turned off)"

    class Exported(Network):  # what an OnnxNetwork is to the stepper: not a torch module
        def __call__(self, feeds):
            return network(feeds)

    onnx_like = Exported(network.inputs, network.outputs, {})
    assert decoding_of(onnx_like, "chars", "next_char").reason == "an ONNX file runs as a whole"


def test_reorder_keeps_the_rows_of_the_cache_in_the_given_order():
    checked, network = random_network(SPECS / "reverse-transformer.yaml")
    rng = np.random.default_rng(4)
    src = rng.integers(1, 10, size=(3, 12))
    tgt = np.concatenate([np.full((3, 1), 10), rng.integers(1, 10, size=(3, 5))], axis=1)
    stepper = open_stepper(network, "tgt", "generator")
    stepper.start({"src": src}, tgt[:, :4])
    order = np.array([2, 2, 0])
    stepper.reorder(order)
    got = stepper.feed(tgt[order, 4])
    want = network.output({"src": src[order], "tgt": tgt[order, :5]})[:, -1]
    assert np.abs(got - want).max() < TOLERANCE
