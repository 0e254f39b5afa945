"""Load a spec file: read YAML with positions, apply --set overrides, resolve params and
expressions outside the model, and validate the structure. Every problem is collected."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dlspec.errors import Diagnostic, RuleError, SourceSpan, SpecError, suggest
from dlspec.spec.diagnose import diagnose
from dlspec.spec.expressions import FAILED, DependsOnFailure, evaluate_text, has_expression
from dlspec.spec.spec_file import read_spec_file
from dlspec.spec.yaml_source import Path_, SourceMap, read_yaml

# Sections whose expressions need a block instance's scope; the lowering pass resolves them.
LATE_SECTIONS = ("model", "blocks", "models")  # (a model's layers; the rest is early)


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec with everything needed to locate problems in it later."""

    spec: Any  # dlspec.spec.models.Spec
    raw: dict[str, Any]  # the document after overrides (model and blocks unresolved)
    source: SourceMap
    params: dict[str, Any]  # resolved params
    path: Path
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def load_spec(path: str | Path, overrides: Sequence[str] = ()) -> LoadedSpec:
    """Read and validate a spec file. Raises SpecError listing every problem."""
    path = Path(path)
    return load_text(read_spec_file(path), str(path), overrides)


def load_text(text: str, file: str, overrides: Sequence[str] = ()) -> LoadedSpec:
    from dlspec.spec.models import Spec

    data, source = read_yaml(text, file)
    if not isinstance(data, dict):
        raise SpecError(Diagnostic("DLS102", "a spec is a mapping of sections "
                                   "(dlspec, name, inputs, model, ...)", SourceSpan(file, 1, 1)))
    _check_version(data, source)
    problems: list[Diagnostic] = []
    for override in overrides:
        problems += apply_override(data, source, override)
    params = resolve_params(data.get("params") or {}, source, problems)
    data = {key: value if key in LATE_SECTIONS or key == "params"
            else resolve_tree(value, params, source, (key,), problems)
            for key, value in data.items()}
    if isinstance(data.get("models"), dict):
        data["models"] = {name: _resolve_model(model, params, source, ("models", name), problems)
                          for name, model in data["models"].items()}
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        problems += without_cascade(diagnose(exc, data, source, model=Spec), data, source, ())
        spec = None
    if problems:
        raise SpecError(problems)
    return LoadedSpec(spec, data, source, params, Path(file), text)


def _resolve_model(model: Any, params: dict[str, Any], source: SourceMap, path: Path_,
                   problems: list[Diagnostic]) -> Any:
    if not isinstance(model, dict):
        return model
    return {key: value if key == "layers" else
            resolve_tree(value, params, source, (*path, key), problems)
            for key, value in model.items()}


def _check_version(data: dict, source: SourceMap) -> None:
    version = data.get("dlspec")
    if version is not None and version != 1:
        raise SpecError(Diagnostic("DLS106", f"spec format version {version!r} is not "
                                   "supported", source.span(("dlspec",)),
                                   hint="this dlspec reads `dlspec: 1`"))


def resolve_params(params: Mapping[str, Any], source: SourceMap,
                   problems: list[Diagnostic]) -> dict[str, Any]:
    """Params in order; each may use the ones before it."""
    resolved: dict[str, Any] = {}
    if not isinstance(params, Mapping):
        return resolved  # the Spec model reports the wrong type
    for name, value in params.items():
        resolved[name] = resolve_tree(value, resolved, source, ("params", name), problems)
    return resolved


