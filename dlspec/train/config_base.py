"""The base of every training-section config model, and the types they share (no torch)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Task = Literal["classification", "binary", "regression"]
PositiveFloat = Annotated[float, Field(gt=0)]


def _op_is_required(schema: dict) -> None:
    """`op` has a default for Python callers, but a spec must always write it."""
    if "op" in schema.get("properties", {}):
        schema["required"] = ["op", *[k for k in schema.get("required", []) if k != "op"]]


class StrictConfig(BaseModel):
    """Frozen, and unknown keys are errors; a discriminating `op` is required in the schema."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_op_is_required)
