"""Op-table rows of the sequence ops: recurrent layers, embeddings and position encodings."""

from __future__ import annotations

import random
from collections.abc import Callable

from harness import Case, Reject, Row, T, int_input_reject

# --- recurrent --------------------------------------------------------------------------


def recurrent_cases(name: str) -> Callable[[random.Random], list[Case]]:
    """The first case (the one exported to ONNX) is the hard one: a symbolic length, both
    directions (and two layers for rnn, whose export loop is dlspec's; the exporter unrolls
    LSTM and GRU while tracing, so every layer there costs seconds); the others draw every
    attribute."""
    def cases(rng: random.Random) -> list[Case]:
        out = []
        for i, seq in enumerate(["seq", rng.randint(1, 6), "seq", rng.randint(1, 6)]):
            layers = (2 if name == "rnn" else 1) if i == 0 else rng.randint(1, 3)
            config = {"op": name, "hidden_size": rng.randint(1, 8), "num_layers": layers,
                      "bidirectional": i == 0 or rng.random() < 0.5,
                      "dropout": rng.choice([0.0, 0.3]) if layers > 1 else 0.0,
                      "bias": i == 0 or rng.random() < 0.6,
                      "returns": ["last", "sequence"][(i + len(name)) % 2]}
            if name == "rnn":
                config["nonlinearity"] = rng.choice(["tanh", "relu"])
            out.append(Case(config, (T("N", seq, rng.randint(1, 6)),)))
        return out
    return cases


def recurrent_rejects(name: str) -> tuple[Reject, ...]:
    config = {"op": name, "hidden_size": 4}
    return (
        Reject("no sequence axis", config, (T("N", 4),)),
        Reject("symbolic features", config, (T("N", "seq", "L"),)),
        Reject("int64 input (torch's RNNs raise a ValueError)", config,
               (T("N", "seq", 4, dtype="int64"),), code="DLS202"),
    )


# --- embeddings -------------------------------------------------------------------------


def embedding_cases(rng: random.Random) -> list[Case]:
    cases = []
    for ids_shape in [("N",), ("N", "seq"), ("N", rng.randint(1, 4), "seq"), ("N", 7)]:
        num, dim = rng.randint(1, 100), rng.randint(1, 32)
        config = {"op": "embedding", "num_embeddings": num, "embedding_dim": dim}
        if rng.random() < 0.5:
            config["padding_idx"] = rng.randrange(num)
        cases.append(Case(config, (T(*ids_shape, dtype="int64"),), int_high=num))
    return cases


def token_type_cases(rng: random.Random) -> list[Case]:
    cases = []
    for i, seq in enumerate(["seq", rng.randint(1, 6), "seq"]):
        types, x = rng.randint(1, 4), T("N", seq, rng.randint(1, 8))
        ids = (T("N", seq, dtype="int64"),) if i != 1 else ()
        cases.append(Case({"op": "token_type_embedding", "types": types}, (x, *ids),
                          int_high=types))
    return cases


TOKEN_TYPE = {"op": "token_type_embedding"}

# --- positions --------------------------------------------------------------------------


def learned_position_cases(rng: random.Random) -> list[Case]:
    cases = []
    for seq in ["seq", rng.randint(1, 6), "seq", 8]:
        max_len = rng.randint(8, 12)  # >= SIZES["seq"] and the fixed lengths
        bound = {"seq": max_len} if seq == "seq" else {}
        cases.append(Case({"op": "learned_position", "max_len": max_len},
                          (T("N", seq, rng.randint(1, 8)),), dim_max=bound))
    return cases


def sinusoidal_cases(rng: random.Random) -> list[Case]:
    return [Case({"op": "sinusoidal_position", "base": rng.choice([10000.0, 500.0])},
                 (T("N", seq, 2 * rng.randint(1, 6)),))
            for seq in ["seq", rng.randint(1, 6), "seq"]]


