"""The JSON header of a resume checkpoint, validated as a whole before any of it is used.

A resume checkpoint's header (see resume.py) is read back from a file that may have been
damaged or edited by hand: every field is checked against the schema below (pydantic, strict
types, counts non-negative and bounded, nothing unknown), every tensor it names must lie in
the file (`check_layout`), and the weights file it names must be a file inside the run's
checkpoints/ folder (`weights_path`). Any mismatch is TrainError DLS404 naming the field.
Torch-free.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from dlspec.errors import Diagnostic, TrainError

MAX_COUNT = 2**53  # epochs, steps, samples: exact in JSON and far beyond any real run
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]
WEIGHTS_NAME = re.compile(r"^resume-\d{9,}\.weights\.safetensors$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FloatToken(Strict):
    """A non-finite float, as state_codec.encode writes it."""

    value: Literal["nan", "inf", "-inf"] = Field(alias="__float__")


Number = StrictInt | StrictFloat | FloatToken


class TensorRef(Strict):
    name: StrictStr = Field(alias="__tensor__")


class ArrayRef(Strict):
    name: StrictStr = Field(alias="__ndarray__")


class PythonRng(Strict):
    value: tuple[StrictInt, ArrayRef, Number | None] = Field(alias="__tuple__")


class NumpyRng(Strict):
    value: tuple[Literal["MT19937"], ArrayRef, StrictInt, StrictInt, Number] = \
        Field(alias="__tuple__")


class Rng(Strict):
    python: PythonRng
    numpy: NumpyRng
    torch: TensorRef
    data_order: TensorRef
    cuda: list[TensorRef] | None = None


class Partial(Strict):
    """The epoch under way (steps.EpochState)."""

    epoch: Annotated[StrictInt, Field(ge=1, le=MAX_COUNT)]
    order: TensorRef | None
    lr: Number
    batches_done: Count
    lr_sum: Number
    loss_sum: Number
    samples: Count
    skipped: Count
    term_sums: dict[StrictStr, TensorRef]
    term_samples: dict[StrictStr, Count]


class MonitorState(Strict):
    best: Number | None
    best_epoch: Count
    waited: Count


class GuardState(Strict):
    in_a_row: Count
    total: Count
    lowest: Number | None
    last: Number | None


StateValue = TensorRef | Number | StrictBool | StrictStr | None


class ParamStates(Strict):
    """An optimizer's per-parameter state: (parameter index, its state) pairs."""

    items: list[tuple[Count, dict[StrictStr, StateValue]]] = Field(alias="__items__")


class ParamGroup(BaseModel):
    """One parameter group: its parameters' indices and its hyperparameters (any JSON)."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)
    params: list[Count]


class OptimizerState(Strict):
    state: ParamStates | dict[StrictStr, Any]
    param_groups: list[ParamGroup]

    @field_validator("state")
    @classmethod
    def _no_named_state(cls, state: Any) -> Any:
        if isinstance(state, dict) and state:
            raise ValueError("must list (parameter index, state) pairs")
        return state


class RunIdentity(Strict):
    """What the run was started with: its spec.yaml text and --set overrides (but those
    that may change on resume: train.device, train.epochs)."""

    spec: StrictStr
    overrides: list[StrictStr]


Record = dict[StrictStr, Number | None]
LayoutEntry = tuple[StrictStr, Count, list[Count]]


class Header(Strict):
    """A resume checkpoint's header (format 3; format 2 had one optimizer and scheduler)."""

    format: Literal[2, 3]
    epoch: Count
    step: Count
    history: list[Record]
    partial: Partial | None
    monitor: MonitorState
    guard: GuardState
    optimizers: dict[StrictStr, OptimizerState] | None = None
    schedulers: dict[StrictStr, dict[StrictStr, Any]] | None = None
    optimizer: OptimizerState | None = None  # format 2
    scheduler: dict[StrictStr, Any] | None = None  # format 2
    scaler: dict[StrictStr, Any]
    rng: Rng
    weights: StrictStr | None
    layout: dict[StrictStr, LayoutEntry]
    run: RunIdentity | None = None

    @field_validator("weights")
    @classmethod
    def _confined(cls, name: str | None) -> str | None:
        if name is not None and not WEIGHTS_NAME.match(name):
            raise ValueError("must name a resume-<step>.weights.safetensors file in the "
                             "run's checkpoints folder")
        return name


