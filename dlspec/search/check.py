"""Check a spec's `search:` section against the spec (what `dlspec validate` runs). Torch-free.

- every range is well formed (low < high, finite, log needs low > 0, a step fits), a choice
  lists each value once, and the grid sampler gets discrete dimensions only (range_diagnostics);
- every path is one `--set` takes, with "did you mean" the close existing paths;
- no two paths set one value, and the sampler's seed fits Optuna's;
- every value of the space gives a valid spec: each choice, each value of a small discrete
  range (else its ends and middle), a float range's ends and a value inside (`probes`) are
  put into the spec, one at a time, and the result passes every static check
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
from dlspec.spec.search_config import MAX_SEED, ChoiceSpace, FloatSpace, IntSpace

SPACE = ("search", "space")
MAX_PROBES = 16  # values of a discrete range checked one by one (more: both ends, the middle)
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
    problems = same_targets(checked)
    if problems:
        return problems
    known = set(existing_paths(checked))
    for path, entry in checked.spec.search.space.items():
        problems += _path_and_values(checked, overrides, dimension(path, entry), known)
    return problems


def search_summary(checked) -> str:
    """One line on a checked search: 'val_accuracy (maximize) over 3 dimensions, tpe
    sampler, 20 trials, median pruner'."""
    from dlspec.search.space import search_plan

    plan = search_plan(checked)
    size = len(plan.dimensions)
    budget = ", ".join(part for part in (
        f"{plan.trials} trials" if plan.trials is not None else "",
        f"{plan.timeout:g} s" if plan.timeout is not None else "") if part)
    pruner = "" if plan.pruner == "none" else f", {plan.pruner} pruner"
    return (f"{plan.metric} ({plan.direction}) over {size} dimension{'s' * (size > 1)}, "
            f"{plan.sampler} sampler, {budget}{pruner}")


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
    if config.seed is None and checked.spec.train.seed > MAX_SEED:
        problems.append(Diagnostic(
            "DLS102", f"the search seeds its sampler with train.seed, and {MAX_SEED:,} is the "
            f"largest seed it takes, not {checked.spec.train.seed:,}",
            source.span(("train", "seed")), hint="give search.seed"))
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
    if not math.isfinite(high - low):
        return bad(f"[{low}, {high}] is too wide: high - low overflows a float", (kind,))
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
    if not math.isfinite((high - low) / step):
        return bad(f"the step {step} is too small for the range [{low}, {high}]", ("step",))
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
    width = abs(dim.high - dim.low)  # a reversed or empty range is reported on its own
    return format_value(float(f"{width / 4:.1g}")) if width and math.isfinite(width) else "0.1"


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

def _path_and_values(checked, overrides: Sequence[str], dim: Dimension, known: set[str]
                     ) -> list[Diagnostic]:
    """An unknown path (DLS702), else each value that breaks the spec (DLS704)."""
    from dlspec.api import check
    from dlspec.spec.load import _param_paths

    source = checked.loaded.source
    key = (*SPACE, dim.path)
    parts = [int(p) if p.isdigit() else p for p in dim.path.split(".")]
    if any(not str(part) or str(part) != str(part).strip() or "=" in str(part)
           for part in parts):
        return [Diagnostic("DLS702", f"'{dim.path}' is not a path: keys and list indexes "
                           "joined by dots, without spaces", source.key_span(key),
                           hint="e.g. optimizer.lr, model.3.repeat, params.hidden")]
    if parts[0] in NOT_SEARCHED:
        return [Diagnostic("DLS702", f"the search cannot change '{dim.path}'",
                           source.key_span(key), hint="search values of the other sections")]
    listed = dim.path in known or bool(_param_paths(checked.loaded.raw, parts))
    broken: dict[tuple, list[tuple[str, DlspecError]]] = {}  # where -> (value, error)
    for value, at in probes(dim):
        setting = f"{dim.path}={format_value(value)}"
        try:
            check(checked.loaded.path, [*overrides, setting], checked.model)
        except DlspecError as error:
            if not listed and _unknown_path(error, setting, parts):
                return [_unknown(dim.path, known, source.key_span(key), error)]
            broken.setdefault(at, []).append((format_value(value), error))
        else:
            if not listed and _unknown_path(None, setting, parts):
                return [_unknown(dim.path, known, source.key_span(key), None)]
    return [_breaks(dim, found, source.span((*key, *at)), inside=len(at) == 1)
            for at, found in broken.items()]


