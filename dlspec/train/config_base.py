"""The base of every training-section config model, and the types they share (no torch)."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from dlspec.data.tasks import Task

__all__ = ["HIGHER_IS_BETTER", "PositiveFloat", "StrictConfig", "Task", "default_mode", "op_names"]
PositiveFloat = Annotated[float, Field(gt=0)]
HIGHER_IS_BETTER = ("acc", "r2", "f1", "precision", "recall", "auroc")


def default_mode(monitor: str) -> Literal["min", "max"]:
    """'max' for metrics where higher is better (accuracy, r2, f1, ...), else 'min'."""
    return "max" if any(word in monitor for word in HIGHER_IS_BETTER) else "min"


def _op_is_required(schema: dict) -> None:
    """`op` has a default for Python callers, but a spec must always write it."""
    if "op" in schema.get("properties", {}):
        schema["required"] = ["op", *[k for k in schema.get("required", []) if k != "op"]]


class StrictConfig(BaseModel):
    """Frozen, and unknown keys are errors; a discriminating `op` is required in the schema."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_op_is_required)


def op_names(cls: type[StrictConfig]) -> tuple[str, ...]:
    """The op name(s) a config class stands for (`mae` also answers to `l1`)."""
    return get_args(cls.model_fields["op"].annotation)
