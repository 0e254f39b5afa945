"""`${data.vocab_size}` and `${data.classes}`: facts of the spec's data that a model's layers
may read, so that embedding and output sizes follow the data.

The facts are found when an expression first reads them, torch-free: from static tables for
the built-in and synthetic datasets, and for `text:` data from the file (char: a scan of its
characters; byte: 257; bpe: the `vocab` asked for; a CSV's classes: its labels). Data that
cannot be read is reported once, at its key in the `data:` section; the expressions reading
it then fail without a report of their own (one mistake, one error). A run's copy of the
spec whose text file has moved reads the vocabulary's size from the run's tokenizer.json,
so its model can still be built to generate or export.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dlspec.errors import DataError, Diagnostic, RuleError
from dlspec.spec.expressions import DependsOnFailure

NAME = "data"


class DataFacts:
    """The value of `data` in a layer's expressions (see the module's docstring)."""

    def __init__(self, loaded: Any, problems: list[Diagnostic]):
        self._loaded = loaded
        self._problems = problems
        self._fields: dict[str, Any] | None = None
        self._failed = False

    @property
    def expression_fields(self) -> dict[str, Any]:
        if self._failed:
            raise DependsOnFailure("the data could not be read", code="DLS401")
        if self._fields is None:
            try:
                self._fields = self._facts()
            except RuleError:
                self._failed = True  # reported where first read; later reads fail quietly
                raise
        return self._fields

    def _facts(self) -> dict[str, Any]:
        from dlspec.data.describe import describe_data, static_info
        from dlspec.data.fields import keys_of

        config = self._loaded.spec.data
        if config is None:
            raise RuleError("`data.<fact>` reads the spec's data, but it has no `data:` "
                            "section", code="DLS111", hint="add a data section, or give "
                            "the size as a number or a param")
        info = static_info(config)
        if info is None and config.dataset != "text":
            raise RuleError(f"`data.<fact>` is known for built-in, synthetic and text data; "
                            f"'{config.dataset}' is read only when training", code="DLS111",
                            hint="give the size as a number or a param")
        if info is None:
            try:
                info = describe_data(config, self._loaded.base_dir)
            except DataError as err:
                saved = run_facts(config, Path(self._loaded.source.file).parent)
                if saved is not None:  # a run's copy of the spec, its text moved away
                    return saved
                source = self._loaded.source
                self._problems += [d.at(source.span(key))
                                   for key, d in zip(keys_of(err), err.diagnostics, strict=True)]
                self._failed = True
                raise DependsOnFailure("the data could not be read", code="DLS401") from None
        facts: dict[str, Any] = {"classes": info.num_classes}
        if info.vocab_size:
            facts["vocab_size"] = info.vocab_size
        return facts

    def __repr__(self) -> str:
        return "<the spec's data>"


def run_facts(config: Any, folder: Path) -> dict[str, Any] | None:
    """The vocabulary's size of text data from the tokenizer.json of a run `folder` (where
    its spec.yaml is), or None when `folder` holds no run of text data."""
    from dlspec.data.text_config import BYTES, SPECIALS, TEXT, bpe_vocab, tokenizer_of

    saved = folder / "tokenizer.json"
    if config.dataset != TEXT or not (folder / "spec.yaml").is_file() or not saved.is_file():
        return None
    kind = tokenizer_of(config)
    if kind == "char":
        try:
            return {"vocab_size": len(json.loads(saved.read_text("utf-8"))["model"]["vocab"])}
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return {"vocab_size": bpe_vocab(config) if kind == "bpe" else len(SPECIALS[kind]) + BYTES}


def with_data(loaded: Any, section: Any, problems: list[Diagnostic]) -> dict[str, Any]:
    """The params a model `section`'s layers read, with `data` added unless a param, an
    input or a top-level layer has that name already."""
    layers = loaded.raw
    for key in section.at("layers"):
        layers = layers[key] if isinstance(layers, (dict, list)) else None
    names = [layer.get("name") for layer in layers if isinstance(layer, dict)] \
        if isinstance(layers, list) else []
    if NAME in loaded.params or NAME in section.inputs or NAME in names:
        return dict(loaded.params)
    return {NAME: DataFacts(loaded, problems), **loaded.params}
