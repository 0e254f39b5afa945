"""Map a source state dict onto a spec's tensors with a WeightMapping (torch side).

For each spec tensor, the first rule whose `to` matches it and whose `from` tensors are all
in the source (under one of the mapping's `prefixes`), or that `fill`s a constant, makes it,
in this order: the sources are concatenated on `dim`, `chunk: [i, n]` keeps piece i of n on
`dim`, `transpose` swaps a 2-D tensor, `reshape` gives it a shape (`spec`: the spec
tensor's), `scale` multiplies it; the result takes the spec tensor's dtype. Nothing is
dropped silently: spec tensors nothing filled, source tensors no rule read, shape
mismatches and transforms that failed are all listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from dlspec.weights.globs import TemplateError, fill, match, matches_tail
from dlspec.weights.mapping import Rule, WeightMapping

Shape = tuple[int, ...]


@dataclass
class MappedWeights:
    """What a mapping made of a source state dict."""

    tensors: dict[str, torch.Tensor] = field(default_factory=dict)  # spec name -> tensor
    missing: list[str] = field(default_factory=list)  # spec tensors nothing filled
    unused: list[str] = field(default_factory=list)  # source tensors no rule read, not ignored
    mismatched: list[tuple[str, Shape, Shape]] = field(default_factory=list)  # (name, got, want)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (spec name, why)
    why_missing: dict[str, str] = field(default_factory=dict)  # spec name -> why

    @property
    def complete(self) -> bool:
        """Every spec tensor was filled with the right shape."""
        return not (self.missing or self.mismatched or self.failed)

    def left_out(self) -> list[str]:
        """Spec tensors that the mapping did not fill (missing, mismatched or failed)."""
        return [*self.missing, *(m[0] for m in self.mismatched), *(f[0] for f in self.failed)]

    def lines(self) -> list[str]:
        """The tensors that did not map, by name, one group a line (empty when all did and
        every source tensor was used)."""
        lines = []
        if self.missing:
            lines.append(f"  {len(self.missing)} spec tensor(s) not filled: " + ", ".join(
                f"{name} ({self.why_missing[name]})" if name in self.why_missing else name
                for name in self.missing))
        if self.mismatched:
            lines.append(f"  {len(self.mismatched)} shape mismatch(es): " + ", ".join(
                f"{name} got {tuple(got)}, the spec has {tuple(want)}"
                for name, got, want in self.mismatched))
        if self.failed:
            lines.append(f"  {len(self.failed)} rule(s) failed: " + ", ".join(
                f"{name} ({why})" for name, why in self.failed))
        if self.unused:
            lines.append(f"  {len(self.unused)} source tensor(s) unused: "
                         + ", ".join(self.unused))
        return lines


def map_weights(source: Mapping[str, torch.Tensor], mapping: WeightMapping,
                target: Mapping[str, torch.Tensor]) -> MappedWeights:
    """Make the spec's tensors (`target` gives their names, shapes and dtypes) from `source`."""
    result = MappedWeights()
    read: set[str] = set()
    for name, wanted in target.items():
        chosen = _choose(name, source, mapping, result)
        if chosen is None:
            continue
        index, rule, names = chosen
        read.update(names)
        try:
            tensor = _transform(rule, [source[n] for n in names], wanted)
        except (RuntimeError, ValueError, IndexError) as exc:
            where = mapping.rule_span(index)
            result.failed.append((name, f"rule at line {where.line}: {_first_line(exc)}"))
            continue
        if tuple(tensor.shape) != tuple(wanted.shape):
            result.mismatched.append((name, tuple(tensor.shape), tuple(wanted.shape)))
            continue
        result.tensors[name] = tensor.to(dtype=wanted.dtype).clone(
            memory_format=torch.contiguous_format)
    result.unused = [name for name in source if name not in read
                     and not any(matches_tail(p, name) for p in mapping.ignore)]
    return result


def _choose(name: str, source: Mapping[str, torch.Tensor], mapping: WeightMapping,
            result: MappedWeights) -> tuple[int, Rule, list[str]] | None:
    """The first rule for `name` whose sources exist: (its index, it, the source names). A
    rule whose template cannot be filled for this name (`{1+1}` of a capture that is not a
    number, a table without the capture) does not apply to it."""
    why = None
    for index, rule in enumerate(mapping.rules):
        groups = match(rule.to, name)
        if groups is None:
            continue
        line = mapping.rule_span(index).line
        try:
            names = [fill(template, groups, mapping.tables) for template in rule.sources]
        except TemplateError as exc:
            why = why or f"{exc} (rule at line {line})"
            continue
        for prefix in mapping.prefixes:
            lacking = [prefix + n for n in names if prefix + n not in source]
            if not lacking:
                return index, rule, [prefix + n for n in names]
            why = why or f"the source has no {', '.join(lacking)} (rule at line {line})"
    result.missing.append(name)
    result.why_missing[name] = why or "no rule matches it"
    return None


def _transform(rule: Rule, tensors: list[torch.Tensor], wanted: torch.Tensor) -> torch.Tensor:
    """What one rule makes of its source tensors."""
    if rule.fill is not None:
        tensor = torch.full(wanted.shape, rule.fill, dtype=wanted.dtype)
    elif len(tensors) > 1:
        tensor = torch.cat(tensors, dim=rule.dim)
    else:
        tensor = tensors[0]
    if rule.chunk is not None:
        piece, pieces = rule.chunk
        if not -tensor.dim() <= rule.dim < tensor.dim():
            raise ValueError(f"chunk on dim {rule.dim}, but the tensor has shape "
                             f"{tuple(tensor.shape)} ({tensor.dim()} dims, counted from 0)")
        size = tensor.shape[rule.dim]
        if size % pieces:
            raise ValueError(f"dim {rule.dim} of size {size} does not split into {pieces} "
                             "equal pieces")
        tensor = tensor.chunk(pieces, dim=rule.dim)[piece]
    if rule.transpose:
        if tensor.dim() != 2:
            raise ValueError(f"transpose takes a 2-D tensor, this one has shape "
                             f"{tuple(tensor.shape)}")
        tensor = tensor.t()
    if rule.reshape == "spec":
        tensor = tensor.reshape(wanted.shape)
    elif rule.reshape is not None:
        tensor = tensor.reshape(rule.reshape)
    if rule.scale is not None:
        tensor = tensor * rule.scale
    return tensor


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
