"""Expand a block call (`{block: basic, name: layer1, repeat: 2, out: 64}`) into layers.

Each instance gets its own scope: names are prefixed (`layer1.0.conv1`), the block's inputs
(`x` by default) refer to what the call feeds it, and block params join the spec params for
its expressions. With `repeat: n`, instance i > 0 takes instance i-1's output, and a param
given as a list of n values gives one value per instance (`stride: [2, 1]`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dlspec.errors import Diagnostic, suggest
from dlspec.spec.expressions import FAILED, contains_failed
from dlspec.spec.limits import MAX_BLOCK_DEPTH, MAX_LAYERS
from dlspec.spec.load import resolve_tree
from dlspec.spec.models import FRAME_KEYS
from dlspec.spec.yaml_source import Path_

if TYPE_CHECKING:
    from dlspec.passes.lower import Lowering
    from dlspec.passes.references import Ref, Scope

TYPE_NAMES = {"int": int, "float": (int, float), "bool": bool, "str": str, "list": list}


@dataclass(frozen=True)
class BlockCall:
    item: dict[str, Any]
    path: Path_
    scope: Scope
    name: str
    inputs: list[str | Ref]


def expand_call(lowering: Lowering, call: BlockCall) -> str | Ref | None:
    """Lower every instance of the call; returns the last instance's output."""
    from dlspec.passes.references import Scope

    source, problems = lowering.source, lowering.problems
    block_name = call.item["block"]
    blocks = lowering.loaded.spec.blocks
    qualified = call.scope.prefix + call.name
    if not isinstance(block_name, str):
        one = block_name[0] if isinstance(block_name, list) and len(block_name) == 1 else None
        problems.append(Diagnostic(
            "DLS102", f"`block` is the name of a block, got {_shown(block_name)}",
            source.span((*call.path, "block")), layer=qualified,
            hint=f"write `block: {one}`" if isinstance(one, str) else
            "define the block under `blocks:` and write `block: <its name>` here; or "
            "write the layers inline as `layers: [...]`"))
        return None
    if block_name not in blocks:
        problems.append(Diagnostic("DLS105", f"unknown block '{block_name}'",
                                   source.span((*call.path, "block")), layer=qualified,
                                   hint=suggest(str(block_name), blocks) if blocks
                                   else "define it under `blocks:`"))
        return None
    if call.scope.prefix.count(".") >= MAX_BLOCK_DEPTH:
        problems.append(Diagnostic("DLS102", f"blocks nest deeper than {MAX_BLOCK_DEPTH} "
                                   "levels; does a block use itself?", source.span(call.path),
                                   layer=qualified))
        return None
    for key in ("init", "tie"):  # (these are a layer's; a call would drop them unsaid)
        if key in call.item:
            problems.append(Diagnostic(
                "DLS102", f"`{key}` applies to a layer, not to a block call",
                source.key_span((*call.path, key)), layer=qualified,
                hint=f"give `{key}` to the layers inside block '{block_name}'" + (
                    ", or per op in the top-level `init:`" if key == "init" else "")))
    block = blocks[block_name]
    repeat = _repeat(lowering, call, qualified)
    values = _param_values(lowering, call, block, qualified, repeat)
    fits = block.required_inputs <= len(call.inputs) <= len(block.inputs)
    if repeat is None or values is None or not fits:
        if not fits:
            problems.append(Diagnostic(
                "DLS203", f"block '{block_name}' takes {_arity(block)}, got "
                f"{len(call.inputs)}", source.span(call.path), layer=qualified))
        return None
    layers_path = ("blocks", block_name, "layers")
    layers = lowering.loaded.raw["blocks"][block_name]["layers"]
    feed = list(call.inputs)
    output: str | Ref | None = None
    repeated = "repeat" in call.item
    lowering.record_call(qualified, repeat if repeated else None)
    for i in range(repeat):
        prefix = f"{qualified}.{i}." if repeated else f"{qualified}."
        params = {**call.scope.params, **{k: v[i] for k, v in values.items()}}
        scope = Scope(prefix, params, _connected(block, feed))
        before = lowering.items_lowered
        output = lowering.lower_layers(layers, layers_path, scope, feed[0])
        if output is None:
            return None
        if repeated:
            lowering.record_instance(f"{qualified}.{i}", output)
        if i == 0 and repeat > 1 and not _fits(lowering, call, qualified, repeat,
                                              lowering.items_lowered - before):
            return None
        feed = [output, *feed[1:]]
    return output