def damaged(root: Path, field: str, problem: str) -> TrainError:
    """DLS404 for a resume checkpoint whose `field` is wrong."""
    return TrainError(Diagnostic(
        "DLS404", f"the resume checkpoint of {root} is damaged: {field}: {problem}",
        hint="the run folder was changed by hand or damaged; restore it from a copy, or "
             "start the run again"))


def parse_header(text: str, root: Path) -> dict[str, Any]:
    """The header's JSON data, checked against `Header` and for its own consistency (the
    history holds one record per epoch done, and the tensors it names are in its layout)."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise damaged(root, "header", f"not JSON ({error})") from None
    if not isinstance(data, dict):
        raise damaged(root, "header", f"a JSON {type(data).__name__}, not an object")
    if data.get("format") not in (2, 3):
        return data  # resume.py says which format it reads
    try:
        header = Header.model_validate_json(text)  # JSON mode: arrays are tuples
    except ValidationError as error:
        first = error.errors()[0]
        field = _field(first["loc"], data, first["type"] == "missing")
        got = json.dumps(first.get("input"), default=str)
        got = got if len(got) <= 60 else got[:57] + "..."
        raise damaged(root, field or "header", f"{first['msg']} (got {got})") from None
    needs = {3: ("optimizers", "schedulers"), 2: ("optimizer",)}[header.format]
    for field in needs:
        if getattr(header, field) is None:
            raise damaged(root, field, f"missing (a format {header.format} checkpoint)")
    if len(header.history) != header.epoch:
        raise damaged(root, "epoch", f"{header.epoch} epochs done, but the history holds "
                                     f"{len(header.history)} records")
    for number, record in enumerate(header.history, start=1):
        if record.get("epoch") != number:
            raise damaged(root, f"history.{number - 1}.epoch",
                          f"{record.get('epoch')!r}, expected {number}")
    for path, name in tensor_names(data):
        if name not in header.layout:
            raise damaged(root, path, f"names the tensor '{name}', which is not in the layout")
    return data


def _field(loc: tuple, data: Any, missing: bool) -> str:
    """The dotted path in `data` of a pydantic error's location, without the tags pydantic
    adds inside unions and the encoding's own keys (`__tuple__`, `__items__`)."""
    parts, node = [], data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
            if not part.startswith("__"):
                parts.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            parts.append(str(part))
        elif missing and i == len(loc) - 1:
            parts.append(str(part))
    return ".".join(parts)


def tensor_names(data: Any, path: str = "") -> list[tuple[str, str]]:
    """(field, tensor name) of every tensor the JSON data refers to."""
    if isinstance(data, dict):
        for key in ("__tensor__", "__ndarray__"):
            if key in data and isinstance(data[key], str):
                return [(path, data[key])]
        return [found for k, v in data.items()
                for found in tensor_names(v, f"{path}.{k}" if path else str(k))]
    if isinstance(data, list):
        return [found for i, v in enumerate(data) for found in tensor_names(v, f"{path}.{i}")]
    return []


def check_layout(layout: dict[str, list], sizes: dict[str, int], root: Path) -> None:
    """Every tensor of the layout lies inside a buffer of the file (`sizes`: buffer name ->
    number of elements)."""
    for name, (buffer, offset, shape) in layout.items():
        if buffer not in sizes:
            raise damaged(root, f"layout.{name}", f"its buffer '{buffer}' is not in the file")
        end = offset + math.prod(shape)
        if end > sizes[buffer]:
            raise damaged(root, f"layout.{name}",
                          f"shape {shape} at offset {offset} ends at element {end}, past "
                          f"the end of '{buffer}' ({sizes[buffer]} elements)")


def weights_path(checkpoints: Path, name: str, root: Path) -> Path:
    """The weights file `name` of a header: a regular file inside `checkpoints` (a link
    that leads out of it is refused)."""
    path = checkpoints / name
    real = Path(os.path.realpath(path))
    if real.parent != Path(os.path.realpath(checkpoints)):
        raise damaged(root, "weights", f"{path} leads out of {checkpoints} (to {real})")
    if not real.is_file():
        raise damaged(root, "weights", f"{path} is missing or not a regular file")
    return real
