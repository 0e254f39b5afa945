"""Turn pydantic validation errors into located dlspec diagnostics with fixes."""

from __future__ import annotations

import types
import typing
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ValidationError

from dlspec.errors import Diagnostic, did_you_mean, suggest
from dlspec.spec.limits import INT_BITS
from dlspec.spec.yaml_source import Path_, SourceMap


def diagnose(error: ValidationError, data: Any, source: SourceMap, base: Path_ = (),
             model: type[BaseModel] | None = None, extra_keys: tuple[str, ...] = (),
             layer: str | None = None, op: str | None = None) -> list[Diagnostic]:
    """One diagnostic per pydantic error. `data` is what was validated, found at `base` in
    the document; `extra_keys` are keys accepted beside the model's own (layer frame keys)."""
    found: list[Diagnostic] = []
    alternatives: dict[Path_, tuple[int, list[str]]] = {}  # one DLS102 per value
    unknown: dict[Path_, list[tuple[int, str]]] = {}  # per mapping: (index in found, key)
    missing: dict[Path_, list[tuple[int, str]]] = {}
    for err in error.errors(include_url=False):
        path = _data_path(data, err["loc"])
        where = (*base, *path)
        kind = err["type"]
        if kind == "extra_forbidden":
            key = path[-1]
            allowed = [*_fields_at(model, data, path[:-1]), *extra_keys]
            unknown.setdefault(where[:-1], []).append((len(found), str(key)))
            diag = Diagnostic("DLS101", f"unknown key '{key}'" + _in(base, path[:-1]),
                              source.key_span(where), hint=suggest(str(key), allowed))
        elif kind == "missing" and isinstance(err["loc"][-1], int) and path[-1:] != \
                err["loc"][-1:] and isinstance(_value_at(data, path), list):
            diag = _too_few(err, path, where, source, _annotation_at(model, data, path))
        elif kind == "missing":
            key = err["loc"][-1]
            parent = path[:-1] if path[-1:] == err["loc"][-1:] else path
            missing.setdefault((*base, *parent), []).append((len(found), str(key)))
            diag = Diagnostic("DLS103", f"missing required key '{key}'" + _in(base, parent),
                              source.span(where), hint=f"add `{key}:`")
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            if path and path[-1] not in (_value_at(data, path[:-1]) or {}):
                where = (*base, *path[:-1])  # a tagged union's label ends the loc
            diag = _unknown_tag(err, where, source)
        else:
            message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
            if kind == "int_parsing_size" and isinstance(err.get("input"), float):
                message = (f"{err['input']:g} is too large for an integer (a spec's integers "
                           f"fit in {INT_BITS} bits)")  # pydantic: "unable to parse string"
            if where in alternatives:  # another member of a union refused the same value
                index, messages = alternatives[where]
                messages.append(message.removeprefix("Input should be "))
                found[index] = replace(found[index], message=_alternatives(
                    _named(base, path), messages, err.get("input")))
                continue
            alternatives[where] = (len(found), [message])
            diag = Diagnostic("DLS102", _alternatives(_named(base, path), [message],
                                                      err.get("input")), source.span(where))
        found.append(diag.at(None, layer=layer, op=op))
    return _misspelt(found, unknown, missing)


def _misspelt(found: list[Diagnostic], unknown: dict[Path_, list[tuple[int, str]]],
              missing: dict[Path_, list[tuple[int, str]]]) -> list[Diagnostic]:
    """A required key written with a typo is one mistake: the unknown key, with 'did you
    mean', stands for it; the 'missing' error it caused is dropped."""
    dropped = set()
    for where, keys in missing.items():
        for index, key in keys:
            for other, typo in unknown.get(where, []):
                if other not in dropped and did_you_mean(typo, [key]):
                    dropped.add(index)
                    found[other] = replace(found[other], hint=f"did you mean '{key}'? "
                                           f"(a required key, missing here)")
                    break
    return [d for i, d in enumerate(found) if i not in dropped]


def _too_few(err: dict, path: Path_, where: Path_, source: SourceMap,
             annotation: Any) -> Diagnostic:
    """`betas: [0.9]` for a pair: say how many values it needs, not 'missing key 1'."""
    sizes = sorted({len(args) for m in _members(annotation)
                    if typing.get_origin(m) is tuple and (args := typing.get_args(m))
                    and Ellipsis not in args})
    given = len(err.get("input") or [])
    needs = " or ".join(map(str, sizes)) if sizes else f"at least {err['loc'][-1] + 1}"
    return Diagnostic("DLS102", f"{_label(path)}needs {needs} values, got {given}",
                      source.span(where), hint=f"write a list of {needs} values")


