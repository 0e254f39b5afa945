"""Op-table rows of attention and transformer blocks. Queries run over the symbolic `seq`,
memories and keys over `L`, so a rule that mixes up the two lengths is caught. The first case
of each row with a symbolic dim is the one exported to ONNX; `test_attention.py` and
`test_transformer.py` export more of them."""

from __future__ import annotations

import random

from harness import Case, Reject, Row, T, int_input_reject


def _mask(length="seq") -> T:
    return T("N", length, dtype="int64")


# --- attention --------------------------------------------------------------------------


def additive_cases(rng: random.Random) -> list[Case]:
    cases = []
    for i, query_lead in enumerate([("seq",), (), ("seq",), ()]):
        config = {"op": "additive_attention", "bias": i != 2}
        if i % 2:
            config["attention_dim"] = rng.randint(1, 8)
        keys = T("N", "L" if i < 3 else rng.randint(1, 5), rng.randint(1, 6))
        inputs = (T("N", *query_lead, rng.randint(1, 6)), keys)
        if i == 0:
            inputs = (*inputs, _mask("L"))
        cases.append(Case(config, inputs, int_high=2))
    return cases


def sdpa_cases(rng: random.Random) -> list[Case]:
    cases = []
    options = [{"causal": True}, {"window": 2}, {"scale": 1.0, "dropout": 0.1},
               {"causal": True, "window": 1}, {}]
    for i, extra in enumerate(options):
        lead = ("N", rng.randint(1, 3)) if i % 2 == 0 else ("N",)
        d, dv = rng.randint(1, 6), rng.randint(1, 6)
        keys = "seq" if "causal" in extra or "window" in extra else "L"
        inputs = (T(*lead, "seq", d), T(*lead, keys, d), T(*lead, keys, dv))
        if i in (0, 4):
            inputs = (*inputs, _mask(keys))
        config = {"op": "scaled_dot_product_attention", **extra}
        cases.append(Case(config, inputs, int_high=2))
    # an additive float bias (T, S), broadcast over the heads; with a causal mask
    q, k = T("N", 2, "seq", 4), T("N", 2, "seq", 4)
    cases.append(Case({"op": "scaled_dot_product_attention", "causal": True},
                      (q, k, T("N", 2, "seq", 3), T("N", 1, "seq", "seq"))))
    return cases


def _attention_config(rng: random.Random, name: str, heads: int) -> dict:
    return {"op": name, "heads": heads, "dropout": rng.choice([0.0, 0.1]),
            "bias": rng.random() < 0.7, "rotary_base": rng.choice([10000.0, 100.0])}


def mha_cases(rng: random.Random) -> list[Case]:
    """Self-attention (causal + padding, window, rotary) and cross-attention (memory of the
    same or another width, with or without a mask)."""
    cases = []
    roles = [("self", {"causal": True}, True), ("cross", {}, True),
             ("self", {"window": 2, "rotary": True}, False), ("cross", {}, False),
             ("self", {"causal": True, "rotary": True}, False),
             # an additive bias (relative positions), grouped-query, unscaled
             ("self", {"kv_heads": 1, "scale": 1.0, "causal": True}, "bias"),
             ("cross", {"kv_heads": 1}, "bias")]
    for role, extra, masked in roles:
        heads, head_dim = rng.randint(1, 3), 2 * rng.randint(1, 2)
        if "kv_heads" in extra:
            heads = 2
        d = heads * head_dim
        config = {**_attention_config(rng, "multihead_attention", heads), **extra}
        inputs = (T("N", "seq", d),)
        keys = "L" if role == "cross" else "seq"
        if role == "cross":
            inputs = (*inputs, T("N", "L", rng.choice([d, rng.randint(1, 6)])))
        if masked:
            inputs = (*inputs, _mask(keys))
        if masked == "bias":
            inputs = (*inputs, T("N", rng.choice([1, heads]), "seq", keys))
        cases.append(Case(config, inputs, int_high=2))
    return cases


ACTIVATIONS = ("relu", "gelu", "gelu_tanh", "silu")


def block_cases(name: str):
    def cases(rng: random.Random) -> list[Case]:
        out = []
        for i in range(4):
            heads, head_dim = rng.randint(1, 3), 2 * rng.randint(1, 2)
            d = heads * head_dim
            config = {**_attention_config(rng, name, heads),
                      "norm": ["pre", "post"][i % 2], "activation": ACTIVATIONS[i],
                      "eps": rng.choice([1e-5, 1e-6, 1e-12]),
                      "causal": i in (0, 2), "rotary": i == 3, "window": 2 if i == 2 else None}
            if i != 1:
                config["ffn"] = rng.randint(1, 12)
            inputs = (T("N", "seq" if i < 3 else rng.randint(1, 5), d),)
            if name == "transformer_decoder_block":
                inputs = (*inputs, T("N", "L", rng.choice([d, rng.randint(1, 6)])))
            if i == 0:
                inputs = (*inputs, _mask("L" if name == "transformer_decoder_block" else "seq"))
            out.append(Case(config, inputs, int_high=2))
        # a LLaMA block (RMS norms, SwiGLU, grouped-query, no biases) with a position bias
        d = 8
        config = {"op": name, "heads": 4, "kv_heads": 2, "norm": "pre", "norm_type": "rmsnorm",
                  "activation": "silu", "gated": True, "bias": False, "rotary": True,
                  "scale": 1.0, "ffn": rng.randint(1, 12), "dropout": 0.0}
        inputs = (T("N", "seq", d),)
        if name == "transformer_decoder_block":
            inputs = (*inputs, T("N", "L", 6), _mask("L"))
        out.append(Case(config, (*inputs, T("N", 4, "seq", "seq")), int_high=2))
        return out
    return cases


