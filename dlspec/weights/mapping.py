"""A weight mapping file: how a reference model's state dict becomes a spec's (no torch).

```yaml
dlspec_mapping: 1
reference: torchvision.models.resnet18   # what the source state dict is (free text)
spec: resnet18                           # the spec it fits (its `name:`)
rules:                                   # per target tensor: the first rule that fits
  - {to: "layer*.*.bn?.*", from: "layer{1}.{2}.bn{3}.{4}"}
ignore: ["*.num_batches_tracked"]        # source tensors expected to stay unused
```
The globs and `{i}` templates are described in dlspec.weights.globs; what a rule does to the
tensors it reads in dlspec.weights.apply.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from dlspec.errors import Diagnostic, SourceSpan, SpecError, suggest
from dlspec.spec.diagnose import diagnose
from dlspec.spec.limits import MAX_BYTES
from dlspec.spec.yaml_source import read_yaml
from dlspec.weights.globs import captures, fields, stray_braces, tables_used

SHIPPED = Path(__file__).parent / "mappings"
Name = Annotated[str, Field(min_length=1)]


class Rule(BaseModel):
    """One target glob and where its tensors come from."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    to: Name = Field(description="Glob of spec tensor names (`*` one part, `**` several, "
                                 "`?` one character); each wildcard is a capture.")
    from_: Name | list[Name] | None = Field(
        None, alias="from",
        description="Source tensor name(s), with `{i}` for capture i of `to`; several are "
                    "concatenated on `dim`.")
    fill: float | None = Field(
        None, allow_inf_nan=False,
        description="Fill the target with this constant instead of reading a source tensor.")
    dim: int = Field(0, description="The dimension `from` lists are concatenated on and "
                                    "`chunk` cuts.")
    chunk: tuple[int, int] | None = Field(
        None, description="[i, n]: piece i of n equal pieces on `dim` (a fused tensor split).")
    transpose: bool = Field(False, description="Swap the two dimensions of a 2-D tensor.")
    reshape: list[int] | Literal["spec"] | None = Field(
        None, description="The shape to give the tensor (one -1 allowed), or `spec`: the "
                          "spec tensor's own shape (same number of elements).")
    scale: float | None = Field(None, allow_inf_nan=False,
                                description="A constant multiplied into the tensor.")

    @property
    def sources(self) -> list[str]:
        if self.from_ is None:
            return []
        return [self.from_] if isinstance(self.from_, str) else list(self.from_)

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if (self.from_ is None) == (self.fill is None):
            raise ValueError("a rule has either `from` (source tensors) or `fill` (a constant)")
        if isinstance(self.from_, list) and not self.from_:
            raise ValueError("`from` lists at least one source tensor")
        wildcards = captures(self.to)
        for source in self.sources:
            if stray_braces(source):
                raise ValueError(f"'{source}': write a capture as {{1}} .. {{{wildcards}}}")
            beyond = [i for i in fields(source) if i > wildcards]
            if beyond:
                raise ValueError(f"'{source}' uses {{{beyond[0]}}} but '{self.to}' has "
                                 f"{wildcards} wildcard(s)")
        if self.chunk is not None and not 0 <= self.chunk[0] < self.chunk[1]:
            raise ValueError(f"chunk [{self.chunk[0]}, {self.chunk[1]}] is piece i of n "
                             "pieces: 0 <= i < n")
        if isinstance(self.reshape, list) and (sum(d == -1 for d in self.reshape) > 1
                                         or any(d < -1 or d == 0 for d in self.reshape)):
            raise ValueError("reshape lists positive sizes and at most one -1")
        if self.fill is not None and (self.chunk or self.transpose or self.reshape):
            raise ValueError("a `fill` rule takes the target's shape; only `scale` goes with it")
        return self


