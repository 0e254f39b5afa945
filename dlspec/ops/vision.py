"""Vision extras: resizing (upsample, pixel shuffle), squeeze-and-excitation, and the ViT
front end (patch embedding, class token)."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, model_validator

from dlspec.errors import RuleError
from dlspec.ir.types import Dim, TensorType, dim_add, dim_div, dim_mul
from dlspec.ops.base import (
    Build,
    IntPair,
    Op,
    PositiveInt,
    check_declared,
    expect_float,
    expect_rank,
    expect_sequence,
    known,
    pair,
)
from dlspec.ops.conv import LAYOUTS, spatial

VISION = "dlspec.backends.torch_layers.vision"
NCHW = LAYOUTS[2]
PositiveFloat = Annotated[float, Field(gt=0)]
# interpolation mode -> the spatial ranks it works on (torch's rule)
MODES = {"nearest": (1, 2, 3), "linear": (1,), "bilinear": (2,), "bicubic": (2,),
         "trilinear": (3,)}


class Upsample(Op):
    """Resizes (N, C, *spatial) to `size` or by `scale_factor` (nearest or interpolating)."""

    op: Literal["upsample"] = "upsample"
    size: PositiveInt | tuple[PositiveInt, ...] | None = Field(
        None, description="Output size: one number or one per spatial dim (or scale_factor).")
    scale_factor: PositiveFloat | tuple[PositiveFloat, ...] | None = Field(
        None, description="Multiplier of each spatial size, output = floor(size * factor): "
        "one number or one per spatial dim (or size).")
    mode: Literal["nearest", "linear", "bilinear", "bicubic", "trilinear"] = Field(
        "nearest", description="nearest (any rank), linear (N, C, L), bilinear or bicubic "
        "(N, C, H, W), trilinear (N, C, D, H, W).")
    align_corners: bool = Field(
        False, description="Interpolating modes: align the corner pixels of input and output "
        "instead of their edges.")

    @model_validator(mode="after")
    def _size_or_scale(self):
        if (self.size is None) == (self.scale_factor is None):
            raise ValueError("give exactly one of size and scale_factor")
        if self.align_corners and self.mode == "nearest":
            raise ValueError("align_corners applies to interpolating modes, not 'nearest'")
        return self

    def infer(self, x: TensorType) -> TensorType:
        ranks = MODES[self.mode]
        expect_rank(x, tuple(r + 2 for r in ranks), " or ".join(LAYOUTS[r] for r in ranks))
        expect_float(x)
        rank = x.rank - 2
        target = self.size if self.size is not None else self.scale_factor
        if isinstance(target, tuple) and len(target) != rank:
            raise RuleError(f"{len(target)} sizes or factors given for {rank} spatial dims",
                            hint="give one number, or one per spatial dim")
        if self.size is not None:
            return x.with_shape(*x.shape[:2], *spatial(self.size, rank))
        sizes = [_scaled(size, factor) for size, factor in
                 zip(x.shape[2:], spatial(self.scale_factor, rank), strict=True)]
        return x.with_shape(*x.shape[:2], *sizes)

    def build(self, x: TensorType) -> Build:
        rank = x.rank - 2
        return Build("torch.nn.Upsample", {
            "size": None if self.size is None else spatial(self.size, rank),
            "scale_factor": None if self.scale_factor is None else
            spatial(self.scale_factor, rank),
            "mode": self.mode,
            "align_corners": None if self.mode == "nearest" else self.align_corners})


def _scaled(size: Dim, factor: float) -> Dim:
    if float(factor).is_integer():
        return dim_mul(size, int(factor))
    if not isinstance(size, int):
        raise RuleError(f"a fractional scale_factor {factor} needs a fixed size, not '{size}'",
                        hint="use a whole-number factor, or give the output size")
    out = math.floor(size * factor)
    if out < 1:
        raise RuleError(f"scale_factor {factor} makes size {size} empty")
    return out


class PixelShuffle(Op):
    """Moves channels into space (sub-pixel convolution): (N, C*r*r, H, W) -> (N, C, H*r, W*r)."""

    op: Literal["pixel_shuffle"] = "pixel_shuffle"
    upscale_factor: PositiveInt = Field(description="r: the factor each of H and W grows by.")

    def infer(self, x: TensorType) -> TensorType:
        expect_rank(x, 4, NCHW)
        channels = known(x.shape[1], "the input's channels")
        r = self.upscale_factor
        if channels % (r * r):
            raise RuleError(f"input channels {channels} are not divisible by "
                            f"upscale_factor**2 = {r * r}")
        return x.with_shape(x.shape[0], channels // (r * r), dim_mul(x.shape[2], r),
                            dim_mul(x.shape[3], r))

    def build(self, x: TensorType) -> Build:
        return Build("torch.nn.PixelShuffle", {"upscale_factor": self.upscale_factor})


class SqueezeExcitation(Op):
    """Channel gating (SENet, MobileNetV3, EfficientNet): (N, C, H, W) -> (N, C, H, W).

    x * gate(fc2(activation(fc1(mean of x over H, W)))), fc1 and fc2 1x1 convolutions C -> S
    -> C with biases: torchvision.ops.SqueezeExcitation, parameter for parameter."""

    op: Literal["squeeze_excitation"] = "squeeze_excitation"
    squeeze_channels: PositiveInt | None = Field(
        None, description="Width S of the bottleneck (torchvision's squeeze_channels).")
    reduction: PositiveInt | None = Field(
        None, description="Or a ratio: S = max(1, C // reduction); 16 (SENet) when neither "
        "is given.")
    activation: Literal["relu", "silu"] = Field(
        "relu", description="Between the two 1x1 convolutions (EfficientNet uses silu).")
    gate: Literal["sigmoid", "hardsigmoid"] = Field(
        "sigmoid", description="Turns the scores into channel weights (MobileNetV3 uses "
        "hardsigmoid).")

    @model_validator(mode="after")
    def _one_width(self):
        if self.squeeze_channels is not None and self.reduction is not None:
            raise ValueError("give squeeze_channels or reduction, not both")
        return self

    def squeezed(self, x: TensorType) -> int:
        if self.squeeze_channels is not None:
            return self.squeeze_channels
        return max(1, x.shape[1] // (self.reduction or 16))

    def infer(self, x: TensorType) -> TensorType:
        expect_rank(x, 4, NCHW)
        expect_float(x)
        known(x.shape[1], "the input's channels")
        return x

    def build(self, x: TensorType) -> Build:
        return Build(f"{VISION}.SqueezeExcitation", {
            "input_channels": x.shape[1], "squeeze_channels": self.squeezed(x),
            "activation": self.activation, "gate": self.gate})

    def param_shapes(self, x: TensorType) -> dict[str, tuple[int, ...]]:
        channels, squeezed = x.shape[1], self.squeezed(x)  # 1x1 convolutions C -> S -> C
        return {"fc1.weight": (squeezed, channels, 1, 1), "fc1.bias": (squeezed,),
                "fc2.weight": (channels, squeezed, 1, 1), "fc2.bias": (channels,)}

    def macs(self, x: TensorType) -> int:
        return 2 * x.shape[0] * x.shape[1] * self.squeezed(x)


class PatchEmbedding(Op):
    """ViT patches: (N, C, H, W) -> (N, (H/p)*(W/p), embed_dim), one projected patch per row.

    A convolution with kernel = stride = patch size (torchvision's conv_proj, the layer's
    `weight` and `bias`), flattened row by row. H and W must be multiples of the patch size."""

    op: Literal["patch_embedding"] = "patch_embedding"
    embed_dim: PositiveInt = Field(description="Size of each patch's embedding (ViT's "
                                   "hidden_dim).")
    patch_size: IntPair = Field(description="Patch size: one number or [height, width]; H "
                                "and W must be multiples of it.")
    bias: bool = Field(True, description="Learn an additive bias.")
    in_channels: PositiveInt | None = Field(
        None, description="Input channels; inferred from the input when omitted.")

    def infer(self, x: TensorType) -> TensorType:
        expect_rank(x, 4, NCHW)
        expect_float(x)
        check_declared(self.in_channels, known(x.shape[1], "the input's channels"),
                       "in_channels")
        rows, cols = (_patches(size, p, axis) for size, p, axis in
                      zip(x.shape[2:], pair(self.patch_size), ("height", "width"), strict=True))
        return x.with_shape(x.shape[0], dim_mul(rows, cols), self.embed_dim)

    def build(self, x: TensorType) -> Build:
        return Build(f"{VISION}.PatchEmbedding", {
            "in_channels": x.shape[1], "embed_dim": self.embed_dim,
            "patch_size": pair(self.patch_size), "bias": self.bias})

    def param_shapes(self, x: TensorType) -> dict[str, tuple[int, ...]]:
        shapes = {"weight": (self.embed_dim, x.shape[1], *pair(self.patch_size))}
        return shapes | ({"bias": (self.embed_dim,)} if self.bias else {})

    def macs(self, x: TensorType) -> int:
        batch, patches, dim = self.infer(x).shape
        ph, pw = pair(self.patch_size)
        return batch * patches * dim * x.shape[1] * ph * pw


def _patches(size: Dim, patch: int, axis: str) -> Dim:
    """How many patches fit along `size`, which they must cover exactly."""
    count = dim_div(size, patch)
    if count is None:
        if isinstance(size, int):
            raise RuleError(f"image {axis} {size} is not a multiple of the patch size {patch}",
                            hint="resize or crop the images to a multiple of the patch size")
        raise RuleError(f"the image {axis} '{size}' is symbolic and not provably a multiple of "
                        f"the patch size {patch}",
                        hint="give the images a fixed size (e.g. 224) in the input's shape")
    return count


class ClassToken(Op):
    """ViT's [class] token, a learned vector prepended: (N, seq, D) -> (N, seq+1, D)."""

    op: Literal["class_token"] = "class_token"

    def infer(self, x: TensorType) -> TensorType:
        expect_sequence(x)
        return x.with_shape(x.shape[0], dim_add(x.shape[1], 1), x.shape[2])

    def build(self, x: TensorType) -> Build:
        return Build(f"{VISION}.ClassToken", {"dim": x.shape[2]})

    def param_shapes(self, x: TensorType) -> dict[str, tuple[int, ...]]:
        return {"class_token": (1, 1, x.shape[2])}