def attention_rejects(name: str, config: dict) -> tuple[Reject, ...]:
    config = {"op": name, **config}
    return (
        Reject("heads do not divide d_model", {**config, "heads": 3}, (T("N", "seq", 8),),
               code="DLS102"),
        Reject("odd per-head size with rotary", {**config, "heads": 2, "rotary": True},
               (T("N", "seq", 6),)),
        Reject("kv_heads do not divide heads", {**config, "heads": 4, "kv_heads": 3},
               (T("N", "seq", 8),), code="DLS102"),
        Reject("bias of another length", config, (T("N", "seq", 8), T("N", 2, "seq", "L"))),
        Reject("bias with other heads", config, (T("N", "seq", 8), T("N", 3, "seq", "seq"))),
        Reject("no sequence axis", config, (T("N", 8),)),
        int_input_reject(name, config, ("N", "seq", 8)),
    )


HEADS = {"heads": 2}
MHA = {"op": "multihead_attention", **HEADS}
SDPA = {"op": "scaled_dot_product_attention"}
ADDITIVE = {"op": "additive_attention"}
DECODER = {"op": "transformer_decoder_block", **HEADS}


ROWS: dict[str, Row] = {
    "additive_attention": Row(additive_cases, rejects=(
        Reject("keys without a sequence axis", ADDITIVE, (T("N", 4), T("N", 4))),
        Reject("mask of another length", ADDITIVE, (T("N", 4), T("N", "L", 4), _mask("seq"))),
        Reject("float mask", ADDITIVE, (T("N", 4), T("N", "L", 4), T("N", "L")),
               code="DLS202"),
        Reject("int64 query", ADDITIVE, (T("N", 4, dtype="int64"), T("N", "L", 4)),
               code="DLS202"),
    )),
    "scaled_dot_product_attention": Row(sdpa_cases, rejects=(
        Reject("q and k of different d", SDPA, (T("N", 5, 4), T("N", 6, 3), T("N", 6, 3))),
        Reject("k and v of different lengths", SDPA, (T("N", 5, 4), T("N", 6, 4), T("N", 7, 4))),
        Reject("different head counts", SDPA,
               (T("N", 2, 5, 4), T("N", 3, 5, 4), T("N", 3, 5, 4))),
        Reject("causal with fewer queries than keys", {**SDPA, "causal": True},
               (T("N", "seq", 4), T("N", "L", 4), T("N", "L", 4))),
        Reject("mask over the queries", SDPA,
               (T("N", "seq", 4), T("N", "L", 4), T("N", "L", 4), _mask("seq"))),
        Reject("int64 q", SDPA, (T("N", 5, 4, dtype="int64"), T("N", 5, 4), T("N", 5, 4)),
               code="DLS202"),
        Reject("bias of another rank", SDPA,
               (T("N", 2, 5, 4), T("N", 2, 6, 4), T("N", 2, 6, 4), T("N", 5, 6))),
        Reject("two biases", SDPA, (T("N", 5, 4), T("N", 6, 4), T("N", 6, 4), T("N", 5, 6),
                                    T("N", 5, 6)), code="DLS202"),
    )),
    "multihead_attention": Row(mha_cases, rejects=(
        *attention_rejects("multihead_attention", HEADS),
        Reject("causal cross-attention", {**MHA, "causal": True},
               (T("N", "seq", 8), T("N", "L", 8)), code="DLS102"),
        Reject("mask over the queries in cross-attention", MHA,
               (T("N", "seq", 8), T("N", "L", 8), _mask("seq"))),
        Reject("memory without a sequence axis", MHA, (T("N", "seq", 8), T("N", 8))),
    )),
    "transformer_encoder_block": Row(block_cases("transformer_encoder_block"), rejects=(
        *attention_rejects("transformer_encoder_block", HEADS),
        Reject("mask of another length", {"op": "transformer_encoder_block", **HEADS},
               (T("N", "seq", 8), _mask("L"))),
    )),
    "transformer_decoder_block": Row(block_cases("transformer_decoder_block"), rejects=(
        Reject("heads do not divide d_model", {**DECODER, "heads": 3},
               (T("N", "seq", 8), T("N", "L", 8)), code="DLS102"),
        Reject("token ids as memory", DECODER, (T("N", "seq", 8), _mask("L")), code="DLS202"),
        Reject("memory mask over the queries", DECODER,
               (T("N", "seq", 8), T("N", "L", 8), _mask("seq"))),
        Reject("memory of symbolic width", DECODER, (T("N", "seq", 8), T("N", "L", "seq"))),
        Reject("self-attention bias over the memory", DECODER,
               (T("N", "seq", 8), T("N", "L", 8), T("N", 2, "seq", "L"))),
    )),
}