class WeightMapping(BaseModel):
    """A whole mapping file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dlspec_mapping: Literal[1] = Field(description="The mapping format version (1).")
    reference: str = Field("", description="What the source state dict is (free text).")
    spec: str | None = Field(None, description="The name of the spec the mapping fits.")
    rules: list[Rule] = Field(min_length=1)
    ignore: list[Name] = Field(default_factory=list, description=(
        "Globs of source tensors expected to be unused (matching a name or its last parts)."))
    prefixes: list[str] = Field(default_factory=lambda: [""], min_length=1, description=(
        "Each rule's source names are looked for under these prefixes in turn, e.g. "
        "['transformer.', ''] reads a GPT2LMHeadModel's file and a GPT2Model's alike."))
    tables: dict[str, dict[str, int]] = Field(default_factory=dict, description=(
        "Named tables of integers keyed by a capture, used as {i+t[j]} or {t[j]} in `from` "
        "(e.g. where each stage starts in a flat numbering)."))
    _file: str = PrivateAttr("<mapping>")
    _rule_spans: list[SourceSpan] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _tables_exist(self) -> WeightMapping:
        for index, rule in enumerate(self.rules):
            for source in rule.sources:
                for name in tables_used(source):
                    if name not in self.tables:
                        raise ValueError(f"rule {index + 1}: '{source}' looks up table '{name}'"
                                         f" but `tables` has {', '.join(self.tables) or 'none'}")
        return self

    @property
    def file(self) -> str:
        return self._file

    @property
    def label(self) -> str:
        """How messages name the mapping: a shipped one by its name, else by its file."""
        path = Path(self._file)
        return f"{path.stem} (shipped)" if path.parent == SHIPPED else self._file

    def rule_span(self, index: int) -> SourceSpan:
        """Where rule `index` is written."""
        if index < len(self._rule_spans):
            return self._rule_spans[index]
        return SourceSpan(self._file, 1, 1)


def shipped_names() -> list[str]:
    """The names of the mappings shipped with dlspec."""
    return sorted(path.stem for path in SHIPPED.glob("*.yaml"))


def shipped_mapping(spec_name: str) -> WeightMapping | None:
    """The shipped mapping for a spec: `mappings/<spec_name>.yaml`, else the first one whose
    `spec:` is `spec_name`; None when there is none."""
    if (SHIPPED / f"{spec_name}.yaml").is_file():
        return load_mapping(spec_name)
    for name in shipped_names():
        mapping = load_mapping(name)
        if mapping.spec == spec_name:
            return mapping
    return None


def mapping_for(spec_name: str, name_or_path: str | Path | None = None,
                base_dir: str | Path | None = None,
                span: SourceSpan | None = None) -> WeightMapping:
    """The mapping a command uses: the one named, else the one shipped for the spec (a
    SpecError DLS102 when there is none)."""
    if name_or_path is not None:
        return load_mapping(name_or_path, base_dir, span)
    mapping = shipped_mapping(spec_name)
    if mapping is None:
        raise SpecError(Diagnostic(
            "DLS102", f"no weight mapping is shipped for spec '{spec_name}'", span,
            hint=f"write one (docs/weights.md) and pass it with --mapping FILE; shipped: "
                 f"{', '.join(shipped_names())}"))
    return mapping


def is_file_name(name_or_path: str | Path) -> bool:
    """Whether a mapping argument names a file (a path, or a .yaml/.yml name)."""
    text = str(name_or_path)
    return isinstance(name_or_path, Path) or "/" in text or "\\" in text \
        or text.endswith((".yaml", ".yml"))


def mapping_path(name_or_path: str | Path, base_dir: str | Path | None = None,
                 span: SourceSpan | None = None) -> Path:
    """The file a mapping argument names (a shipped name, or a path relative to `base_dir`).
    An unknown name or a missing file is a SpecError located at `span` (where it is written)."""
    if not is_file_name(name_or_path):
        path = SHIPPED / f"{name_or_path}.yaml"
        if not path.is_file():
            raise SpecError(Diagnostic(
                "DLS102", f"no shipped weight mapping is named '{name_or_path}'", span,
                hint=f"{suggest(str(name_or_path), shipped_names())}; or give a mapping file "
                     "(a path ending in .yaml)"))
        return path
    path = Path(name_or_path).expanduser()
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    if not path.is_file():
        why = "is not a file" if path.exists() else "does not exist"
        raise SpecError(Diagnostic("DLS007", f"weight mapping '{path}' {why}", span,
                                   hint="give the path of a mapping .yaml file "
                                        "(relative to the spec's folder)"))
    return path


def load_mapping(name_or_path: str | Path, base_dir: str | Path | None = None,
                 span: SourceSpan | None = None) -> WeightMapping:
    """Read and check a mapping: a shipped name (`resnet18`) or a YAML file. Every problem
    in the file is a located SpecError; `span` locates a bad name or path."""
    path = mapping_path(name_or_path, base_dir, span)
    file = str(path)
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SpecError(Diagnostic("DLS007", f"cannot read weight mapping: "
                                   f"{exc.strerror or exc}", span or SourceSpan(file, 1, 1))) \
            from None
    if len(data) > MAX_BYTES:
        raise SpecError(Diagnostic("DLS007", f"a weight mapping is at most "
                                   f"{MAX_BYTES >> 20} MiB", SourceSpan(file, 1, 1)))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(Diagnostic("DLS007", "the weight mapping is not UTF-8 text",
                                   SourceSpan(file, 1, 1))) from None
    return parse_mapping(text, file)


def parse_mapping(text: str, file: str) -> WeightMapping:
    """A mapping from YAML text (`file` names it in errors)."""
    data, source = read_yaml(text, file)
    if not isinstance(data, dict):
        raise SpecError(Diagnostic("DLS102", "a weight mapping is a mapping with "
                                   "dlspec_mapping, rules and ignore", SourceSpan(file, 1, 1)))
    version = data.get("dlspec_mapping")
    if version is not None and version != 1:
        raise SpecError(Diagnostic("DLS106", f"weight mapping format {version!r} is not "
                                   "supported", source.span(("dlspec_mapping",)),
                                   hint="this dlspec reads `dlspec_mapping: 1`"))
    try:
        mapping = WeightMapping.model_validate(data)
    except ValidationError as exc:
        raise SpecError([_located_rule(_rule_named(d, source), source) for d in diagnose(
            exc, data, source, model=WeightMapping)]) from None
    mapping._file = file
    mapping._rule_spans = [source.span(("rules", i)) for i in range(len(mapping.rules))]
    return mapping


def _rule_named(diagnostic: Diagnostic, source) -> Diagnostic:
    """A rule's own check names it 'rule N' (the diagnosis names it by its list index)."""
    found = re.match(r"'(\d+)': ", diagnostic.message)
    if not found or diagnostic.span != source.span(("rules", int(found.group(1)))):
        return diagnostic
    return replace(diagnostic, message=f"rule {int(found.group(1)) + 1}: "
                   + diagnostic.message[found.end():])


def _located_rule(diagnostic: Diagnostic, source) -> Diagnostic:
    """A mapping-wide check that names 'rule N' points at that rule."""
    found = re.match(r"rule (\d+): ", diagnostic.message)
    if not found or diagnostic.span is None or diagnostic.span.line != 1:
        return diagnostic
    return replace(diagnostic, span=source.span(("rules", int(found.group(1)) - 1)))
