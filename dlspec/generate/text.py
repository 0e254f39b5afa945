"""Text from a causal language model: its generation info, prompts as token ids and back, and
sampling of the next token (temperature, top-k, nucleus top-p).

A causal language model is a supervised spec trained for `language_model` (the targets are
the input shifted by one token: the `chars` dataset), with one int64 input. Its token names
are the dataset's class names (chars: padding, then each character of the corpus), so a
prompt is read character by character. Padding is never generated.

Generation appends one token at a time: the scores at the last position, divided by the
temperature (0: greedy, the highest score), cut to the top k and then to the smallest set
whose probability reaches top_p (Holtzman et al., 2020), renormalized and sampled with the
given numpy Generator (never torch's RNG, so a run and its ONNX file draw the same tokens).
When the prompt and the new tokens outgrow the model's context (its learned positions, or
the input's `max` length), the model sees only the last `context` tokens, as GPT-2's
generate does: past the context, every step runs the whole window again, cache or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlspec.data.synthetic import PAD_NAME  # the chars vocabulary's id 0
from dlspec.data.text_config import TEXT
from dlspec.errors import Diagnostic, GenerateError
from dlspec.generate.network import Network
from dlspec.generate.stepper import Decoding, decoding_of, open_stepper
from dlspec.generate.text_tokens import generated_ids, text_ids, text_tokenizer

KIND = "causal_lm"


class Generated(list):
    """The generated token ids, with `decoding`: how they were decoded (KV cache or full
    recompute, and why)."""

    def __init__(self, ids: Sequence[int], decoding: Decoding):
        super().__init__(ids)
        self.decoding = decoding


def causal_lm_info(checked: Any) -> dict | None:
    """The generation info of a causal language model, or None when the spec is not one:
    {"kind": "causal_lm", "input", "output", "vocabulary": token names (id i is the i-th),
    "context": the most positions the model takes, or None}."""
    from dlspec.data.describe import static_info
    from dlspec.passes.check_data import task_of
    from dlspec.passes.check_objective import objective_of
    from dlspec.train.recipe.loss_config import scored_output

    spec, graph = checked.spec, checked.graph
    if spec.data is None or objective_of(spec).op != "supervised" or len(graph.inputs) != 1:
        return None
    name = graph.inputs[0]
    if graph.node(name).type.dtype != "int64" or task_of(spec) != "language_model":
        return None
    data = static_info(spec.data, graph.inputs)
    output = scored_output(spec.loss, graph.outputs)
    if spec.data.dataset == TEXT and output in graph.outputs:  # the run's tokenizer reads it
        return {"kind": KIND, "input": name, "output": output, "vocabulary": None,
                "tokenizer": None, "context": context_of(checked, name)}
    if data is None or not data.class_names or output not in graph.outputs:
        return None
    return {"kind": KIND, "input": name, "output": output,
            "vocabulary": list(data.class_names), "context": context_of(checked, name)}


def context_of(checked: Any, input_name: str) -> int | None:
    """The most positions a model reads from `input_name`: the shortest learned position
    table, else the `max` of the input's sequence dim, else None (unbounded)."""
    graph = checked.graph
    tables = [node.op.max_len for node in graph.layers() if node.op_name == "learned_position"]
    if tables:
        return min(tables)
    dims = checked.inputs[input_name].dims
    seq = graph.node(input_name).type.sample_shape[0]
    bound = dims.get(seq) if isinstance(seq, str) else None
    return bound.max if bound is not None else None


def _bad_prompt(message: str, hint: str) -> GenerateError:
    return GenerateError(Diagnostic("DLS602", message, hint=hint))


def encode_prompt(info: dict, text: str) -> list[int]:
    """The token ids of `text`, one per character (or by the tokenizer of text data);
    GenerateError DLS602 for characters the vocabulary lacks (all named), an empty prompt,
    or one longer than the context."""
    if info.get("tokenizer") is not None:
        return _check_context(info, text_ids(info["tokenizer"], text), "tokens")
    index = {name: i for i, name in enumerate(info["vocabulary"])
             if len(name) == 1 and name != PAD_NAME}
    unknown = sorted({c for c in text if c not in index})
    if unknown:
        shown = ", ".join(repr(c) for c in unknown)
        known = "".join(sorted(index))
        raise _bad_prompt(f"the prompt has {len(unknown)} character(s) outside the model's "
                          f"vocabulary: {shown}",
                          f"use only the characters the model was trained on: {known!r}")
    if not text:
        raise _bad_prompt("the prompt is empty", "give at least one character, e.g. "
                          "--prompt 'The '")
    return _check_context(info, [index[c] for c in text], "characters")


def _check_context(info: dict, ids: list[int], unit: str) -> list[int]:
    context = info.get("context")
    if context is not None and len(ids) > context:
        raise _bad_prompt(f"the prompt has {len(ids)} {unit}; the model reads at most "
                          f"{context}", f"shorten the prompt to its last {context} "
                          f"{unit} or fewer")
    return ids


