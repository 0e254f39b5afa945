"""The spec's `train.init_from` (transfer learning) as a pydantic model (no torch)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from dlspec.train.config_base import StrictConfig


class InitFromConfig(StrictConfig):
    """Initialize part of the model from a safetensors checkpoint before training."""

    path: str = Field(
        min_length=1,
        description="A .safetensors checkpoint, or a run folder (its best checkpoint); "
                    "relative to the spec file.")
    include: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Glob patterns of parameter names (after `rename`) to load, e.g. "
                    "['encoder.*']. A pattern matches a full name like 'fc1.weight' or one "
                    "of its dotted parts.")
    exclude: list[str] = Field(
        default_factory=list,
        description="Glob patterns of parameter names (after `rename`) not to load, e.g. "
                    "['head.*'] to keep a fresh classifier.")
    rename: dict[str, str] = Field(
        default_factory=dict,
        description="Checkpoint key prefix -> model key prefix, applied before include and "
                    "exclude, e.g. {'backbone.': 'encoder.'}.")

    mapping: str | None = Field(
        None, min_length=1,
        description="Read `path` as a reference model's state dict (torchvision, timm, Hugging "
                    "Face, as safetensors) through this weight mapping: a shipped mapping's "
                    "name or a mapping file relative to the spec (docs/weights.md). "
                    "`include`/`exclude` then select among the spec's tensors.")

    @model_validator(mode="after")
    def _mapping_renames(self) -> InitFromConfig:
        if self.mapping is not None and self.rename:
            raise ValueError("`rename` and `mapping` both rename the checkpoint's tensors; "
                             "write the renames as rules of the mapping")
        return self

    @field_validator("include", "exclude")
    @classmethod
    def _no_empty_patterns(cls, patterns: list[str]) -> list[str]:
        if any(not p for p in patterns):
            raise ValueError("an empty pattern matches nothing; remove it")
        return patterns
