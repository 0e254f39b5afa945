"""Located, coded, actionable errors.

Every problem dlspec reports to a user is a `Diagnostic`: a code from `CODES`, a message, the
`file:line:col` it points at, and where it helps, the layer it concerns and a hint for the fix.
Errors are collected and raised together in one `DlspecError`, so a user sees every mistake in
a spec at once instead of fixing them one run at a time.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

CODES: dict[str, str] = {
    # 0xx: reading the YAML file
    "DLS001": "YAML syntax error",
    "DLS002": "duplicate key",
    "DLS003": "YAML anchors and aliases are not allowed",
    "DLS004": "nesting too deep",
    "DLS005": "ambiguous YAML 1.1 scalar (yes/no/on/off)",
    "DLS006": "unsupported YAML construct (tag or non-string key)",
    "DLS007": "file cannot be read",
    "DLS008": "file cannot be written",
    # 1xx: the spec's structure and values
    "DLS101": "unknown key",
    "DLS102": "invalid value",
    "DLS103": "missing required key",
    "DLS104": "unknown op",
    "DLS105": "unknown block",
    "DLS106": "unsupported spec version",
    "DLS110": "expression syntax error",
    "DLS111": "unknown name in expression",
    "DLS112": "expression cannot be evaluated",
    "DLS120": "bad --set override",
    # 2xx: tensor shapes and types
    "DLS201": "shape mismatch",
    "DLS202": "dtype mismatch",
    "DLS203": "wrong number of inputs",
    "DLS205": "the model does not fit in memory",
    # 3xx: the graph
    "DLS301": "unknown layer or input referenced",
    "DLS302": "cycle in the layer graph",
    "DLS303": "duplicate layer name",
    "DLS304": "layer output is never used",
    "DLS305": "unknown output",
    "DLS306": "reference to a layer skipped by its `when`, or to an optional block input "
              "the call leaves out",
    # 4xx: data and training
    "DLS401": "data cannot be loaded",
    "DLS402": "model and data do not fit together",
    "DLS403": "training failed",
    "DLS404": "checkpoint does not fit the model",
    "DLS410": "no space left on the device",
    "DLS419": "a file of the run folder is damaged",
    # 5xx: export and inference
    "DLS501": "export failed",
    "DLS502": "ONNX Runtime disagrees with PyTorch",
    "DLS503": "unsafe or unreadable ONNX file",
    "DLS504": "prediction input does not fit the model",
    "DLS510": "reduced-precision export cannot be made or measured",
    "DLS511": "reduced-precision model outside its metric budget",
    "DLS512": "benchmark cannot run",
    "DLS520": "the prediction server cannot start",
    "DLS521": "a prediction request is malformed or too large",
    "DLS601": "the model does not generate that",
    "DLS602": "the prompt or input does not fit the model",
    # 7xx: hyperparameter search (70x: the search section; 71x on: running a search)
    "DLS701": "the spec has no search section",
    "DLS702": "unknown search path",
    "DLS703": "invalid search range",
    "DLS704": "a searched value gives an invalid spec",
    "DLS705": "the searched metric is not logged",
    "DLS710": "the search's study cannot be used",
    "DLS711": "no trial of the search completed",
}

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class SourceSpan:
    """A position in a source file, 1-based like editors show it."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: SourceSpan | None = None
    layer: str | None = None
    op: str | None = None
    hint: str | None = None
    severity: Severity = "error"

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unregistered diagnostic code {self.code}")

    def format(self) -> str:
        where = f"{self.span}: " if self.span else ""
        about = ""
        if self.layer:
            about = f"in layer '{self.layer}'" + (f" ({self.op})" if self.op else "") + ": "
        text = f"{where}{self.severity} {self.code}: {about}{self.message}"
        if self.hint:
            text += f"\n  help: {self.hint}"
        return text

    def at(self, span: SourceSpan | None, layer: str | None = None, op: str | None = None):
        """The same diagnostic, located (keeps what it already knew)."""
        return replace(self, span=self.span or span, layer=self.layer or layer, op=self.op or op)


class DlspecError(Exception):
    """One or more diagnostics, raised together."""

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic]):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]


class SpecError(DlspecError):
    """The spec file is malformed or names things that do not exist."""


class ShapeError(DlspecError):
    """Tensor shapes or dtypes do not fit together."""


class DataError(DlspecError):
    """Data cannot be loaded or does not fit the model."""


class TrainError(DlspecError):
    """Training cannot go on."""


class ExportError(DlspecError):
    """Export or its numerical check failed."""


class GenerateError(DlspecError):
    """A sampling or generation request the model cannot serve (DLS6xx)."""


class SearchError(DlspecError):
    """A search that cannot run or report: its storage, its study, its trials (DLS71x)."""


class RuleError(Exception):
    """Raised by an op's shape rule; the shape pass adds the layer name and location."""

    def __init__(self, message: str, hint: str | None = None, code: str = "DLS201"):
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(self.code, self.message, hint=self.hint)


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' phrase for a misspelt name, or None when nothing is close."""
    matches = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def one_of(choices: Iterable[str], limit: int = 12) -> str:
    """'one of: a, b, c' for short lists; long lists are cut with a count."""
    names = sorted({str(c) for c in choices})
    shown = ", ".join(names[:limit])
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return f"one of: {shown}{more}"


def suggest(name: str, choices: Iterable[str]) -> str:
    """'did you mean X?' when a choice is close, else the list of valid choices."""
    choices = list(choices)
    return did_you_mean(name, choices) or one_of(choices)