def decode_ids(info: dict, ids: Sequence[int]) -> str:
    """The text of token ids (padding left out)."""
    if info.get("tokenizer") is not None:
        return text_tokenizer(info["tokenizer"]).decode(list(ids), skip_special_tokens=True)
    vocabulary = info["vocabulary"]
    return "".join(vocabulary[i] for i in ids
                   if 0 <= i < len(vocabulary) and vocabulary[i] != PAD_NAME)


def check_sampling(temperature: float, top_k: int | None, top_p: float | None,
                   max_tokens: int | None = None) -> None:
    """GenerateError DLS601 for a sampling setting that means nothing."""
    problems = []
    if max_tokens is not None and max_tokens < 0:
        problems.append(("--max-tokens", f"{max_tokens}", "give 0 or more tokens"))
    if not temperature >= 0:
        problems.append(("--temperature", f"{temperature}", "give 0 (greedy) or more; "
                         "1 samples the model's own distribution"))
    if top_k is not None and top_k < 1:
        problems.append(("--top-k", f"{top_k}", "give 1 or more (1 is greedy), or leave "
                         "it out to keep every token"))
    if top_p is not None and not 0 < top_p <= 1:
        problems.append(("--top-p", f"{top_p}", "give a probability in (0, 1], e.g. 0.9"))
    if problems:
        raise GenerateError([Diagnostic("DLS601", f"{flag} {value} cannot be sampled with",
                                        hint=hint) for flag, value, hint in problems])


def next_token_probabilities(scores: np.ndarray, temperature: float = 1.0,
                             top_k: int | None = None, top_p: float | None = None,
                             allowed: np.ndarray | None = None) -> np.ndarray:
    """The distribution the next token is drawn from, over the scores (logits) of one
    position: temperature 0 puts all mass on the highest score (the first among ties);
    else softmax(scores / temperature) cut to the k highest (exactly k), then to the smallest
    set of highest probabilities whose sum reaches top_p, and renormalized. Tokens outside
    `allowed` (a boolean mask) get none."""
    scores = np.asarray(scores, np.float64).copy()
    if allowed is not None:
        scores[~allowed] = -np.inf
    if temperature == 0:
        probs = np.zeros_like(scores)
        probs[int(np.argmax(scores))] = 1.0
        return probs
    scores = scores / temperature
    order = np.argsort(-scores, kind="stable")  # highest first, ties by id
    if top_k is not None and top_k < len(scores):
        scores[order[top_k:]] = -np.inf
    probs = np.exp(scores - scores[order[0]])
    probs /= probs.sum()
    if top_p is not None and top_p < 1:
        cumulative = np.cumsum(probs[order])
        keep = int(np.searchsorted(cumulative, top_p * (1 - 1e-12))) + 1  # reaches top_p
        probs[order[keep:]] = 0.0
        probs /= probs.sum()
    return probs


def draw(probs: np.ndarray, rng: np.random.Generator) -> int:
    """One token id drawn from `probs` with one uniform number of `rng`."""
    cumulative = np.cumsum(probs)
    index = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    chosen = min(index, len(probs) - 1)
    while probs[chosen] == 0:  # rounding at the very end of the cumulative sum
        chosen -= 1
    return chosen


def allowed_tokens(info: dict, classes: int) -> np.ndarray:
    """The ids the model may generate: those of its vocabulary but padding."""
    if info.get("tokenizer") is not None:
        return generated_ids(info["tokenizer"], classes)
    vocabulary = info["vocabulary"]
    return np.array([i < len(vocabulary) and vocabulary[i] != PAD_NAME
                     for i in range(classes)])


def decoding(network: Network, info: dict, cache: bool = True) -> Decoding:
    """How `generate_tokens` will decode: with the KV cache, or by full recompute (why)."""
    return decoding_of(network, info["input"], info["output"], cache)


def generate_tokens(network: Network, info: dict, prompt_ids: Sequence[int], max_tokens: int,
                    rng: np.random.Generator, *, temperature: float = 1.0,
                    top_k: int | None = None, top_p: float | None = None,
                    cache: bool = True) -> Generated:
    """`max_tokens` new token ids after `prompt_ids` (see the module's docstring); the
    result's `decoding` says whether the KV cache served them."""
    check_sampling(temperature, top_k, top_p, max_tokens)
    if not prompt_ids:
        raise _bad_prompt("the prompt is empty", "give at least one token")
    stepper = open_stepper(network, info["input"], info["output"],
                           context=info.get("context"), cache=cache)
    new: list[int] = []
    if max_tokens == 0:
        return Generated(new, stepper.decoding)
    scores = stepper.start({}, np.asarray([list(prompt_ids)], np.int64))[0]
    allowed = allowed_tokens(info, scores.shape[-1])
    while True:
        token = draw(next_token_probabilities(scores, temperature, top_k, top_p, allowed), rng)
        new.append(token)
        if len(new) == max_tokens:
            return Generated(new, stepper.decoding)
        scores = stepper.feed(np.asarray([token]))[0]