def probes(dim: Dimension) -> list[tuple[Any, tuple]]:
    """The values of a dimension the check puts into the spec, each with where it is written
    in the entry: every choice; every value of a discrete range of at most MAX_PROBES, else
    its two ends and its middle; a float range's two ends and a value inside (not an
    integer: an int field refuses it)."""
    if dim.kind == "choice":
        return [(value, ("choice", index)) for index, value in enumerate(dim.choices or ())]
    count = dim.count()
    if count is not None:
        steps = range(count) if count <= MAX_PROBES else (0, count // 2, count - 1)
        return [(dim.value_at(k), (dim.kind, 0) if k == 0 else (dim.kind, 1)
                 if k == count - 1 else (dim.kind,)) for k in steps]
    low, high = float(dim.low), float(dim.high)
    inside = math.exp(math.log(low) + (math.log(high) - math.log(low)) / math.pi) \
        if dim.log else low + (high - low) / math.pi
    rounded = float(f"{inside:.6g}")
    inside = rounded if low < rounded < high else inside
    return [(low, ("float", 0)), (inside, ("float",)), (high, ("float", 1))]


def same_targets(checked) -> list[Diagnostic]:
    """Two paths that set the same value (`hidden` and `params.hidden`)."""
    from dlspec.spec.load import _param_paths
    from dlspec.spec.models import Spec

    raw = checked.loaded.raw
    first: dict[tuple, str] = {}
    problems = []
    for path in checked.spec.search.space:
        parts = [int(p) if p.isdigit() else p for p in path.split(".")]
        targets = [parts] if parts[0] in raw or parts[0] in Spec.model_fields \
            else _param_paths(raw, parts)
        for target in map(tuple, targets):
            if target in first:
                problems.append(Diagnostic(
                    "DLS702", f"'{path}' and '{first[target]}' set the same value "
                    f"({'.'.join(map(str, target))})",
                    checked.loaded.source.key_span((*SPACE, path)), hint="keep one of them"))
                break
            first[target] = path
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
    hints = [why.hint] if why is not None and why.hint and why.code == "DLS120" \
        and not why.hint.startswith("did you mean") else []
    if close:
        hints.append("did you mean " + " or ".join(f"'{c}'" for c in close) + "?")
    hint = "; ".join(hints) or (
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


def _breaks(dim: Dimension, found: list[tuple[str, DlspecError]], at: SourceSpan,
            inside: bool) -> Diagnostic:
    """One value (or, inside a range, several) that breaks the spec, with the first
    problem it makes, where that problem is, and its fix."""
    values, error = [value for value, _ in found], found[0][1]
    first = error.diagnostics[0]
    more = len(error.diagnostics) - 1
    about = f"in layer '{first.layer}': " if first.layer else ""
    where = f" at {first.span}" if first.span and not first.span.file.startswith("--set") \
        else ""
    hint = f"{first.code}{where}" + (f": {first.hint}" if first.hint else "") + (
        f" (and {more} more problem{'s' * (more > 1)})" if more else "")
    if dim.kind == "float" and "fractional part" in first.message:
        hint += f"; search an integer with {{int: [{dim.low:g}, {dim.high:g}]}}"
    what = f"value {dim.path}={values[0]}" if len(values) == 1 else \
        f"values {dim.path}={', '.join(values)}"
    within = " (inside the range)" if inside else ""
    verb = "gives" if len(values) == 1 else "give"
    return Diagnostic("DLS704", f"the searched {what}{within} {verb} an invalid spec: "
                      f"{about}{first.message}", at, hint=None if hint == first.code else hint)


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