def _annotation_at(model: type[BaseModel] | None, data: Any, path: Path_) -> Any:
    annotation: Any = model
    for part in path:
        data = data[part] if isinstance(data, (dict, list)) else None
        annotation = _pick_member(_step(annotation, part), data)
    return annotation


def _unknown_tag(err: dict, where: Path_, source: SourceMap) -> Diagnostic:
    ctx = err.get("ctx", {})
    expected = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",") if t]
    tag, key = ctx.get("tag"), ctx.get("discriminator", "'op'").strip("'")
    if tag is None:
        return Diagnostic("DLS103", f"missing required key '{key}'", source.span(where),
                          hint=f"add `{key}:`" + (", " + suggest("", expected) if expected
                                                  else ""))
    if key != "op":
        return Diagnostic("DLS102", f"unknown {key} '{tag}'", source.span((*where, key)),
                          hint=suggest(str(tag), expected))
    return Diagnostic("DLS104", f"unknown op '{tag}'", source.span((*where, "op")),
                      hint=suggest(str(tag), expected))


def _value_at(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part] if isinstance(data, (dict, list)) else None
    return data


def _data_path(data: Any, loc: tuple) -> Path_:
    """pydantic's loc without the union-member labels it inserts (they are not in the data)."""
    path: list[str | int] = []
    for i, part in enumerate(loc):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        elif not (isinstance(data, dict) and i == len(loc) - 1):
            continue  # a union member's label: not part of the document
        path.append(part)  # (a missing key is kept: it names the problem)
    return tuple(path)


def _fields_at(model: type[BaseModel] | None, data: Any, path: Path_) -> list[str]:
    """The keys the model accepts at `path`, following unions by the data's `op`."""
    annotation: Any = model
    for part in path:
        data = data[part] if isinstance(data, (dict, list)) else None
        annotation = _step(annotation, part)
        annotation = _pick_member(annotation, data)
    model_cls = _pick_member(annotation, data)
    if isinstance(model_cls, type) and issubclass(model_cls, BaseModel):
        return [field.alias or name for name, field in model_cls.model_fields.items()]
    return []


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(part)
        return field.annotation if field else None
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    if _is_union(annotation):
        for member in args:
            found = _step(member, part)
            if found is not None:
                return found
    return None


def _pick_member(annotation: Any, data: Any) -> Any:
    members = list(_members(annotation))
    if len(members) == 1:
        return members[0]
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    if isinstance(data, dict) and "op" in data:
        for m in models:
            op_field = m.model_fields.get("op")
            if op_field is not None and op_field.default == data["op"]:
                return m
    if isinstance(data, list):
        return next((m for m in members if typing.get_origin(m) is list), annotation)
    if isinstance(data, dict) and len(models) > 1:  # the one member whose required keys
        keyed = [m for m in models if all(  # the data has (a search space's `int:`)
            (f.alias or name) in data for name, f in m.model_fields.items() if f.is_required())]
        if len(keyed) == 1:
            return keyed[0]
    return models[0] if len(models) == 1 else annotation


def _members(annotation: Any):
    """The alternatives of a (nested, annotated) union, None left out."""
    annotation = _unwrap(annotation)
    if _is_union(annotation):
        for member in typing.get_args(annotation):
            yield from _members(member)
    elif annotation is not type(None):
        yield annotation


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _in(base: Path_, path: Path_) -> str:
    where = ".".join(str(p) for p in (*base, *path))
    return f" in '{where}'" if where else ""


def _alternatives(path: Path_, messages: list[str], value: Any) -> str:
    """One message for a value, whichever union members refused it (int, or a pair, ...)."""
    message = ", or ".join(messages)
    return f"{_label(path)}{message}{_shown(value, message)}"


def _named(base: Path_, path: Path_) -> Path_:
    """The path that names a refused value: a whole section validated on its own (a layer's
    `init: 5`) is named by the key it sits under."""
    return path or tuple(part for part in base[-1:] if isinstance(part, str))


def _label(path: Path_) -> str:
    return f"'{path[-1]}': " if path else ""


def _shown(value: Any, message: str) -> str:
    text = repr(value)
    if isinstance(value, (dict, list)) or value is None or text in message:
        return ""
    return f" (got {text if len(text) < 60 else text[:57] + '...'})"
