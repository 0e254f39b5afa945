"""Text from a causal language model: the sampling filters, prompts in and text out, the
generation loop (cache or not, past the context), and (slow) gpt-chars trained to write
text of the corpus's characters and mostly of its words."""

from __future__ import annotations

import re

import numpy as np
import pytest
from decode_helpers import SPECS, random_network, trained_network

from dlspec import api
from dlspec.data.synthetic import corpus_text, corpus_vocabulary
from dlspec.errors import GenerateError
from dlspec.generate.text import (
    causal_lm_info,
    decode_ids,
    draw,
    encode_prompt,
    generate_tokens,
    next_token_probabilities,
)

GPT = SPECS / "gpt-chars.yaml"
PROBS = np.array([0.05, 0.5, 0.15, 0.3])  # by id; by rank: 1, 3, 2, 0
SCORES = np.log(PROBS) + 3.0  # logits: any shift gives the same distribution


@pytest.fixture(scope="module")
def gpt():
    checked, network = random_network(GPT)
    return causal_lm_info(checked), network


def test_temperature_one_is_the_models_distribution_and_zero_is_argmax():
    assert np.allclose(next_token_probabilities(SCORES), PROBS)
    assert next_token_probabilities(SCORES, temperature=0).tolist() == [0, 1, 0, 0]
    sharp = next_token_probabilities(SCORES, temperature=0.5)
    assert np.allclose(sharp, PROBS ** 2 / (PROBS ** 2).sum())


@pytest.mark.parametrize("k, kept", [(1, [1]), (2, [1, 3]), (3, [1, 2, 3]), (9, [0, 1, 2, 3])])
def test_top_k_keeps_exactly_the_k_highest(k, kept):
    probs = next_token_probabilities(SCORES, top_k=k)
    assert np.flatnonzero(probs).tolist() == kept
    assert np.allclose(probs[kept], PROBS[kept] / PROBS[kept].sum())


def test_top_k_keeps_exactly_k_among_ties():
    probs = next_token_probabilities(np.zeros(6), top_k=4)
    assert np.count_nonzero(probs) == 4 and np.allclose(probs[probs > 0], 0.25)


@pytest.mark.parametrize("p, kept", [(0.3, [1]), (0.5, [1]), (0.51, [1, 3]), (0.8, [1, 3]),
                                     (0.81, [1, 2, 3]), (0.96, [0, 1, 2, 3]), (1.0, [0, 1, 2, 3])])
def test_top_p_keeps_the_smallest_set_that_reaches_p(p, kept):
    probs = next_token_probabilities(SCORES, top_p=p)
    assert np.flatnonzero(probs).tolist() == kept
    assert np.allclose(probs[kept], PROBS[kept] / PROBS[kept].sum())


def test_top_k_then_top_p_then_the_allowed_tokens():
    probs = next_token_probabilities(SCORES, top_k=3, top_p=0.6)  # of 0.5, 0.3, 0.15
    assert np.flatnonzero(probs).tolist() == [1, 3]
    allowed = np.array([True, False, True, True])
    assert np.flatnonzero(next_token_probabilities(SCORES, allowed=allowed)).tolist() == [0, 2, 3]
    assert next_token_probabilities(SCORES, temperature=0, allowed=allowed).tolist() == [0, 0, 0, 1]


def test_draw_follows_the_distribution_and_never_draws_what_it_cut():
    rng = np.random.default_rng(0)
    probs = next_token_probabilities(SCORES, top_p=0.8)
    counts = np.bincount([draw(probs, rng) for _ in range(4000)], minlength=4)
    assert counts[0] == counts[2] == 0
    assert abs(counts[1] / 4000 - 0.625) < 0.03  # 0.5 / 0.8


def test_causal_lm_info_of_gpt_chars(gpt):
    info, _ = gpt
    assert info == {"kind": "causal_lm", "input": "chars", "output": "next_char",
                    "vocabulary": list(corpus_vocabulary()), "context": 64}


@pytest.mark.parametrize("name", ["reverse-transformer", "mlp-digits", "dcgan-digits"])
def test_other_specs_are_not_language_models(name):
    assert causal_lm_info(api.check_spec(SPECS / f"{name}.yaml")) is None


def test_a_prompt_round_trips_through_token_ids(gpt):
    info, _ = gpt
    ids = encode_prompt(info, "The mill.")
    assert ids == [corpus_vocabulary().index(c) for c in "The mill."]
    assert decode_ids(info, ids) == "The mill."
    assert decode_ids(info, [0, *ids, 0]) == "The mill."  # padding is no text


def test_a_prompt_with_characters_outside_the_vocabulary_names_them(gpt):
    info, _ = gpt
    with pytest.raises(GenerateError) as caught:
        encode_prompt(info, "Zebra {x} é")
    assert caught.value.codes == ["DLS602"]
    message = str(caught.value)
    assert "4 character(s) outside the model's vocabulary: 'Z', '{', '}', 'é'" in message
    assert "help: use only the characters the model was trained on" in message


