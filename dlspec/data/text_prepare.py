"""From `data: {text: ...}` to `PreparedData`: the text read, the tokenizer built (a BPE
trained on the train split only), the token ids split and shaped for the model.

A corpus is cut in order into train, val and test text (data.split's proportions), each
tokenized on its own, and windows of length+1 tokens are drawn at random from each part, as
the built-in `chars` dataset does: x the first `length` ids, the targets the last. A CSV's
rows are split at random (stratified by label), and each text becomes `length` ids, cut or
padded with <pad>.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dlspec.data.builtin import RawData
from dlspec.data.describe import ModelIO, augment_diagnostics, fit_problems
from dlspec.data.fields import FieldError
from dlspec.data.generate import part_windows
from dlspec.data.split import split_indices
from dlspec.data.tasks import Task
from dlspec.data.text_config import DEFAULT_TEXT_COLUMN, bpe_vocab, text_length, tokenizer_of
from dlspec.data.text_files import (
    TextData,
    corpus_parts,
    describe_text,
    read_text,
    vocab_size,
    window_counts,
)
from dlspec.data.text_tokens import build_tokenizer, encode, fixed_length, token_names
from dlspec.data.types import PreparedData, Split


def prepare_text(config: Any, *, base_dir: Path, model: ModelIO, task: Task) -> PreparedData:
    """The text data of `config`, checked against the model (FieldError DLS401/DLS402)."""
    data = read_text(config, base_dir)
    info = describe_text(config, base_dir)
    problems = fit_problems(info, model, task, config)
    problems += [(("data", "augment", name), problem) for name, problem in
                 augment_diagnostics(config.augment, model, task).items()]
    if problems:
        raise FieldError(problems)
    name = model.all_inputs()[0].name
    if data.corpus is None:
        return _table(config, data, name, task)
    return _corpus(config, data, name, task)


def _tokenizer(config: Any, data: TextData, train_texts: list[str]):
    return build_tokenizer(tokenizer_of(config), data.characters, train_texts,
                           bpe_vocab(config))


def _corpus(config: Any, data: TextData, name: str, task: Task) -> PreparedData:
    text, length = data.corpus, text_length(config)
    parts = corpus_parts(text, config.split)
    tokenizer = _tokenizer(config, data, parts[:1])
    ids = [np.asarray(tokenizer.encode(part).ids if part else [], dtype=np.int64)
           for part in parts]
    counts = window_counts(config, sum(len(part) for part in ids), length)
    rng = np.random.default_rng([config.seed, 1])  # a stream of its own, as generate's
    window = part_windows(rng, ids, counts, length, str(data.path), "tokens")
    counts = np.cumsum([0, *counts])
    train, val, test = (Split({name: window[a:b, :-1]}, window[a:b, 1:])
                        for a, b in zip(counts[:-1], counts[1:], strict=True))
    return PreparedData(
        train=train, val=val, test=test, task=task,
        feature_names=[f"t{i}" for i in range(length)],
        class_names=token_names(tokenizer, vocab_size(config, data)), source=str(data.path),
        augment=config.augment, tokenizer=tokenizer.to_str())


def _table(config: Any, data: TextData, name: str, task: Task) -> PreparedData:
    from dlspec.data.prepare import _stratify_labels, _targets

    classes = list(data.class_names)
    indices = np.searchsorted(np.array(classes), np.array(data.labels)).astype(np.int64)
    raw = RawData(np.zeros((len(indices), 0), np.float32), indices, [], classes)
    y = _targets(raw, task)
    splits = split_indices(len(y), config.split, config.seed, _stratify_labels(config, task, y))
    tokenizer = _tokenizer(config, data, [data.texts[i] for i in splits[0]])
    length = text_length(config)
    ids = np.asarray(encode(fixed_length(tokenizer, length), data.texts), dtype=np.int64)
    train, val, test = (Split({name: ids[rows]}, y[rows]) for rows in splits)
    return PreparedData(
        train=train, val=val, test=test, task=task,
        feature_names=[f"t{i}" for i in range(length)], class_names=classes,
        source=str(data.path), augment=config.augment, tokenizer=tokenizer.to_str(),
        text_column=config.text_column or DEFAULT_TEXT_COLUMN, sampling=config.sampling)