def _arity(block: Any) -> str:
    """`2 inputs (x, skip)`, `1 to 2 inputs (x, skip: optional)`."""
    names = [n if i < block.required_inputs else f"{n}: optional"
             for i, n in enumerate(block.input_names)]
    low, high = block.required_inputs, len(names)
    count = f"{low} to {high}" if low != high else str(high)
    return f"{count} input{'s' * (high != 1)} ({', '.join(names)})"


def _connected(block: Any, feed: list[str | Ref]) -> dict[str, Any]:
    """The block's input names bound to what the call feeds them; an optional input left
    out stands for its default (an earlier input), or for nothing (UNCONNECTED)."""
    from dlspec.passes.references import UNCONNECTED

    bound: dict[str, Any] = {}
    for position, name in enumerate(block.input_names):
        if position < len(feed):
            bound[name] = feed[position]
        else:
            default = block.input_default(name)
            bound[name] = UNCONNECTED if default is None else bound[default]
    return bound


def _fits(lowering: Lowering, call: BlockCall, qualified: str, repeat: int, each: int) -> bool:
    """Before the other instances are expanded: would they stay within MAX_LAYERS?"""
    total = lowering.items_lowered + each * (repeat - 1)
    if total <= MAX_LAYERS:
        return True
    lowering.over_budget(Diagnostic(
        "DLS102", f"`repeat: {repeat}` of block '{call.item['block']}' ({each} layers each) "
        f"would make the model about {total:_} layers; a model has at most {MAX_LAYERS:_}",
        lowering.source.span((*call.path, "repeat")), layer=qualified,
        hint="lower `repeat` (or the repeats inside the block)"))
    return False


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _repeat(lowering: Lowering, call: BlockCall, qualified: str) -> int | None:
    raw = call.item.get("repeat", 1)
    value = resolve_tree(raw, lowering.expression_scope(call.scope, call.inputs),
                         lowering.source, (*call.path, "repeat"), lowering.problems)
    if value is FAILED:
        return None  # reported already
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LAYERS:
        lowering.problems.append(Diagnostic(
            "DLS102", f"repeat must be a whole number from 1 to {MAX_LAYERS:_}, got "
            f"{_shown(value)}",
            lowering.source.span((*call.path, "repeat")), layer=qualified))
        return None
    return value


def _param_values(lowering: Lowering, call: BlockCall, block: Any, qualified: str,
                  repeat: int | None) -> dict[str, list[Any]] | None:
    """Each block param's value per instance, or None after reporting problems."""
    source, problems = lowering.source, lowering.problems
    before, complete = len(problems), True
    given = {k: v for k, v in call.item.items() if k not in FRAME_KEYS}
    for key in given:
        if key not in block.params:
            problems.append(Diagnostic(
                "DLS101", f"unknown parameter '{key}' for block '{call.item['block']}'",
                source.key_span((*call.path, key)), layer=qualified,
                hint=suggest(key, [*block.params, *FRAME_KEYS])))
    values: dict[str, list[Any]] = {}
    for name, declared in block.params.items():
        required = isinstance(declared, str) and declared in TYPE_NAMES
        if name not in given:
            if required:
                problems.append(Diagnostic(
                    "DLS103", f"block '{call.item['block']}' needs parameter '{name}' "
                    f"({declared})", source.span(call.path), layer=qualified,
                    hint=f"add `{name}: <{declared}>` to this layer"))
                continue
            value = resolve_tree(declared, call.scope.params, source,
                                 ("blocks", call.item["block"], "params", name), problems)
        else:
            value = resolve_tree(given[name], lowering.expression_scope(call.scope, call.inputs),
                                 source, (*call.path, name), problems)
        if contains_failed(value):
            complete = False  # reported already
            continue
        per_instance = _spread(value, declared, repeat)
        expected = TYPE_NAMES.get(declared) if required else None
        for v in per_instance:
            if expected and (not isinstance(v, expected) or
                             (expected is not bool and isinstance(v, bool))):
                problems.append(Diagnostic(
                    "DLS102", f"parameter '{name}' must be {declared}, got {v!r}",
                    source.span((*call.path, name)), layer=qualified))
                break
        values[name] = per_instance
    return values if complete and len(problems) == before else None


def _spread(value: Any, declared: Any, repeat: int | None) -> list[Any]:
    """One value per instance: a list of `repeat` values is spread unless the param is a list."""
    count = repeat or 1
    is_list_param = declared == "list" or isinstance(declared, list)
    if isinstance(value, list) and not is_list_param and count > 1 and len(value) == count:
        return list(value)
    return [value] * count
