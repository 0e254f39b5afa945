"""The built-in synthetic sequence datasets: what each one is, its parameters and its shapes.

They are generated from `data.seed` (generate.py, numpy) and never downloaded. This module is
the static side, without numpy: the facts `dlspec validate` checks a model against.

`copy` and `reverse` come in two forms. The tagging form (one input) maps the padded source
ids to a target per position. The seq2seq form, for an encoder-decoder trained with teacher
forcing, feeds a model with several inputs, each from the field of its name: `src` (the
source ids, padded with 0), `tgt` (the decoder input: BOS, then the target, padded) and the
padding masks `src_mask` and `tgt_mask` (int64, 1 = token, 0 = pad), every one (T,); the
targets are the target sequence then EOS, PAD_TARGET on padding. BOS is id `vocab` and EOS
id `vocab + 1` (`seq2seq_specials`), so the classes are the `vocab` ids, then "<bos>" and
"<eos>"; the sources hold (T-1)//2..T-1 tokens, leaving room for BOS/EOS.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Literal

from dlspec.data.builtin import DatasetInfo, FieldInfo, TargetKind
from dlspec.data.graphs import (
    GRAPH_PARAMS,
    SBM,
    SBM_DEFAULTS,
    SBM_SUMMARY,
    check_sbm_params,
    describe_sbm,
)

# The parameters a synthetic dataset may take under `data:`.
SYNTHETIC_PARAMS = ("samples", "length", "vocab", "noise", *GRAPH_PARAMS)
CORPUS_FILE = "corpus.txt"
PAD_NAME = "<pad>"
SEQ2SEQ = ("copy", "reverse")  # the datasets with a seq2seq form
SPECIAL_NAMES = ("<bos>", "<eos>")
Form = Literal["tagging", "seq2seq"]


@dataclass(frozen=True)
class Synthetic:
    """One synthetic dataset: its task, its sample and target shapes, and its parameters."""

    task: TargetKind
    summary: str
    defaults: dict[str, int | float]  # the parameters it takes, with their defaults
    # True: the samples come as train, then val, then test (split_sizes of data.split),
    # each drawn from its own part of the source, and are not split at random.
    ordered_splits: bool = False

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.defaults)


_TOKENS = {"samples": 3000, "length": 12, "vocab": 10}
SYNTHETIC: dict[str, Synthetic] = {
    "copy": Synthetic(
        "tagging", "token ids (T,) -> the same ids (T,); lengths T//2..T, padded with 0",
        _TOKENS),
    "reverse": Synthetic(
        "tagging", "token ids (T,) -> the sequence reversed (T,); lengths T//2..T, padded "
        "with 0", _TOKENS),
    "brackets": Synthetic(
        "classification", "'(' / ')' ids (T,) -> balanced or unbalanced (half each)",
        {"samples": 4000, "length": 16}),
    "parity": Synthetic(
        "classification", "bit ids (T,) -> whether the number of ones is even or odd",
        {"samples": 4000, "length": 12}),
    "sine": Synthetic(
        "regression", "a noisy sine wave (T, 1) -> its next value (1,)",
        {"samples": 2000, "length": 32, "noise": 0.05}),
    "chars": Synthetic(
        "language_model", "character ids (T,) of a small English text -> the next "
        "character at every position (T,)", {"samples": 2000, "length": 64},
        ordered_splits=True),
    SBM: Synthetic("tagging", SBM_SUMMARY, SBM_DEFAULTS),  # graphs.py
}
BRACKET_CLASSES = ("unbalanced", "balanced")
PARITY_CLASSES = ("even", "odd")


@cache
def corpus_text() -> str:
    """The text of the `chars` dataset (a few KB of English prose, shipped with dlspec)."""
    return resources.files("dlspec.data").joinpath(CORPUS_FILE).read_text(encoding="utf-8")


@cache
def corpus_vocabulary() -> tuple[str, ...]:
    """The token names of `chars`: padding (id 0, never used), then the distinct characters
    of the corpus, sorted: token id i stands for the i-th."""
    return (PAD_NAME, *sorted(set(corpus_text())))


def synthetic_params(name: str, given: dict[str, int | float | None]) -> dict[str, int | float]:
    """The dataset's parameters: its defaults, replaced by the values given (not None)."""
    defaults = SYNTHETIC[name].defaults
    return {k: given[k] if given.get(k) is not None else v for k, v in defaults.items()}


