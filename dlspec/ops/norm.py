"""Normalization layers: per channel (batch, instance, group norm), over the last dims
(layer norm, RMS norm) and over the channels at each position (layernorm2d, ConvNeXt's). The output type is the input type."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.base import (
    Build,
    Op,
    PositiveInt,
    expect_float,
    expect_rank,
    known,
)

Eps = Field(1e-5, gt=0, description="Added to the variance for numerical stability.")
Momentum = Field(0.1, gt=0, le=1,
                 description="Weight of the newest batch in the running statistics.")


class _ChannelNorm(Op):
    """Normalizes per channel (dim 1), which must be a fixed size; built as
    `torch.nn.<ClassName>(num_features=C, ...)`."""

    ranks: ClassVar[tuple[int, ...]]
    layout: ClassVar[str]
    eps: float = Eps
    momentum: float = Momentum
    affine: bool = Field(True, description="Learn a per-channel scale and shift.")

    def infer(self, x: TensorType) -> TensorType:
        expect_rank(x, self.ranks, self.layout)
        expect_float(x)
        known(x.shape[1], "the channel dim")
        return x

    def build(self, x: TensorType) -> Build:
        return Build(f"torch.nn.{type(self).__name__}",
                     {"num_features": x.shape[1], **self.attributes()})

    def param_shapes(self, x: TensorType) -> dict[str, tuple[int, ...]]:
        return {"weight": (x.shape[1],), "bias": (x.shape[1],)} if self.affine else {}

    def buffer_count(self, x: TensorType) -> int:
        """running_mean, running_var and num_batches_tracked, when running stats are kept."""
        return (2 * x.shape[1] + 1) * getattr(self, "track_running_stats", True)


class BatchNorm1d(_ChannelNorm):
    """Batch normalization over (N, C) or (N, C, L), per channel C."""

    op: Literal["batchnorm1d"] = "batchnorm1d"
    ranks: ClassVar[tuple[int, ...]] = (2, 3)
    layout: ClassVar[str] = "(N, C) or (N, C, L)"


class BatchNorm2d(_ChannelNorm):
    """Batch normalization over (N, C, H, W), per channel C."""

    op: Literal["batchnorm2d"] = "batchnorm2d"
    ranks: ClassVar[tuple[int, ...]] = (4,)
    layout: ClassVar[str] = "(N, C, H, W)"


class BatchNorm3d(_ChannelNorm):
    """Batch normalization over (N, C, D, H, W), per channel C."""

    op: Literal["batchnorm3d"] = "batchnorm3d"
    ranks: ClassVar[tuple[int, ...]] = (5,)
    layout: ClassVar[str] = "(N, C, D, H, W)"


class _InstanceNorm(_ChannelNorm):
    affine: bool = Field(False, description="Learn a per-channel scale and shift.")
    track_running_stats: bool = Field(False, description=(
        "Keep running statistics while training and use them in eval mode (like batch norm); "
        "otherwise every sample is normalized by its own statistics in both modes."))


class InstanceNorm1d(_InstanceNorm):
    """Normalizes each channel of each sample over its length: (N, C, L)."""

    op: Literal["instancenorm1d"] = "instancenorm1d"
    ranks: ClassVar[tuple[int, ...]] = (3,)
    layout: ClassVar[str] = "(N, C, L)"


class InstanceNorm2d(_InstanceNorm):
    """Normalizes each channel of each sample over its plane: (N, C, H, W) (style transfer)."""

    op: Literal["instancenorm2d"] = "instancenorm2d"
    ranks: ClassVar[tuple[int, ...]] = (4,)
    layout: ClassVar[str] = "(N, C, H, W)"


class InstanceNorm3d(_InstanceNorm):
    """Normalizes each channel of each sample over its volume: (N, C, D, H, W)."""

    op: Literal["instancenorm3d"] = "instancenorm3d"
    ranks: ClassVar[tuple[int, ...]] = (5,)
    layout: ClassVar[str] = "(N, C, D, H, W)"


class GroupNorm(Op):
    """Normalizes each sample over groups of channels and all their positions: (N, C, *)."""

    op: Literal["groupnorm"] = "groupnorm"
    num_groups: PositiveInt = Field(description="Groups the channels are split into; must "
                                    "divide the channels (1 = layer norm over (C, *)).")
    eps: float = Eps
    affine: bool = Field(True, description="Learn a per-channel scale and shift.")

    def infer(self, x: TensorType) -> TensorType:
        if x.rank < 2:
            raise RuleError(f"expects input of shape (N, C, *), got {x}")
        expect_float(x)
        channels = known(x.shape[1], "the channel dim")
        if channels % self.num_groups:
            raise RuleError(f"{channels} channels cannot be split into {self.num_groups} "
                            "groups", hint="num_groups must divide the channels, e.g. "
                            f"{max(g for g in range(1, 33) if channels % g == 0)}")
        return x

    def build(self, x: TensorType) -> Build:
        return Build("torch.nn.GroupNorm", {"num_channels": x.shape[1], **self.attributes()})

    def param_shapes(self, x: TensorType) -> dict[str, tuple[int, ...]]:
        return {"weight": (x.shape[1],), "bias": (x.shape[1],)} if self.affine else {}


class _LastDimsNorm(Op):
    dims: PositiveInt = Field(1, description="How many trailing dims to normalize over.")
    elementwise_affine: bool = Field(True, description="Learn a scale per element.")

    def infer(self, x: TensorType) -> TensorType:
        expect_float(x)
        if self.dims >= x.rank:
            raise RuleError(f"cannot normalize over {self.dims} dims of {x}: that includes "
                            "the batch dim", code="DLS102")
        for dim in x.shape[-self.dims:]:
            known(dim, "a normalized dim")
        return x

    def build(self, x: TensorType) -> Build:
        return Build(f"torch.nn.{type(self).__name__}", {
            "normalized_shape": list(x.shape[-self.dims:]),
            **self.model_dump(exclude={"op", "dims"})})

    def param_shapes(self, x: TensorType) -> dict[str, tuple[int, ...]]:
        if not self.elementwise_affine:
            return {}
        shape = tuple(x.shape[-self.dims:])
        return {"weight": shape} | ({"bias": shape} if self._has_bias() else {})

    def _has_bias(self) -> bool:
        return False


class LayerNorm(_LastDimsNorm):
    """Normalizes each sample over its last `dims` dims, with a learned scale and shift."""

    op: Literal["layernorm"] = "layernorm"
    eps: float = Eps
    bias: bool = Field(True, description="Learn the additive part of the affine transform.")

    def _has_bias(self) -> bool:
        return self.bias


class RMSNorm(_LastDimsNorm):
    """Divides by the root mean square over the last `dims` dims, times a learned scale.

    No centering and no shift (T5, LLaMA)."""

    op: Literal["rmsnorm"] = "rmsnorm"
    eps: float | None = Field(None, gt=0, description=(
        "Added to the mean square for numerical stability; null: torch's default, the "
        "machine epsilon of the input's dtype (LLaMA and T5 use 1e-6)."))


class LayerNorm2d(Op):
    """Layer norm over the channels of (N, C, *) at every position, with a learned scale and
    shift per channel (ConvNeXt's LayerNorm2d: channels first)."""

    op: Literal["layernorm2d"] = "layernorm2d"
    eps: float = Field(1e-6, gt=0, description="Added to the variance for numerical "
                       "stability (ConvNeXt: 1e-6).")

    def infer(self, x: TensorType) -> TensorType:
        if x.rank < 3:
            raise RuleError(f"expects input of shape (N, C, *), got {x}",
                            hint="for (N, D) or (N, seq, D) use `layernorm`")
        expect_float(x)
        known(x.shape[1], "the channel dim")
        return x

    def build(self, x: TensorType) -> Build:
        return Build("dlspec.backends.torch_layers.vision.LayerNorm2d",
                     {"normalized_shape": [x.shape[1]], "eps": self.eps})

    def param_shapes(self, x: TensorType) -> dict[str, tuple[int, ...]]:
        return {"weight": (x.shape[1],), "bias": (x.shape[1],)}
