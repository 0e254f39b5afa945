"""Prompts and generated text of a language model trained on `data: {text: ...}`: read and
written by the run's tokenizer (tokenizers' JSON, from the run folder's tokenizer.json or
the exported file's metadata key `tokenizer`)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from dlspec.errors import Diagnostic, GenerateError

METADATA_KEY = "tokenizer"


@functools.lru_cache(maxsize=4)
def text_tokenizer(text: str) -> Any:
    """The tokenizer of its JSON (one parse per JSON)."""
    from dlspec.data.text_tokens import load_tokenizer

    return load_tokenizer(text, "the model")


def text_ids(tokenizer_json: str, text: str) -> list[int]:
    """The ids of a prompt; GenerateError DLS602 for an empty prompt or characters the
    tokenizer does not know (all named)."""
    if not text:
        raise GenerateError(Diagnostic("DLS602", "the prompt is empty",
                                       hint="give at least one character, e.g. --prompt 'The '"))
    tokenizer = text_tokenizer(tokenizer_json)
    encoding = tokenizer.encode(text)
    unk = tokenizer.token_to_id("<unk>")
    unknown = sorted({text[a:b] for i, (a, b) in zip(encoding.ids, encoding.offsets, strict=True)
                      if i == unk})
    if unknown:
        known = "".join(sorted(token for token in tokenizer.get_vocab() if len(token) == 1))
        raise GenerateError(Diagnostic(
            "DLS602", f"the prompt has {len(unknown)} character(s) outside the model's "
                      f"vocabulary: {', '.join(repr(c) for c in unknown)}",
            hint=f"use only the characters the model was trained on: {known!r}"))
    return list(encoding.ids)


def generated_ids(tokenizer_json: str, classes: int) -> np.ndarray:
    """The ids the model may generate: the tokenizer's, but its special tokens (<pad>,
    <unk>) and the ids a BPE vocabulary left free."""
    tokenizer = text_tokenizer(tokenizer_json)
    allowed = np.zeros(classes, dtype=bool)
    allowed[[i for i in tokenizer.get_vocab(with_added_tokens=True).values() if i < classes]] = True
    for i, token in tokenizer.get_added_tokens_decoder().items():
        if token.special and i < classes:
            allowed[i] = False
    return allowed


def with_tokenizer(info: dict[str, Any] | None, tokenizer_json: str | None,
                   origin: str) -> dict[str, Any] | None:
    """A language model's generation record with its tokenizer, when the model reads text
    by one (its record's `tokenizer` is null); GenerateError DLS601 when `origin` lacks it."""
    if info is None or "tokenizer" not in info or info["tokenizer"] is not None:
        return info
    if not tokenizer_json:
        raise GenerateError(Diagnostic(
            "DLS601", f"{origin} holds no tokenizer, so its text cannot be read or written",
            hint="train the run again (dlspec train writes tokenizer.json into the run "
                 "folder), and export it from there"))
    return {**info, "tokenizer": tokenizer_json}