def rotary_cases(rng: random.Random) -> list[Case]:
    cases = []
    for i in range(4):
        heads, d = rng.randint(1, 3), 2 * rng.randint(1, 3)
        config = {"op": "rotary_position", "base": rng.choice([10000.0, 100.0])}
        if i % 2:  # (N, heads, seq, d), as scaled_dot_product_attention takes it
            shape = ("N", heads, "seq", d)
            if i == 3:
                config["heads"] = heads
        else:
            shape = ("N", "seq", heads * d)
            config["heads"] = heads
        cases.append(Case(config, (T(*shape),)))
    return cases


def timestep_cases(rng: random.Random) -> list[Case]:
    """Int64 timesteps as a denoiser takes them (N, 1) first (the exported case), then (N,)
    and float times."""
    return [Case({"op": "timestep_embedding", "dim": 2 * rng.randint(1, 16),
                  "max_period": rng.choice([10000.0, 1000.0])}, (T(*shape, dtype=dtype),),
                 int_high=1000)
            for shape, dtype in [(("N", 1), "int64"), (("N",), "int64"), (("N", 1), "float32")]]


TIMESTEP = {"op": "timestep_embedding", "dim": 8}


def _sequence_rejects(name: str, config: dict) -> tuple[Reject, ...]:
    return (Reject("no sequence axis", {"op": name, **config}, (T("N", 8),)),
            Reject("symbolic features", {"op": name, **config}, (T("N", "seq", "L"),)))


def _int_sequence(name: str, config: dict) -> Reject:
    """Fixed encodings are cast to the input's dtype: on ids torch would return int64 junk."""
    return Reject("int64 input to a position encoding", {"op": name, **config},
                  (T("N", "seq", 8, dtype="int64"),), code="DLS202")


ROWS: dict[str, Row] = {
    **{name: Row(recurrent_cases(name), rejects=recurrent_rejects(name))
       for name in ("rnn", "lstm", "gru")},
    "embedding": Row(embedding_cases, rejects=(
        Reject("float ids", {"op": "embedding", "num_embeddings": 10, "embedding_dim": 4},
               (T("N", "seq"),), code="DLS202"),
    )),
    "token_type_embedding": Row(token_type_cases, rejects=(
        *_sequence_rejects("token_type_embedding", {}),
        int_input_reject("token_type_embedding", {}, ("N", "seq", 8)),
        Reject("float type ids", TOKEN_TYPE, (T("N", "seq", 4), T("N", "seq")), code="DLS202"),
        Reject("type ids of another length", TOKEN_TYPE,
               (T("N", "seq", 4), T("N", 5, dtype="int64"))),
    )),
    "learned_position": Row(learned_position_cases, rejects=(
        *_sequence_rejects("learned_position", {"max_len": 16}),
        int_input_reject("learned_position", {"max_len": 16}, ("N", "seq", 8)),
        Reject("sequence longer than the table", {"op": "learned_position", "max_len": 8},
               (T("N", 9, 4),)),
    )),
    "sinusoidal_position": Row(sinusoidal_cases, rejects=(
        *_sequence_rejects("sinusoidal_position", {}),
        _int_sequence("sinusoidal_position", {}),
        Reject("odd features", {"op": "sinusoidal_position"}, (T("N", "seq", 5),)),
    )),
    "timestep_embedding": Row(timestep_cases, rejects=(
        Reject("several values per sample", TIMESTEP, (T("N", 2, dtype="int64"),)),
        Reject("a sequence of timesteps", TIMESTEP, (T("N", "seq", dtype="int64"),)),
        Reject("rank 3", TIMESTEP, (T("N", 1, 1),)),
        Reject("odd dim", {"op": "timestep_embedding", "dim": 7}, (T("N", 1, dtype="int64"),)),
    )),
    "rotary_position": Row(rotary_cases, rejects=(
        Reject("rank 2", {"op": "rotary_position"}, (T("N", 8),)),
        _int_sequence("rotary_position", {}),
        Reject("odd per-head size", {"op": "rotary_position", "heads": 2}, (T("N", "seq", 6),)),
        Reject("features do not split into heads", {"op": "rotary_position", "heads": 3},
               (T("N", "seq", 8),), code="DLS102"),
        Reject("heads disagree with dim 1", {"op": "rotary_position", "heads": 3},
               (T("N", 2, "seq", 4),)),
    )),
}