def test_a_prompt_longer_than_the_context_or_empty_is_refused(gpt):
    info, _ = gpt
    assert len(encode_prompt(info, "a" * 64)) == 64
    with pytest.raises(GenerateError, match="the prompt has 65 characters; the model reads "
                       "at most 64") as caught:
        encode_prompt(info, "a" * 65)
    assert caught.value.codes == ["DLS602"]
    with pytest.raises(GenerateError, match="the prompt is empty"):
        encode_prompt(info, "")


@pytest.mark.parametrize("settings, flag", [({"temperature": -1}, "--temperature -1"),
                                            ({"top_k": 0}, "--top-k 0"),
                                            ({"top_p": 0.0}, "--top-p 0.0"),
                                            ({"top_p": 1.5}, "--top-p 1.5")])
def test_meaningless_sampling_settings_are_refused(gpt, settings, flag):
    info, network = gpt
    with pytest.raises(GenerateError, match=re.escape(flag)) as caught:
        generate_tokens(network, info, [5], 3, np.random.default_rng(0), **settings)
    assert caught.value.codes == ["DLS601"]


def test_greedy_generation_is_the_argmax_of_full_recompute(gpt):
    info, network = gpt
    prompt = encode_prompt(info, "The ")
    ids = list(prompt)
    for _ in range(12):  # by hand: the whole sequence, the last position's argmax
        scores = network.output({"chars": np.array([ids])})[0, -1]
        scores[0] = -np.inf  # padding is never generated
        ids.append(int(np.argmax(scores)))
    for cache in (True, False):
        new = generate_tokens(network, info, prompt, 12, np.random.default_rng(0),
                              temperature=0, cache=cache)
        assert new == ids[len(prompt):]
        assert new.decoding.cached is cache


def test_sampling_is_seeded_and_the_same_with_and_without_the_cache_past_the_context(gpt):
    info, network = gpt
    prompt = encode_prompt(info, "The river ")
    runs = [generate_tokens(network, info, prompt, 80, np.random.default_rng(7),
                            temperature=0.8, top_k=20, top_p=0.95, cache=cache)
            for cache in (True, False, True)]
    assert runs[0] == runs[1] == runs[2] and len(runs[0]) == 80  # 90 > the 64 of context
    assert 0 not in runs[0]
    other = generate_tokens(network, info, prompt, 80, np.random.default_rng(8), temperature=0.8)
    assert other != runs[0]


def test_past_the_context_the_model_sees_the_last_context_tokens():
    checked, network = random_network(GPT, ["context=8"])
    info = causal_lm_info(checked)
    assert info["context"] == 8
    prompt = encode_prompt(info, "Then ")
    ids = list(prompt)
    for _ in range(10):
        scores = network.output({"chars": np.array([ids[-8:]])})[0, -1]
        scores[0] = -np.inf
        ids.append(int(np.argmax(scores)))
    for cache in (True, False):
        assert generate_tokens(network, info, prompt, 10, np.random.default_rng(0),
                               temperature=0, cache=cache) == ids[len(prompt):]


# The shipped spec as it is (early stopping ends it after 15 of its 16 epochs, the best at
# epoch 10: about 3 minutes on a free core, 6 on a busy one); shortened runs write fewer
# corpus words.
GPT_RUN: list[str] = []
SAMPLE_CHARS = 1200
WORD = re.compile(r"[A-Za-z]+")
# The issue asks 60%. The best checkpoint (by validation perplexity, 6.66) writes 58-69%
# per 600 characters (mean 63% over six seeds), and 66% in the 1,200 characters here (the
# spec before, two blocks with learned positions and dropout 0.1 at perplexity 6.83: mean
# 57%). Random weights write 0% (no corpus word in 600 characters).
WORD_SHARE_FLOOR = 0.6


def word_share(text: str) -> float:
    """The share of the text's words (runs of letters) that are words of the corpus."""
    corpus = {w.lower() for w in WORD.findall(corpus_text())}
    words = WORD.findall(text)
    return sum(w.lower() in corpus for w in words) / max(len(words), 1)


@pytest.mark.slow
@pytest.mark.cost(205)
def test_gpt_chars_writes_corpus_characters_and_mostly_corpus_words(tmp_path, record_property):
    result = api.train_spec(GPT, GPT_RUN, out_root=tmp_path, run_name="gpt", quiet=True)
    checked, network = trained_network(GPT, result.run_dir, GPT_RUN)
    info = causal_lm_info(checked)
    new = generate_tokens(network, info, encode_prompt(info, "The "), SAMPLE_CHARS,
                          np.random.default_rng(0), temperature=0.8)
    text = decode_ids(info, new)
    share = word_share(text)
    perplexity = min(float(r) for r in _column(result.run_dir, "val_perplexity"))
    record_property("word_share", share)
    record_property("val_perplexity", perplexity)
    print(f"\nval perplexity {perplexity:.2f}; {share:.0%} of the words are the corpus's "
          f"({new.decoding}):\n{text}")
    assert len(text) == SAMPLE_CHARS and set(text) <= set(corpus_text())
    assert share >= WORD_SHARE_FLOOR
    assert perplexity < 7.5


def _column(run_dir, name):
    import csv

    from dlspec.train.run_folder.run_dir import RunFiles

    with RunFiles(run_dir).metrics_csv.open() as f:
        return [row[name] for row in csv.DictReader(f) if row.get(name)]
