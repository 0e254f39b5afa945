"""Dropout: random zeroing while training, the identity in eval mode (the output type is the
input type); drop_path drops whole samples of a residual branch (stochastic depth). Float inputs only: torch's dropout fails on int64 tensors while training."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from dlspec.ir.types import TensorType
from dlspec.ops.activations import _Elementwise
from dlspec.ops.base import Probability, expect_rank

P = Field(0.5, description="Probability of zeroing an element (a channel), in [0, 1).")


class Dropout(_Elementwise):
    """Zeroes each element with probability p while training (the rest scaled by 1/(1-p))."""

    op: Literal["dropout"] = "dropout"
    p: Probability = P


class AlphaDropout(_Elementwise):
    """Dropout that keeps a SELU network's mean and variance (self-normalizing networks)."""

    op: Literal["alpha_dropout"] = "alpha_dropout"
    p: Probability = P


class _ChannelDropout(_Elementwise):
    spatial: ClassVar[str]
    p: Probability = P

    def infer(self, x: TensorType) -> TensorType:
        expect_rank(x, 2 + len(self.spatial.split(", ")), f"(N, C, {self.spatial})")
        return super().infer(x)


class Dropout1d(_ChannelDropout):
    """Zeroes whole channels of (N, C, L) with probability p while training."""

    op: Literal["dropout1d"] = "dropout1d"
    spatial: ClassVar[str] = "L"


class Dropout2d(_ChannelDropout):
    """Zeroes whole channels (feature maps) of (N, C, H, W) with probability p in training."""

    op: Literal["dropout2d"] = "dropout2d"
    spatial: ClassVar[str] = "H, W"


class Dropout3d(_ChannelDropout):
    """Zeroes whole channels of (N, C, D, H, W) with probability p while training."""

    op: Literal["dropout3d"] = "dropout3d"
    spatial: ClassVar[str] = "D, H, W"


class DropPath(_Elementwise):
    """Stochastic depth: drops a residual branch for whole samples, each with probability p
    while training (the kept ones scaled by 1/(1-p)); the identity in eval mode and in ONNX."""

    op: Literal["drop_path"] = "drop_path"
    p: Probability = Field(0.0, description="Probability of dropping a sample's branch, in "
                           "[0, 1) (torchvision's stochastic_depth_prob, mode 'row').")

    @classmethod
    def _target(cls) -> str:
        return "dlspec.backends.torch_layers.vision.DropPath"
