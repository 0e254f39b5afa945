"""The JSON bodies of the prediction server, and its errors.

A request body is parsed and validated in one pass by pydantic-core (`parse_request`): strict
numbers (no strings, no booleans), finite (NaN and infinity are refused even though Python's
json would read them), JSON nesting bounded. Every refusal is a `RequestError`: an HTTP status
and a body `{"error": {"code", "field", "message", "hint"}}` whose field is a path into the
request (`rows[3][5]`, `inputs.pixels`).
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, Strict, TypeAdapter
from pydantic import ValidationError as PydanticError
from typing_extensions import TypeAliasType

Number = Annotated[float, Strict(), AllowInfNan(False)]
Nested = TypeAliasType("Nested", Union[Number, list["Nested"]])  # noqa: UP007 (pydantic)


class PredictRequest(BaseModel):
    """Either `rows` (one flat list of feature values per sample, for a model with one input)
    or `inputs` (each input by name, the samples along the first axis)."""

    model_config = ConfigDict(extra="forbid")
    rows: list[list[Number]] | None = Field(
        None, description="Feature rows, as in a CSV given to `dlspec predict`: each row is "
        "reshaped to the input's per-sample shape.", examples=[[[0.0, 1.5, 2.0]]])
    inputs: dict[str, list[Nested]] | None = Field(
        None, description="Named inputs: for each model input, its samples (nested lists "
        "with the per-sample shape, or flat rows).")


class PredictResponse(BaseModel):
    """The columns `dlspec predict` writes, one row per sample."""

    columns: list[str]
    predictions: list[dict[str, Any]] = Field(
        description="One record per sample: `prediction` (the class name, for a classifier) "
        "and `p_<class>`, or the model's values; null where an output is not finite.")


class ErrorBody(BaseModel):
    code: str | None
    field: str | None
    message: str
    hint: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


REQUEST = TypeAdapter(PredictRequest)


class RequestError(Exception):
    """A request the server refuses: HTTP status, dlspec code, the field at fault."""

    def __init__(self, status: int, message: str, *, field: str | None = None,
                 code: str | None = "DLS521", hint: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field, self.code, self.hint = (
            status, message, field, code, hint)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "field": self.field, "message": self.message,
                          "hint": self.hint}}


def parse_request(body: bytes) -> PredictRequest:
    """The validated request, or a RequestError (400 for JSON that does not parse, 422 for
    a value of the wrong type) naming the first field at fault."""
    if not body.strip():
        raise RequestError(400, "the request has no body", field="body",
                           hint='send JSON: {"rows": [[...], ...]} or {"inputs": {...}}')
    try:
        request = REQUEST.validate_json(body)
    except PydanticError as exc:
        raise _located(exc) from None
    if (request.rows is None) == (request.inputs is None):
        raise RequestError(422, "give exactly one of `rows` and `inputs`", field="body",
                           hint='{"rows": [[...], ...]} for a model with one input, '
                                '{"inputs": {"name": [...]}} by input name')
    return request


def field_path(loc: tuple[Any, ...]) -> str:
    """`('rows', 3, 5)` -> `rows[3][5]`; `('inputs', 'ids', 0)` -> `inputs.ids[0]`. The type
    names pydantic puts in the location of a union branch are dropped."""
    text = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        elif i < 2:  # the top-level key, and an input's name under `inputs`
            text += f".{part}" if text else str(part)
    return text or "body"


def _located(exc: PydanticError) -> RequestError:
    """The most telling of pydantic's errors as a RequestError: invalid JSON -> 400; else the
    deepest location (of a union, the branch that got furthest) -> 422."""
    errors = exc.errors(include_url=False)
    invalid_json = [e for e in errors if e["type"] == "json_invalid"]
    if invalid_json:
        return RequestError(400, f"the body is not valid JSON: {_json_reason(invalid_json[0])}",
                            field="body")
    error = max(errors, key=lambda e: (_depth(e["loc"]), e["type"] != "list_type"))
    where = field_path(tuple(error["loc"]))
    message = _MESSAGES.get(error["type"], error["msg"])
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) else f" (got {_short(got)})"
    return RequestError(422, f"{where}: {message}{shown}", field=where, hint=_hint(where))


_MESSAGES = {
    "float_type": "must be a number",
    "finite_number": "must be a finite number (NaN and infinity are refused)",
    "list_type": "must be a list",
    "dict_type": "must be an object mapping input names to their samples",
    "extra_forbidden": "is not a field of a prediction request (the fields are `rows` and "
                       "`inputs`)",
    "model_type": "must be a JSON object",
}


def _hint(where: str) -> str:
    if where.startswith("rows"):
        return "`rows` is a list of rows, each a list of numbers"
    if where.startswith("inputs"):
        return "`inputs` maps each input name to a list of samples (numbers or nested lists)"
    return 'send {"rows": [[...], ...]} or {"inputs": {"name": [...]}}'


def _depth(loc: Any) -> int:
    return sum(1 for i, part in enumerate(loc) if isinstance(part, int) or i < 2)


def _json_reason(error: dict[str, Any]) -> str:
    message = str(error.get("ctx", {}).get("error", error["msg"]))
    return message.removeprefix("Invalid JSON: ")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
