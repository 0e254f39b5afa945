"""The spec's top-level structure as pydantic models: this IS the schema (unknown keys are errors).

Layer items under `model:` and `blocks.*.layers` stay plain mappings here: each one's
attributes may hold `${...}` expressions that only a block instance can resolve, so the
lowering pass validates them against their op's declaration (see dlspec/ops/).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dlspec.data.config import DataConfig
from dlspec.train.config import (
    LossConfig,
    OptimizerConfig,
    RegularizationConfig,
    ScheduleSpec,
    TrainConfig,
)

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
FRAME_KEYS = ("op", "block", "name", "inputs", "repeat")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DimConfig(StrictModel):
    """Bounds of a named symbolic dim, e.g. a sequence length."""

    min: int = Field(1, ge=1, description="Smallest size the dim may take.")
    max: int | None = Field(None, ge=1, description="Largest size the dim may take.")


class InputConfig(StrictModel):
    """One model input, described per sample (the batch dim is implicit and dynamic)."""

    shape: list[Annotated[int, Field(ge=1)] | Name] = Field(
        description="Per-sample shape; names (like `seq`) are symbolic dims that stay "
                    "dynamic through shape checking and in ONNX.")
    dtype: Literal["float32", "int64"] = Field(
        "float32", description="Element type: float32 features or int64 token ids.")
    dims: dict[Name, DimConfig] = Field(
        default_factory=dict, description="Bounds for the symbolic dims named in `shape`.")
    description: str = Field("", description="What this input holds.")


class BlockConfig(StrictModel):
    """A reusable, parameterized sub-graph; use it in `model` with `block: <name>`."""

    description: str = Field("", description="What the block computes.")
    params: dict[Name, Any] = Field(
        default_factory=dict,
        description="Block parameters: a default value, or a type name (int, float, bool, "
                    "str, list) for a parameter every use must give.")
    inputs: list[Name] = Field(
        default_factory=lambda: ["x"],
        description="Names the block's layers use for its inputs (default: x).")
    layers: list[dict[str, Any]] = Field(
        min_length=1, description="The block's layers; the last one is its output.")


class ExportConfig(StrictModel):
    """How `dlspec export` writes and verifies ONNX."""

    opset: int = Field(20, ge=18, le=23, description="ONNX opset version.")
    tolerance: float = Field(1e-5, gt=0, description=(
        "Absolute tolerance of the ONNX Runtime check: each output element must be within "
        "tolerance + rtol * |PyTorch's value|."))
    rtol: float = Field(1.3e-6, ge=0, description=(
        "Relative tolerance of the ONNX Runtime check (torch.testing's float32 default)."))
    check_batch: int = Field(3, ge=1, description="Batch size of the ONNX Runtime check "
                                                  "(differs from the export batch of 2).")


class Spec(StrictModel):
    """A dlspec file: model, training recipe, data and export settings."""

    dlspec: Literal[1] = Field(description="Spec format version; this is version 1.")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                      description="Name of the model, used for run folders and metadata.")
    description: str = Field("", description="What the spec is for.")
    params: dict[Name, Any] = Field(
        default_factory=dict,
        description="Named constants; other values use them as ${name} (safe arithmetic).")
    inputs: dict[Name, InputConfig] = Field(min_length=1, description="The model's inputs.")
    blocks: dict[Name, BlockConfig] = Field(default_factory=dict,
                                            description="Reusable parameterized sub-graphs.")
    model: list[dict[str, Any]] = Field(
        min_length=1, description="The layers, in order. Each takes the previous layer's "
                                  "output unless it names its `inputs`.")
    outputs: list[str] | None = Field(
        None, description="Layers whose outputs the model returns (default: the last layer).")
    loss: LossConfig | None = Field(None, description="The training objective.")
    optimizer: OptimizerConfig | None = Field(None, description="The optimizer.")
    schedule: ScheduleSpec | None = Field(
        None, description="Learning-rate schedule: one entry, or a warmup then one entry.")
    regularization: RegularizationConfig | None = Field(
        None, description="Gradient clipping and early stopping.")
    data: DataConfig | None = Field(None, description="The data to train and evaluate on.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Training settings.")
    export: ExportConfig = Field(default_factory=ExportConfig, description="Export settings.")

    @field_validator("outputs", mode="before")
    @classmethod
    def _single_output(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value
