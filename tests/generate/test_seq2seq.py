"""Sequence-to-sequence decoding: the generation info of the shipped seq2seq specs, sources
written by a user, greedy and beam search (on a model of known probabilities, and cache or
not on a real one), and (slow) both shipped specs trained to reverse whole test sequences."""

from __future__ import annotations

import numpy as np
import pytest
from decode_helpers import SPECS, random_network, trained_network

from dlspec import api
from dlspec.errors import GenerateError
from dlspec.generate.network import Network
from dlspec.generate.seq2seq import (
    decode_target,
    encode_source,
    seq2seq_info,
    translate,
)

TRANSFORMER, GRU = SPECS / "reverse-transformer.yaml", SPECS / "reverse-gru-attention.yaml"
DIGITS = [str(i) for i in range(10)]


@pytest.fixture(scope="module")
def transformer():
    checked, network = random_network(TRANSFORMER)
    return seq2seq_info(checked), network


def test_seq2seq_info_of_the_shipped_specs():
    for spec in (TRANSFORMER, GRU):
        info = seq2seq_info(api.check_spec(spec))
        assert info == {"kind": "seq2seq", "source": "src", "target": "tgt",
                        "output": "generator", "bos": 10, "eos": 11, "pad": 0,
                        "max_len": 64, "length": 12,
                        "vocabulary": [*DIGITS, "<bos>", "<eos>"], "source_max": 64}
    shorter = seq2seq_info(api.check_spec(TRANSFORMER, ["data.length=8", "max_len=20"]))
    assert (shorter["length"], shorter["max_len"]) == (8, 20)


@pytest.mark.parametrize("name", ["gpt-chars", "gru-reverse", "transformer-seq2seq"])
def test_other_specs_are_not_seq2seq_models(name):
    assert seq2seq_info(api.check_spec(SPECS / f"{name}.yaml")) is None


def test_a_source_is_typed_as_digits_with_or_without_spaces(transformer):
    info, _ = transformer
    assert encode_source(info, "3 1 4 1 5") == [3, 1, 4, 1, 5]
    assert encode_source(info, " 31415 ") == [3, 1, 4, 1, 5]
    assert decode_target(info, [5, 1, 4, 1, 3]) == "5 1 4 1 3"


@pytest.mark.parametrize("text, message", [
    ("3 1 0 5", "the input has 1 token(s) the model does not read: '0'"),
    ("3 x 4 x", "the input has 1 token(s) the model does not read: 'x'"),
    ("31 4", "the input has 1 token(s) the model does not read: '31'"),
    ("", "the input is empty"),
    ("1 " * 65, "the input has 65 tokens; the model reads at most 64"),
])
def test_a_source_the_model_cannot_read_is_refused(transformer, text, message):
    info, _ = transformer
    with pytest.raises(GenerateError) as caught:
        encode_source(info, text)
    assert caught.value.codes == ["DLS602"] and message in str(caught.value)
    if "token(s)" in message:
        assert "help: write the tokens 1..9 separated by spaces, e.g. \"1 2 3 4 5\" " \
            "('0' pads, and is not a token)" in str(caught.value)


def test_decoding_lengths_the_decoder_cannot_take_are_refused(transformer):
    info, network = transformer
    with pytest.raises(GenerateError, match="reads at most 64 positions, BOS and 63 tokens"):
        translate(network, info, [[1, 2]], max_len=64)
    with pytest.raises(GenerateError, match="--beam 0 is no beam width") as caught:
        translate(network, info, [[1, 2]], beam=0)
    assert caught.value.codes == ["DLS601"]


class Table(Network):
    """A decoder of known probabilities: the next token's depend on the last token only
    (`after[last]`, by id), whatever the source."""

    def __init__(self, after: dict[int, list[float]]):
        super().__init__({"src": (("s",), "int64"), "tgt": (("t",), "int64")}, ("out",), {})
        self.after = after

    def __call__(self, feeds):
        probs = np.array([[self.after[int(t)] for t in row] for row in feeds["tgt"]])
        return {"out": np.log(probs + 1e-12).astype(np.float32)}


def table_info(tokens: str) -> dict:
    """Token ids 1.. named by the letters of `tokens`, then BOS and EOS."""
    vocabulary = ["0", *tokens, "<bos>", "<eos>"]
    return {"kind": "seq2seq", "source": "src", "target": "tgt", "output": "out",
            "bos": len(tokens) + 1, "eos": len(tokens) + 2, "pad": 0, "max_len": None,
            "length": 3, "vocabulary": vocabulary, "source_max": None}


