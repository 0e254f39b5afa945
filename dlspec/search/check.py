"""Check a spec's `search:` section against the spec (what `dlspec validate` runs). Torch-free.

- every range is well formed (low < high, finite, log needs low > 0, a step fits), a choice
  lists each value once, and the grid sampler gets discrete dimensions only (range_diagnostics);
- every path is one `--set` takes, with "did you mean" the close existing paths;
- every value of the space gives a valid spec: each choice and the extremes of each range
  are put into the spec, one at a time, and the result passes every static check
  (`dlspec.api.check`); a value that breaks the spec is reported at the space entry, saying
  what it breaks;
- the metric is one a run of the spec logs.
Each problem is located at the `search:` key it concerns.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Sequence
from typing import Any

from dlspec.errors import Diagnostic, DlspecError, SourceSpan
from dlspec.search.space import MAX_GRID, Dimension, dimension, format_value, grid_size, objective
from dlspec.spec.search_config import ChoiceSpace, FloatSpace, IntSpace

SPACE = ("search", "space")
NOT_SEARCHED = ("search", "dlspec")  # sections a search cannot change


def search_diagnostics(checked, overrides: Sequence[str] = ()) -> list[Diagnostic]:
    """Every problem of the spec's `search:` section (none without one). `checked` passed
    `dlspec.api.check` with `overrides`; each value is checked with them too."""
    if checked.spec.search is None:
        return []
    problems = range_diagnostics(checked)
    problems += metric_diagnostics(checked)
    if problems:
        return problems
    for path, entry in checked.spec.search.space.items():
        problems += _path_and_values(checked, overrides, dimension(path, entry))
    return problems


# --- ranges ------------------------------------------------------------------------------

def range_diagnostics(checked) -> list[Diagnostic]:
    """Malformed ranges and choices, and dimensions the grid sampler cannot enumerate."""
    config = checked.spec.search
    source = checked.loaded.source
    problems = []
    for path, entry in config.space.items():
        where = (*SPACE, path)
        if isinstance(entry, ChoiceSpace):
            problems += _choice_problems(entry, where, source)
        else:
            problems += _range_problems(entry, where, source)
    if config.sampler == "grid":
        problems += _grid_problems(checked, size=not problems)
    return problems


def _range_problems(entry: FloatSpace | IntSpace, where: tuple, source) -> list[Diagnostic]:
    kind = "float" if isinstance(entry, FloatSpace) else "int"
    low, high = entry.bounds

    def bad(message: str, at: tuple, hint: str | None = None) -> list[Diagnostic]:
        return [Diagnostic("DLS703", f"search space '{where[-1]}': {message}",
                           source.span((*where, *at)), hint=hint)]

    for index, bound in enumerate((low, high)):
        if not math.isfinite(bound):
            return bad(f"the bounds must be finite numbers, not {bound}", (kind, index))
    if not low < high:
        return bad(f"[{low}, {high}] is empty or reversed: low must be below high",
                   (kind,), hint=f"write [{min(low, high)}, {max(low, high)}]"
                   if low != high else "for a single value, drop the entry from the space")
    if entry.log and kind == "float" and low <= 0:
        return bad(f"a log scale needs low > 0, not {low}", (kind, 0),
                   hint="start the range at a small positive value, e.g. 1.0e-5")
    if entry.log and kind == "int" and low < 1:
        return bad(f"a log scale needs low >= 1, not {low}", (kind, 0))
    step = entry.step
    if step is None:
        return []
    if entry.log and (kind == "float" or step != 1):
        return bad("a log scale and a step cannot be combined", ("step",),
                   hint="drop `step`, or `log: true`")
    if not (math.isfinite(step) and step > 0):
        return bad(f"the step must be positive, not {step}", ("step",))
    if step > high - low:
        return bad(f"the step {step} is larger than the range [{low}, {high}]", ("step",),
                   hint=f"a step of at most {high - low} gives more than one value")
    return []


def _choice_problems(entry: ChoiceSpace, where: tuple, source) -> list[Diagnostic]:
    seen: set[tuple[type, Any]] = set()
    for index, value in enumerate(entry.choice):
        key = (type(value), value)
        if key in seen:
            return [Diagnostic("DLS703", f"search space '{where[-1]}': the choice "
                               f"{format_value(value)} is listed twice",
                               source.span((*where, "choice", index)),
                               hint="list each value once")]
        seen.add(key)
        if isinstance(value, float) and not math.isfinite(value):
            return [Diagnostic("DLS703", f"search space '{where[-1]}': a choice must be a "
                               f"finite number, not {format_value(value)}",
                               source.span((*where, "choice", index)))]
    return []


def _grid_problems(checked, size: bool) -> list[Diagnostic]:
    """Continuous dimensions, and with `size` (the ranges are well formed) a grid too large."""
    config = checked.spec.search
    source = checked.loaded.source
    dims = [dimension(path, entry) for path, entry in config.space.items()]
    problems = [Diagnostic(
        "DLS703", f"the grid sampler needs every dimension discrete, and '{dim.path}' is a "
        f"continuous float range", source.span((*SPACE, dim.path)),
        hint=f"give it a step (e.g. step: {_nice_step(dim)}), make it a choice, or use "
             "sampler: random or tpe")
        for dim in dims if dim.kind == "float" and dim.step is None]
    if problems or not size:
        return problems
    combinations = grid_size(tuple(dims))
    if combinations > MAX_GRID:
        return [Diagnostic("DLS703", f"the grid has {combinations:,} combinations, more "
                           f"than {MAX_GRID:,}", source.span(("search", "sampler")),
                           hint="use larger steps or fewer choices, or sampler: tpe")]
    return []


def _nice_step(dim: Dimension) -> str:
    return format_value(float(f"{(dim.high - dim.low) / 4:.1g}"))


# --- the metric --------------------------------------------------------------------------

def metric_diagnostics(checked) -> list[Diagnostic]:
    """The searched metric must be one a run of the spec logs."""
    from dlspec.passes.check_monitor import logged_metrics, monitor_hint

    metric, _ = objective(checked)
    logged, problems = logged_metrics(checked)
    if problems or metric in logged:
        return []  # a bad train.metrics is reported by the monitor check
    given = checked.spec.search.metric is not None
    where = ("search", "metric") if given else ("search",)
    why = "" if given else " (the default: give search.metric)"
    return [Diagnostic("DLS705", f"the search optimizes '{metric}'{why}, which this run does "
                       "not log", checked.loaded.source.span(where),
                       hint=monitor_hint(checked, metric, logged))]


# --- paths and values --------------------------------------------------------------------

def _path_and_values(checked, overrides: Sequence[str], dim: Dimension) -> list[Diagnostic]:
    """An unknown path (DLS702), else each value that breaks the spec (DLS704)."""
    from dlspec.api import check
    from dlspec.spec.load import _param_paths

    source = checked.loaded.source
    key = (*SPACE, dim.path)
    parts = [int(p) if p.isdigit() else p for p in dim.path.split(".")]
    known = set(existing_paths(checked))
    if parts[0] in NOT_SEARCHED:
        return [Diagnostic("DLS702", f"the search cannot change '{dim.path}'",
                           source.key_span(key), hint="search values of the other sections")]
    listed = dim.path in known or bool(_param_paths(checked.loaded.raw, parts))
    problems = []
    for index, value in enumerate(dim.extremes()):
        setting = f"{dim.path}={format_value(value)}"
        try:
            check(checked.loaded.path, [*overrides, setting], checked.model)
        except DlspecError as error:
            if not listed and _unknown_path(error, setting, parts):
                return [_unknown(dim.path, known, source.key_span(key), error)]
            at = source.span((*key, dim.kind, index if dim.kind == "choice" or index == 0
                              else 1))
            problems.append(_breaks(setting, error, at))
        else:
            if not listed and _unknown_path(None, setting, parts):
                return [_unknown(dim.path, known, source.key_span(key), None)]
    return problems


def _unknown_path(error: DlspecError | None, setting: str, parts: list) -> bool:
    """Whether the override named no existing key: the spec refused the key it added, or
    (`error` None: the spec took it) the key added a new param."""
    if error is None:
        return parts[0] == "params" or (len(parts) == 4 and parts[0] == "blocks"
                                        and parts[2] == "params")
    return any(d.code == "DLS120" or d.code == "DLS101" and d.span is not None
               and d.span.file == f"--set {setting}" for d in error.diagnostics)


def _unknown(path: str, known: set[str], span: SourceSpan, error: DlspecError | None
             ) -> Diagnostic:
    why = next((d for d in error.diagnostics if d.code in ("DLS101", "DLS120")), None) \
        if error is not None else None
    close = close_paths(path, known)
    hint = ("did you mean " + " or ".join(f"'{c}'" for c in close) + "?") if close else (
        why.hint if why is not None and why.hint and why.code == "DLS120" else
        "a path is what `--set` takes: a section's key (optimizer.lr, train.epochs), a "
        "layer's attribute (model.3.repeat), a param (params.hidden) or a block's param")
    message = f" ({why.message})" if why is not None else ""
    return Diagnostic("DLS702", f"the search space names '{path}', which is not a path of "
                      f"this spec{message}", span, hint=hint)


def close_paths(path: str, known: set[str]) -> list[str]:
    """Existing paths close to `path`: its siblings with a close last key, else (no such
    parent) paths as deep that are very close."""
    parent, dot, last = path.rpartition(".")
    siblings = {k.rpartition(".")[2] for k in known if k.rpartition(".")[0] == parent}
    if siblings:
        return [f"{parent}{dot}{key}" for key in
                difflib.get_close_matches(last, sorted(siblings), n=2, cutoff=0.6)]
    depth = path.count(".")
    return difflib.get_close_matches(path, sorted(k for k in known if k.count(".") == depth),
                                     n=2, cutoff=0.8)


def _breaks(setting: str, error: DlspecError, at: SourceSpan) -> Diagnostic:
    first = error.diagnostics[0]
    more = len(error.diagnostics) - 1
    about = f"in layer '{first.layer}': " if first.layer else ""
    where = f" at {first.span}" if first.span and not first.span.file.startswith("--set") \
        else ""
    hint = f"{first.code}{where}" + (f": {first.hint}" if first.hint else "") + (
        f" (and {more} more problem{'s' * (more > 1)})" if more else "")
    return Diagnostic("DLS704", f"the searched value {setting} gives an invalid spec: "
                      f"{about}{first.message}", at, hint=hint)


def existing_paths(checked) -> Iterator[str]:
    """Every path of the spec `--set` can change: each key and index of the document and of
    its validated sections (defaults included), each param and each block param."""
    seen: set[str] = set()
    raw = {k: v for k, v in checked.loaded.raw.items() if k not in NOT_SEARCHED}
    dumped = checked.spec.model_dump(by_alias=True, exclude=set(NOT_SEARCHED))
    for tree in (raw, dumped):
        for path in _walk(tree, ()):
            text = ".".join(map(str, path))
            if text not in seen:
                seen.add(text)
                yield text
    for name, block in (checked.spec.blocks or {}).items():
        for param in block.params:
            yield f"{name}.{param}"
            yield param
    yield from checked.spec.params


def _walk(value: Any, path: tuple) -> Iterator[tuple]:
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))