def synthetic_form(name: str, input_names: Iterable[str]) -> Form:
    """The form of dataset `name` a model with inputs `input_names` is fed: seq2seq for
    copy/reverse when it has several (an encoder-decoder), else tagging (the others' one
    form)."""
    return "seq2seq" if name in SEQ2SEQ and len(list(input_names)) > 1 else "tagging"


def seq2seq_specials(vocab: int) -> tuple[int, int]:
    """The (BOS, EOS) ids of the seq2seq form with token ids 1..vocab-1 (0 pads)."""
    return vocab, vocab + 1


def seq2seq_fields(length: int, vocab: int) -> dict[str, FieldInfo]:
    """The fields of the seq2seq form, each (T,) int64: the ids of src are below vocab, of
    tgt below vocab + 1 (BOS), of the masks below 2."""
    return {"src": FieldInfo((length,), "int64", vocab),
            "tgt": FieldInfo((length,), "int64", vocab + 1),
            "src_mask": FieldInfo((length,), "int64", 2),
            "tgt_mask": FieldInfo((length,), "int64", 2)}


def synthetic_field(name: str) -> str:
    """The name of a synthetic dataset's one field: `tokens` (ids), `values` for sine."""
    return "values" if name == "sine" else "tokens"


def describe_synthetic(name: str, params: dict[str, int | float],
                       form: Form = "tagging") -> DatasetInfo:
    """The static facts of a synthetic dataset with `params` (see `synthetic_params`) in
    `form` (see `synthetic_form`; the seq2seq form is copy's and reverse's only)."""
    if name == SBM:
        return describe_sbm(params)
    seq2seq = form == "seq2seq" and name in SEQ2SEQ
    info = _describe(name, params, seq2seq)
    if seq2seq:
        return replace(info, fields=seq2seq_fields(int(params["length"]), int(params["vocab"])))
    if list(info.fields) != ["x"]:  # a dataset that names its fields itself
        return info
    return replace(info, fields={synthetic_field(name): info.fields["x"]})


def _describe(name: str, params: dict[str, int | float], seq2seq: bool) -> DatasetInfo:
    length, samples = int(params["length"]), int(params["samples"])
    positions = tuple(f"t{i}" for i in range(length))
    common = {"name": name, "task": SYNTHETIC[name].task, "n_samples": samples,
              "feature_names": positions, "n_features": length, "sample_shape": (length,)}
    if name in SEQ2SEQ:
        vocab = int(params["vocab"])
        specials = SPECIAL_NAMES if seq2seq else ()
        return DatasetInfo(**common, vocab_size=vocab,
                           class_names=(*(str(i) for i in range(vocab)), *specials))
    if name == "chars":
        vocabulary = corpus_vocabulary()
        return DatasetInfo(**common, vocab_size=len(vocabulary), class_names=vocabulary)
    if name == "sine":
        return DatasetInfo(**{**common, "sample_shape": (length, 1)})
    classes = BRACKET_CLASSES if name == "brackets" else PARITY_CLASSES
    return DatasetInfo(**common, vocab_size=3, class_names=classes)


def check_synthetic_params(name: str, given: dict[str, int | float | None]) -> None:
    """Raise ValueError for a parameter the dataset does not take or cannot use."""
    takes = SYNTHETIC[name].params
    for key in SYNTHETIC_PARAMS:
        if given.get(key) is not None and key not in takes:
            users = [n for n, s in SYNTHETIC.items() if key in s.params]
            raise ValueError(f"`{key}` is not a parameter of the dataset '{name}' (it takes "
                             f"{', '.join(takes)}); `{key}` is for {', '.join(users)}")
    params = synthetic_params(name, given)
    if name == "brackets" and params["length"] % 2:
        raise ValueError(f"brackets needs an even length (pairs of brackets), got "
                         f"{params['length']}")
    if name == SBM:
        check_sbm_params(params)
