"""Generating the synthetic sequence datasets (see synthetic.py) from a seed, with numpy.

Token ids start at 1; 0 is padding (PAD_TOKEN), and a padded position's tagging target is
PAD_TARGET, which the loss and the metrics skip. The same seed always gives the same data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlspec.data.builtin import DatasetInfo, RawData
from dlspec.data.graph_generate import generate_sbm
from dlspec.data.graphs import SBM
from dlspec.data.split import split_sizes
from dlspec.data.synthetic import (
    SEQ2SEQ,
    Form,
    corpus_text,
    corpus_vocabulary,
    describe_synthetic,
    seq2seq_specials,
)
from dlspec.data.tasks import PAD_TARGET, PAD_TOKEN
from dlspec.data.text_files import part_too_short
from dlspec.errors import DataError

OPEN, CLOSE = 1, 2  # the token ids of '(' and ')' in brackets; parity's bits 0/1 are 1/2


def copy_or_reverse(rng: np.random.Generator, samples: int, length: int, vocab: int,
                    reverse: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of L random ids in 1..vocab-1 (L uniform in length//2..length), padded to
    `length` with 0; targets are the ids (or the first L reversed), PAD_TARGET on padding."""
    lengths = rng.integers(max(1, length // 2), length + 1, size=samples)
    tokens = rng.integers(1, vocab, size=(samples, length))
    positions = np.arange(length)
    real = positions < lengths[:, None]
    targets = tokens
    if reverse:
        source = np.clip(lengths[:, None] - 1 - positions, 0, None)
        targets = np.take_along_axis(tokens, source, axis=1)
    return np.where(real, tokens, PAD_TOKEN), np.where(real, targets, PAD_TARGET)


def seq2seq(tokens: np.ndarray, targets: np.ndarray,
            vocab: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The seq2seq form of tagging data (tokens padded with 0, targets PAD_TARGET on padding):
    fields src, tgt (BOS, then the target, padded), src_mask and tgt_mask, and the targets
    (the target, then EOS, PAD_TARGET on padding), each (n, T+1) for tokens (n, T)."""
    bos, eos = seq2seq_specials(vocab)
    n, length = targets.shape
    real = targets != PAD_TARGET
    target = np.where(real, targets, PAD_TOKEN)
    src = np.concatenate([tokens, np.full((n, 1), PAD_TOKEN)], axis=1)
    tgt = np.concatenate([np.full((n, 1), bos), target], axis=1)
    y = np.concatenate([np.where(real, targets, PAD_TARGET), np.full((n, 1), PAD_TARGET)],
                       axis=1)
    y[np.arange(n), real.sum(axis=1)] = eos
    fields = {"src": src, "tgt": tgt, "src_mask": (src != PAD_TOKEN).astype(np.int64),
              "tgt_mask": (tgt != PAD_TOKEN).astype(np.int64)}
    return fields, y


def copy_or_reverse_seq2seq(rng: np.random.Generator, samples: int, length: int, vocab: int,
                            reverse: bool) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """copy/reverse in the seq2seq form (`seq2seq`), every field (samples, length): sources
    of (length-1)//2..length-1 tokens, leaving one position for BOS (tgt) and EOS (y)."""
    return seq2seq(*copy_or_reverse(rng, samples, length - 1, vocab, reverse), vocab)


def is_balanced(brackets: np.ndarray) -> np.ndarray:
    """Per row of OPEN/CLOSE ids: whether every prefix has no more ')' than '(' and the
    counts end equal."""
    depth = np.cumsum(np.where(brackets == OPEN, 1, -1), axis=1)
    return (depth.min(axis=1) >= 0) & (depth[:, -1] == 0)


def _balanced_word(rng: np.random.Generator, length: int) -> np.ndarray:
    """A random balanced bracket word: '(' or ')' with equal odds wherever both keep it
    completable."""
    word, depth = np.empty(length, dtype=np.int64), 0
    for i in range(length):
        can_open, can_close = depth < length - i, depth > 0
        opening = can_open and (not can_close or rng.random() < 0.5)
        word[i] = OPEN if opening else CLOSE
        depth += 1 if opening else -1
    return word


def _unbalanced_word(rng: np.random.Generator, length: int) -> np.ndarray:
    """A near miss: a balanced word with one bracket flipped (the counts differ), or the
    same number of each bracket in an order that closes one too early."""
    if rng.random() < 0.5:
        word = _balanced_word(rng, length)
        i = rng.integers(length)
        word[i] = OPEN + CLOSE - word[i]
        return word
    while True:
        word = rng.permutation(np.repeat([OPEN, CLOSE], length // 2))
        if not is_balanced(word[None])[0]:
            return word


def brackets(rng: np.random.Generator, samples: int, length: int) -> tuple[np.ndarray, ...]:
    """Bracket words (samples, length) and labels: 1 balanced, 0 unbalanced (half each)."""
    labels = rng.permutation(np.arange(samples) % 2)
    words = np.stack([_balanced_word(rng, length) if label else _unbalanced_word(rng, length)
                      for label in labels])
    return words, labels.astype(np.int64)


def parity(rng: np.random.Generator, samples: int, length: int) -> tuple[np.ndarray, ...]:
    """Random bits as ids 1/2 (samples, length) and labels: 1 when the number of ones is odd."""
    bits = rng.integers(0, 2, size=(samples, length))
    return bits + 1, bits.sum(axis=1) % 2


def sine(rng: np.random.Generator, samples: int, length: int,
         noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Windows of a*sin(2*pi*f*t + phase) + gaussian noise, a in [0.5, 1.5], f in
    [0.02, 0.1] cycles per step: x (samples, length, 1), y the next value (samples, 1)."""
    t = np.arange(length + 1)
    amplitude = rng.uniform(0.5, 1.5, size=(samples, 1))
    frequency = rng.uniform(0.02, 0.1, size=(samples, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(samples, 1))
    series = amplitude * np.sin(2 * np.pi * frequency * t + phase)
    series += noise * rng.standard_normal(series.shape)
    series = series.astype(np.float32)
    return series[:, :length, None], series[:, length:]


def chars(rng: np.random.Generator, samples: int, length: int,
          fractions: Sequence[float]) -> RawData:
    """Windows of length+1 characters of the corpus: x the first `length` ids, y the last.

    The text is cut into train/val/test parts in the split's proportions, and each split's
    windows are drawn from its own part only, so no text of val or test is trained on.
    """
    lookup = {c: i for i, c in enumerate(corpus_vocabulary())}
    ids = np.array([lookup[c] for c in corpus_text()], dtype=np.int64)
    cuts = np.round(np.cumsum([0.0, *fractions]) * len(ids)).astype(int)
    parts = [ids[cuts[k]:cuts[k + 1]] for k in range(3)]
    window = part_windows(rng, parts, split_sizes(samples, fractions), length,
                          "the chars text", "characters")
    return RawData(window[:, :-1], window[:, 1:], [f"t{i}" for i in range(length)],
                   list(corpus_vocabulary()))


def part_windows(rng: np.random.Generator, parts: Sequence[np.ndarray], counts: Sequence[int],
                 length: int, text: str, unit: str) -> np.ndarray:
    """`counts[k]` windows of length+1 ids at random offsets of `parts[k]` (the train, val
    and test parts of a text), in order; DLS401 for a part too short for one."""
    windows = []
    for k, count in enumerate(counts):
        part = parts[k]
        if count and len(part) <= length:
            raise DataError(part_too_short(k, text, len(part), unit, length))
        offsets = rng.integers(0, max(len(part) - length, 1), size=count)
        windows.append(part[offsets[:, None] + np.arange(length + 1)])
    return np.concatenate(windows)  # train, val, test in order (ordered_splits)


def raw_data(fields: dict[str, np.ndarray], y: np.ndarray, info: DatasetInfo) -> RawData:
    """RawData of named fields (n, T) each: x is their values side by side, named
    `<field>_t<position>`."""
    names = [f"{name}_{position}" for name in fields for position in info.feature_names]
    return RawData(np.concatenate(list(fields.values()), axis=1), y, names,
                   list(info.class_names), fields)


def generate(name: str, params: dict, seed: int, fractions: Sequence[float],
             form: Form = "tagging") -> RawData:
    """The synthetic dataset `name` with `params` (see synthetic.synthetic_params), in
    `form` (synthetic.synthetic_form)."""
    if name == SBM:
        return generate_sbm(params, seed)  # graph_generate.py
    rng = np.random.default_rng([seed, 1])  # a stream of its own, not the split's
    samples, length = int(params["samples"]), int(params["length"])
    if name == "chars":
        return chars(rng, samples, length, fractions)
    if name in SEQ2SEQ:
        reverse, vocab = name == "reverse", int(params["vocab"])
        if form == "seq2seq":
            fields, y = copy_or_reverse_seq2seq(rng, samples, length, vocab, reverse)
            return raw_data(fields, y, describe_synthetic(name, params, form))
        x, y = copy_or_reverse(rng, samples, length, vocab, reverse)
    elif name == "sine":
        x, y = sine(rng, samples, length, float(params["noise"]))
    else:
        x, y = (brackets if name == "brackets" else parity)(rng, samples, length)
    info = describe_synthetic(name, params)
    class_names = [] if name == "sine" else list(info.class_names)
    return RawData(x, y, list(info.feature_names), class_names)
