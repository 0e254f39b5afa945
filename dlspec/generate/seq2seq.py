"""Sequence-to-sequence decoding: an encoder-decoder trained with teacher forcing on the
seq2seq form of `copy` or `reverse` (dlspec/data/synthetic.py) translates sources.

The model takes `src` (source ids 1..vocab-1, padded with 0) and `tgt` (the decoder input:
BOS = vocab, then the target so far), and scores the next target token at every position
over the vocab ids, BOS and EOS = vocab + 1. Decoding (beam.py) feeds BOS, then each chosen
token, until EOS: greedy (`beam=1`) or beam search. Padding and BOS are never chosen. A
source is padded with 0 to the length the model was trained on (the data's `length`), as
in training: a recurrent encoder reads the padding too.

On the command line (`dlspec generate RUN --input ...`) a source is written as its tokens'
names separated by spaces, for `reverse` the digits 1..vocab-1: "3 1 4 1 5" (or "31415"
when every token name is one character); the output is written the same way ("5 1 4 1 3").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlspec.errors import Diagnostic, GenerateError
from dlspec.generate.beam import beam_search, greedy
from dlspec.generate.network import Network
from dlspec.generate.stepper import Decoding, decoding_of, open_stepper
from dlspec.generate.text import context_of

KIND = "seq2seq"
SOURCE, TARGET, SOURCE_MASK = "src", "tgt", "src_mask"  # the seq2seq form's field names


class Translations(list):
    """The outputs (token ids, without BOS and EOS), one per source, with `decoding`: how
    they were decoded (KV cache or full recompute, and why)."""

    def __init__(self, outputs: Sequence[list[int]], decoding: Decoding):
        super().__init__(outputs)
        self.decoding = decoding


def seq2seq_info(checked: Any) -> dict | None:
    """The generation info of an encoder-decoder trained on the seq2seq form of copy or
    reverse, or None: {"kind": "seq2seq", "source", "target", "output", "bos", "eos", "pad",
    "max_len": the decoder's most positions (or None), "length": the data's sequence
    length, "vocabulary": the output classes' names}."""
    from dlspec.data.describe import static_info
    from dlspec.data.synthetic import SEQ2SEQ, seq2seq_specials, synthetic_form
    from dlspec.data.tasks import PAD_TOKEN
    from dlspec.passes.check_objective import objective_of
    from dlspec.train.recipe.loss_config import scored_output

    spec, graph = checked.spec, checked.graph
    if spec.data is None or objective_of(spec).op != "supervised" \
            or spec.data.dataset not in SEQ2SEQ \
            or synthetic_form(spec.data.dataset, graph.inputs) != "seq2seq" \
            or not {SOURCE, TARGET} <= set(graph.inputs) <= {SOURCE, TARGET, SOURCE_MASK}:
        return None
    data = static_info(spec.data, graph.inputs)
    output = scored_output(spec.loss, graph.outputs)
    if data is None or output not in graph.outputs:
        return None
    bos, eos = seq2seq_specials(data.vocab_size)
    return {"kind": KIND, "source": SOURCE, "target": TARGET, "output": output,
            "bos": bos, "eos": eos, "pad": PAD_TOKEN, "max_len": context_of(checked, TARGET),
            "length": int(data.sample_shape[0]), "vocabulary": list(data.class_names),
            "source_max": context_of(checked, SOURCE)}


def _bad_input(message: str, hint: str) -> GenerateError:
    return GenerateError(Diagnostic("DLS602", message, hint=hint))


def _token_names(info: dict) -> list[str]:
    """The names of the ids a source may hold: 1..vocab-1 (0 pads; BOS, EOS are not input)."""
    return [str(name) for name in info["vocabulary"][info["pad"] + 1:info["bos"]]]


def encode_source(info: dict, text: str) -> list[int]:
    """The ids of a source written as token names separated by spaces ("3 1 4 1 5"), or
    run together when every name is one character ("31415"); GenerateError DLS602 for an
    unknown token, an empty source or one longer than the model reads."""
    names = _token_names(info)
    index = {name: info["pad"] + 1 + i for i, name in enumerate(names)}
    words = text.split()
    if len(words) == 1 and words[0] not in index and all(len(n) == 1 for n in names):
        words = list(words[0])
    unknown = [w for w in dict.fromkeys(words) if w not in index]
    if unknown:
        pad = info["vocabulary"][info["pad"]]
        raise _bad_input(
            f"the input has {len(unknown)} token(s) the model does not read: "
            + ", ".join(repr(w) for w in unknown),
            f"write the tokens {names[0]}..{names[-1]} separated by spaces, e.g. "
            f"\"{' '.join(names[:5])}\" ({pad!r} pads, and is not a token)")
    if not words:
        raise _bad_input("the input is empty", f"give a few tokens, e.g. \"{' '.join(names[:5])}\"")
    most = info.get("source_max")
    if most is not None and len(words) > most:
        raise _bad_input(f"the input has {len(words)} tokens; the model reads at most {most}",
                         f"give at most {most} tokens")
    return [index[w] for w in words]


def decode_target(info: dict, ids: Sequence[int]) -> str:
    """Token ids written as their names separated by spaces ("5 1 4 1 3")."""
    vocabulary = info["vocabulary"]
    return " ".join(str(vocabulary[i]) for i in ids)


def source_batch(info: dict, sources: Sequence[Sequence[int]]) -> np.ndarray:
    """The sources as one (n, S) int64 array, each padded to the data's length (or the
    longest source)."""
    width = max([info.get("length") or 0, *(len(s) for s in sources)])
    batch = np.full((len(sources), width), info["pad"], np.int64)
    for row, source in enumerate(sources):
        batch[row, :len(source)] = source
    return batch


def decoding(network: Network, info: dict, cache: bool = True) -> Decoding:
    """How `translate` will decode: with the KV cache, or by full recompute (why)."""
    return decoding_of(network, info["target"], info["output"], cache)


def translate(network: Network, info: dict, sources: Sequence[Sequence[int]], *,
              beam: int = 1, max_len: int | None = None, cache: bool = True,
              length_penalty: float = 1.0) -> Translations:
    """Each source's output ids (no BOS, no EOS): greedy for `beam` 1, else beam search
    (beam.py), at most `max_len` tokens (default: what the decoder's positions allow, else
    twice the longest source and 10 more)."""
    if beam < 1:
        raise GenerateError(Diagnostic("DLS601", f"--beam {beam} is no beam width",
                                       hint="give 1 (greedy) or more, e.g. --beam 4"))
    limit = None if info.get("max_len") is None else info["max_len"] - 1  # BOS takes one
    if max_len is None:
        max_len = limit if limit is not None else 2 * max((len(s) for s in sources),
                                                          default=0) + 10
    if max_len < 1 or (limit is not None and max_len > limit):
        raise _bad_input(f"cannot decode up to {max_len} tokens: the decoder reads at most "
                         f"{info['max_len']} positions, BOS and {limit} tokens",
                         f"give a length from 1 to {limit}")
    stepper = open_stepper(network, info["target"], info["output"], cache=cache)
    if not sources:
        return Translations([], stepper.decoding)
    src = source_batch(info, sources)
    static = {info["source"]: src}
    if SOURCE_MASK in network.inputs:
        static[SOURCE_MASK] = (src != info["pad"]).astype(np.int64)
    classes = network_classes(info)
    allowed = np.ones(classes, bool)
    allowed[[info["pad"], info["bos"]]] = False
    args = (stepper, static, len(sources), info["bos"], info["eos"], info["pad"], allowed,
            max_len)
    outputs = greedy(*args) if beam == 1 else beam_search(*args, beam, length_penalty)
    return Translations(outputs, stepper.decoding)


def network_classes(info: dict) -> int:
    """The output's classes: the vocabulary's ids, BOS and EOS."""
    return info["eos"] + 1
