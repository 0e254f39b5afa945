"""The built-in synthetic sequence datasets: what each one is, its parameters and its shapes.

They are generated from `data.seed` (generate.py, numpy) and never downloaded. This module is
the static side, without numpy: the facts `dlspec validate` checks a model against.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from importlib import resources

from dlspec.data.builtin import DatasetInfo, TargetKind

# The parameters a synthetic dataset may take under `data:`.
SYNTHETIC_PARAMS = ("samples", "length", "vocab", "noise")
CORPUS_FILE = "corpus.txt"
PAD_NAME = "<pad>"


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


def synthetic_field(name: str) -> str:
    """The name of a synthetic dataset's one field: `tokens` (ids), `values` for sine."""
    return "values" if name == "sine" else "tokens"


def describe_synthetic(name: str, params: dict[str, int | float]) -> DatasetInfo:
    """The static facts of a synthetic dataset with `params` (see `synthetic_params`)."""
    info = _describe(name, params)
    return replace(info, fields={synthetic_field(name): info.fields["x"]})


def _describe(name: str, params: dict[str, int | float]) -> DatasetInfo:
    length, samples = int(params["length"]), int(params["samples"])
    positions = tuple(f"t{i}" for i in range(length))
    common = {"name": name, "task": SYNTHETIC[name].task, "n_samples": samples,
              "feature_names": positions, "n_features": length, "sample_shape": (length,)}
    if name in ("copy", "reverse"):
        vocab = int(params["vocab"])
        return DatasetInfo(**common, vocab_size=vocab,
                           class_names=tuple(str(i) for i in range(vocab)))
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