# Tokens A (1), B (2), BOS 3, EOS 4. After BOS: A 0.6, B 0.4; after A: A, B 0.35 each, EOS
# 0.3; after B: EOS 0.9. Greedy says A A A ...; the likeliest output is B EOS (0.36).
GREEDY_MISSES = {3: [0, 0.6, 0.4, 0, 0], 1: [0, 0.35, 0.35, 0, 0.3], 2: [0, 0.05, 0.05, 0, 0.9],
                 0: [0.2] * 5}


def test_beam_search_finds_the_likelier_sequence_that_greedy_misses():
    network, info, sources = Table(GREEDY_MISSES), table_info("AB"), [[1, 2], [2]]
    greedy = translate(network, info, sources, max_len=5)
    assert greedy == [[1, 1, 1, 1, 1]] * 2  # A (0.6), then A or B (0.35: the first) ...
    assert str(greedy.decoding) == "full recompute (an ONNX file runs as a whole)"
    assert translate(network, info, sources, beam=2, max_len=5) == [[2]] * 2
    assert translate(network, info, sources, beam=1, max_len=5) == greedy


# Tokens A, B, C (1-3), BOS 4, EOS 5. B EOS: 0.5 * 0.4 = 0.2, mean log-probability -0.80;
# A C EOS: 0.5 * 0.6 * 0.4 = 0.12, more probable per token (-0.71) but less in all.
SHORT_OR_STEADY = {4: [0, 0.5, 0.5, 0, 0, 0], 1: [0, 0, 0.3, 0.6, 0, 0.1],
                   2: [0, 0.3, 0, 0.3, 0, 0.4], 3: [0, 0.3, 0.3, 0, 0, 0.4], 0: [1 / 6] * 6}


@pytest.mark.parametrize("beam", [2, 4])
def test_length_normalization_ranks_by_mean_log_probability_and_0_by_the_sum(beam):
    network, info = Table(SHORT_OR_STEADY), table_info("ABC")
    by_mean = translate(network, info, [[1]], beam=beam, max_len=6)  # length_penalty 1.0
    by_sum = translate(network, info, [[1]], beam=beam, max_len=6, length_penalty=0.0)
    assert (by_mean, by_sum) == ([[1, 3]], [[2]])


def test_greedy_and_beam_give_the_same_outputs_with_and_without_the_cache(transformer):
    info, network = transformer
    rng = np.random.default_rng(0)
    sources = [list(rng.integers(1, 10, size=n)) for n in (5, 11, 8)]
    for beam in (1, 3):
        cached = translate(network, info, sources, beam=beam, max_len=12)
        full = translate(network, info, sources, beam=beam, max_len=12, cache=False)
        assert cached == full and cached.decoding.cached and not full.decoding.cached
        assert all(len(out) <= 12 for out in cached)
        assert all(0 not in out and 10 not in out and 11 not in out for out in cached)


REVERSE_THRESHOLD = 0.95


def exact_match(outputs, targets) -> float:
    return float(np.mean([list(o) == list(t) for o, t in zip(outputs, targets, strict=True)]))


@pytest.mark.slow
@pytest.mark.cost(75)  # both specs
@pytest.mark.parametrize("spec", [GRU, TRANSFORMER], ids=["gru-attention", "transformer"])
def test_shipped_seq2seq_specs_reverse_whole_test_sequences(spec, tmp_path, record_property):
    """The shipped specs as they are (6 epochs of 10,000 reversals: about 30 s each)."""
    result = api.train_spec(spec, [], out_root=tmp_path, run_name="run", quiet=True)
    checked, network = trained_network(spec, result.run_dir)
    info = seq2seq_info(checked)
    test = api.load_data(api.check(spec)).test
    sources = [list(row[row != info["pad"]]) for row in test.inputs["src"]]
    targets = [list(row[(row >= 0) & (row != info["eos"])]) for row in test.y]
    assert all(t == s[::-1] for s, t in zip(sources, targets, strict=True))
    greedy = translate(network, info, sources)
    beam = translate(network, info, sources, beam=4)
    scores = {"greedy": exact_match(greedy, targets), "beam4": exact_match(beam, targets)}
    for name, value in scores.items():
        record_property(f"exact_match_{name}", value)
    print(f"\n{spec.stem}: whole-sequence exact match on {len(targets)} test sources "
          f"{scores} ({greedy.decoding})")
    assert scores["greedy"] >= REVERSE_THRESHOLD
    assert scores["beam4"] >= scores["greedy"]