def resolve_tree(value: Any, scope: Mapping[str, Any], source: SourceMap, path: Path_,
                 problems: list[Diagnostic]) -> Any:
    """`value` with every `${...}` evaluated. A failure is appended to `problems` (unless it
    only repeats an earlier one) and leaves FAILED in its place."""
    if isinstance(value, dict):
        return {k: resolve_tree(v, scope, source, (*path, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_tree(v, scope, source, (*path, i), problems) for i, v in enumerate(value)]
    if has_expression(value):
        try:
            return evaluate_text(value, scope)
        except DependsOnFailure:
            return FAILED
        except RuleError as err:
            problems.append(Diagnostic(err.code, err.message, source.span(path), hint=err.hint))
            return FAILED
    return value


def without_cascade(found: list[Diagnostic], value: Any, source: SourceMap,
                    path: Path_) -> list[Diagnostic]:
    """`found` without the type errors about FAILED values: their failure was reported
    already, so one mistake gives one error."""
    failed = set(_unresolved_spans(value, source, path))
    return [d for d in found if not (d.code == "DLS102" and d.span in failed)]


def _unresolved_spans(value: Any, source: SourceMap, path: Path_):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _unresolved_spans(item, source, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unresolved_spans(item, source, (*path, index))
    elif value is FAILED:
        yield source.span(path)


def apply_override(data: dict, source: SourceMap, override: str) -> list[Diagnostic]:
    """Apply one `key.path=value` to the document. A key that names no section is a param:
    a spec param, else a block param's default (`--set expansion=2` or `bottleneck.expansion=2`)."""
    origin = SourceSpan(f"--set {override}", 1, 1)
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        return [Diagnostic("DLS120", f"'{override}' is not key=value", origin,
                           hint="e.g. --set train.epochs=5 or --set hidden=256")]
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in key.strip().split(".")]
    value, _ = read_yaml(text, origin.file)
    from dlspec.spec.models import Spec

    if parts[0] not in data and parts[0] not in Spec.model_fields:
        targets = _param_paths(data, parts)
        if not targets:
            params = data.get("params") if isinstance(data.get("params"), dict) else {}
            block_params = [p for b in _blocks(data).values()
                            if isinstance(b.get("params"), dict) for p in b["params"]]
            return [Diagnostic("DLS120", f"'{key.strip()}' is neither a section, a param nor "
                               "a block param", origin, hint=suggest(
                                   str(parts[-1]), [*params, *Spec.model_fields, *block_params]))]
        return [d for path in targets for d in _set(data, source, path, value, key, origin)]
    return _set(data, source, parts, value, key, origin)


def _blocks(data: dict) -> dict[str, Any]:
    blocks = data.get("blocks")
    return {k: v for k, v in blocks.items() if isinstance(v, dict)} \
        if isinstance(blocks, dict) else {}


def _param_paths(data: dict, parts: list[str | int]) -> list[list[str | int]]:
    """Where a key that names no section goes: `width` is a spec param (or, failing that,
    the default of every block param so named); `basic.stride` is block basic's param."""
    params = data.get("params") if isinstance(data.get("params"), dict) else {}
    blocks = _blocks(data)
    if len(parts) == 1 and parts[0] in params:
        return [["params", parts[0]]]
    if len(parts) == 1:
        return [["blocks", name, "params", parts[0]] for name, block in blocks.items()
                if isinstance(block.get("params"), dict) and parts[0] in block["params"]]
    block_params = blocks.get(parts[0], {}).get("params") if len(parts) == 2 else None
    if isinstance(block_params, dict) and parts[1] in block_params:
        return [["blocks", parts[0], "params", parts[1]]]
    return []


def _set(data: dict, source: SourceMap, parts: list[str | int], value: Any, key: str,
         origin: SourceSpan) -> list[Diagnostic]:
    target = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(target, list) and isinstance(part, int) and part >= len(target):
            return [Diagnostic("DLS120", f"cannot set '{key}': index {part} is out of range",
                               origin, hint=f"the list has {len(target)} items")]
        child = target.get(part) if isinstance(target, dict) else (
            target[part] if isinstance(part, int) and 0 <= part < len(target) else None)
        if child is None and isinstance(target, dict):
            child = target[part] = {}
            source.values[tuple(parts[:i + 1])] = origin  # a section the override created
        if not isinstance(child, (dict, list)):
            where = ".".join(map(str, parts[:i + 1]))
            return [Diagnostic("DLS120", f"cannot set '{key}': '{where}' is not a section",
                               origin)]
        target = child
    last = parts[-1]
    if isinstance(target, list) and not (isinstance(last, int) and 0 <= last < len(target)):
        return [Diagnostic("DLS120", f"cannot set '{key}': index {last} is out of range",
                           origin)]
    target[last] = value
    where = tuple(parts)
    for table in (source.values, source.keys):  # positions of what the value replaced
        for stale in [p for p in table if len(p) > len(where) and p[:len(where)] == where]:
            del table[stale]
    source.values[where] = origin
    return []
