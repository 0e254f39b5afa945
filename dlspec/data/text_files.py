"""Reading your own text (`data: {text: ...}`): a corpus, or a CSV file of texts and labels,
and what `dlspec validate` knows of it: the classes, the vocabulary's size, the sequences.

Torch-free and tokenizer-free: the char vocabulary is a scan of the file's characters, the
byte vocabulary is fixed, and a BPE vocabulary has the size the spec asks for. Every problem
is a DLS401 naming the file, at the `data:` key it comes from.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from dlspec.data.builtin import DatasetInfo, FieldInfo
from dlspec.data.fields import DataKey, FieldError
from dlspec.data.split_sizes import split_sizes
from dlspec.data.text_config import (
    BYTES,
    DEFAULT_TEXT_COLUMN,
    SPECIALS,
    bpe_vocab,
    is_table,
    text_length,
    tokenizer_of,
)
from dlspec.errors import DataError, Diagnostic, suggest

AT_TEXT: DataKey = ("data", "text")
TEXT_FIELD = "tokens"  # the field of token ids a text dataset feeds its model from


def _fail(message: str, hint: str | None = None, key: DataKey = AT_TEXT) -> FieldError:
    return FieldError([(key, Diagnostic("DLS401", message, hint=hint))])


@dataclass(frozen=True)
class TextData:
    """A text file as read: a corpus (`corpus`), or a CSV's texts with their labels and line
    numbers; `characters` are the distinct characters of all its text."""

    path: Path
    corpus: str | None
    texts: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    characters: frozenset[str] = frozenset()

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.labels)))


def text_path(config: Any, base_dir: Path) -> Path:
    return Path(base_dir) / str(config.text)


def read_text(config: Any, base_dir: Path) -> TextData:
    """The configured text file, read once per version of the file (FieldError DLS401)."""
    path = text_path(config, base_dir)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise _fail(f"text file {path} {what}",
                    hint="data paths are relative to the spec file's folder")
    stat = path.stat()
    column = (config.text_column or DEFAULT_TEXT_COLUMN) if is_table(config.text) else None
    return _read(path, stat.st_size, stat.st_mtime_ns, column, config.target, config.missing)


@functools.lru_cache(maxsize=4)  # validate, lowering and training read the same file
def _read(path: Path, size: int, mtime: int, column: str | None, target: str | None,
          missing: str) -> TextData:
    if column is not None:
        return _read_table(path, column, target, missing == "drop")
    try:
        corpus = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _fail(f"text file {path} is not UTF-8 text: {error}",
                    hint="save the file as UTF-8") from error
    except OSError as error:
        raise _fail(f"cannot read text file {path}: {error.strerror or error}") from error
    if not corpus.strip():
        raise _fail(f"text file {path} is empty: a language model needs text to learn from",
                    hint="give a file with text in it")
    return TextData(path, corpus, characters=frozenset(corpus))


def _read_table(path: Path, column: str, target: str | None, drop: bool) -> TextData:
    from dlspec.data.files import _read_table as read_rows  # the CSV checks of data files

    try:
        header, rows = read_rows(path)
    except DataError as error:
        raise FieldError([(AT_TEXT, d) for d in error.diagnostics]) from None
    if column not in header:
        key = ("data", "text_column") if column != DEFAULT_TEXT_COLUMN else AT_TEXT
        raise _fail(f"{path} has no column '{column}' (named as the text column)",
                    hint=suggest(column, header) + ("" if key != AT_TEXT else
                                                    "; name it with data.text_column"), key=key)
    others = [name for name in header if name != column]
    label = target or (others[-1] if others else None)
    if label is None:
        raise _fail(f"{path} has only the text column '{column}': no labels to learn",
                    hint="add a column of class labels and name it with data.target")
    if label not in header:
        raise _fail(f"{path} has no column '{label}' (named as the target)",
                    hint=suggest(label, header), key=("data", "target"))
    if label == column:
        raise _fail(f"{path}: column '{column}' is both the text and the target",
                    hint="the target is the column of class labels", key=("data", "target"))
    at_text, at_label = header.index(column), header.index(label)
    texts, labels, lines = [], [], []
    for line, row in rows:
        cell = row[at_label].strip()
        if not cell:
            if drop:
                continue
            raise _fail(f"{path}:{line}: the target column '{label}' is empty",
                        hint="fill the label in, or set data.missing: drop")
        texts.append(row[at_text])
        labels.append(cell)
        lines.append(line)
    if not texts:
        raise _fail(f"{path} has no row with a label")
    _check_classes(path, label, labels, lines)
    return TextData(path, None, tuple(texts), tuple(labels), frozenset("".join(texts)))


def _check_classes(path: Path, label: str, labels: list[str], lines: list[int]) -> None:
    """Two classes or more, each of two texts or more (as an image folder's): one text
    cannot be in both the train split and another, and a stratified split needs two."""
    counts = Counter(labels)
    names = sorted(counts)
    if len(names) < 2:
        raise _fail(f"{path} has one class ({names[0]}) in column '{label}'; a classifier "
                    "needs two or more", hint="add texts of another class")
    single = [name for name in names if counts[name] == 1]
    if single:
        raise _fail("; ".join(f"{path}:{lines[labels.index(name)]}: class '{name}' has one "
                              "text; a class needs two or more" for name in single),
                    hint="add texts of that class, or remove the row")


def vocab_size(config: Any, data: TextData | None) -> int:
    """The token ids the configured tokenizer gives, 0..vocab_size-1: char: <pad>, <unk> and
    each distinct character of `data`; byte: <pad> and 256 bytes; bpe: data.vocab."""
    kind = tokenizer_of(config)
    if kind == "bpe":
        return bpe_vocab(config)
    if kind == "byte":
        return len(SPECIALS["byte"]) + BYTES
    return len(SPECIALS["char"]) + len(data.characters)


def char_vocabulary(characters: frozenset[str]) -> tuple[str, ...]:
    """The char tokenizer's tokens, id i the i-th: <pad>, <unk>, the characters sorted."""
    return (*SPECIALS["char"], *sorted(characters))


def describe_text(config: Any, base_dir: Path) -> DatasetInfo:
    """What `dlspec validate` checks a model against: (length,) token ids below the
    vocabulary's size; next-token targets of a corpus, or the labels of a CSV."""
    data = read_text(config, base_dir)
    length, size = text_length(config), vocab_size(config, data)
    common = {"name": str(data.path), "n_features": length, "sample_shape": (length,),
              "vocab_size": size, "feature_names": tuple(f"t{i}" for i in range(length)),
              "fields": {TEXT_FIELD: FieldInfo((length,), "int64", size)}}
    if data.corpus is None:
        return DatasetInfo(**common, task="classification", class_names=data.class_names,
                           n_samples=len(data.texts))
    _check_parts(config, data.path, data.corpus, length)
    names = (char_vocabulary(data.characters) if tokenizer_of(config) == "char"
             else tuple(f"<{i}>" for i in range(size)))  # named once trained (byte, bpe)
    return DatasetInfo(**common, task="language_model", class_names=names)


def corpus_parts(corpus: str, split) -> list[str]:
    """The train, val and test text of a corpus: cut in order in data.split's proportions."""
    cuts = [round(c * len(corpus)) for c in accumulate([0.0, *split])]
    return [corpus[cuts[k]:cuts[k + 1]] for k in range(3)]


def window_counts(config: Any, tokens: int, length: int) -> tuple[int, int, int]:
    """How many windows training draws from the train, val and test parts of a corpus of
    `tokens` tokens: data.samples (default: as many as the corpus has windows' lengths)
    split in data.split's proportions."""
    return split_sizes(config.samples or max(1, tokens // length), config.split)


def part_too_short(k: int, text: str, count: int, unit: str, length: int) -> Diagnostic:
    """DLS401: part k of a corpus has `count` units, too few for a window of length+1."""
    part = ("train", "val", "test")[k]
    return Diagnostic("DLS401", f"the {part} part of {text} has {count} {unit}, too few for "
                      f"windows of {length + 1}", hint=f"use a shorter data.length, or a "
                      f"larger {part} fraction in data.split")


def _check_parts(config: Any, path: Path, corpus: str, length: int) -> None:
    """Each part of the corpus that windows are drawn from holds one window, as training
    will draw them (text_prepare): char and byte tokens are counted exactly; a BPE's only
    once it is trained, but it has no more tokens than bytes, so with a set `samples` a
    part of `length` bytes or fewer is refused here too."""
    kind = tokenizer_of(config)
    if kind == "bpe" and config.samples is None:
        return
    sizes = [len(p) if kind == "char" else len(p.encode("utf-8"))
             for p in corpus_parts(corpus, config.split)]
    unit = "characters" if kind == "char" else "bytes"
    counts = window_counts(config, sum(sizes), length)
    problems = [(AT_TEXT, part_too_short(k, str(path), size, unit, length))
                for k, (size, count) in enumerate(zip(sizes, counts, strict=True))
                if count and size <= length]
    if problems:
        raise FieldError(problems)
