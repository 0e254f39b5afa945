"""Swin's windows, channels last: cutting (N, H, W, C) into windows of w x w positions that
attend within themselves (window_partition, window_merge), the mask that keeps a shifted
window's regions apart (shifted_window_mask), the learned relative position bias of a window
(window_position_bias), and the 2 x 2 patch merging between stages (patch_merge).

Windows are folded into the batch: window_partition gives (N*nW, w*w, C), image by image and
within an image window by window, row by row; the attention bias of a windowed layer is
(1, heads, w*w, w*w) (the same for every window) or (N*nW, 1 or heads, w*w, w*w)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from dlspec.errors import RuleError
from dlspec.ir.types import Dim, TensorType, dim_mul
from dlspec.ops.base import (
    Build,
    IntPair,
    NonNegativeInt,
    Op,
    PositiveInt,
    expect_rank,
    known,
    pair,
)

LAYERS = "dlspec.backends.torch_layers.windows"
NHWC = "(N, H, W, C)"
WINDOW = Field(description="Window size w: one number or [height, width].")


def _float(x: TensorType) -> str:
    """The dtype of a bias made for `x`: its own if it is a float, else float32."""
    return x.dtype if x.dtype.startswith("float") else "float32"


def window_grid(x: TensorType, window: tuple[int, int]) -> tuple[int, int]:
    """How many windows fit down and across (N, H, W, C), which they must tile exactly."""
    expect_rank(x, 4, NHWC)
    grid = []
    for size, w, axis in zip(x.shape[1:3], window, ("height", "width"), strict=True):
        size = known(size, f"the {axis}")
        if size % w:
            raise RuleError(f"the {axis} {size} of {x} is not a multiple of the window {w}",
                            hint="pad or crop the feature map to a multiple of the window, "
                            "or pick a window that divides it")
        grid.append(size // w)
    return grid[0], grid[1]


class WindowPartition(Op):
    """Cuts (N, H, W, C) into w x w windows: (N*nW, w*w, C), nW = (H/w)*(W/w), each window a
    sequence of its positions row by row (Swin)."""

    op: Literal["window_partition"] = "window_partition"
    window: IntPair = WINDOW

    def infer(self, x: TensorType) -> TensorType:
        rows, cols = window_grid(x, pair(self.window))
        wh, ww = pair(self.window)
        return x.with_shape(dim_mul(x.shape[0], rows * cols), wh * ww, x.shape[3])

    def build(self, x: TensorType) -> Build:
        return Build(f"{LAYERS}.WindowPartition", {"window": list(pair(self.window))})


class WindowMerge(Op):
    """Puts windows back in place, window_partition's inverse: windows (N*nW, w*w, C) and a
    tensor (N, H, W, *) of the layout to restore -> (N, H, W, C)."""

    op: Literal["window_merge"] = "window_merge"
    window: IntPair = WINDOW
    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = 2

    def infer(self, windows: TensorType, like: TensorType) -> TensorType:
        expect_rank(windows, 3, "windows (N*nW, w*w, C)")
        rows, cols = window_grid(like, pair(self.window))
        wh, ww = pair(self.window)
        want = (dim_mul(like.shape[0], rows * cols), wh * ww)
        if tuple(windows.shape[:2]) != want:
            raise RuleError(f"windows {windows} do not fit the layout {like}: {rows * cols} "
                            f"windows of {wh}x{ww} per image give ({want[0]}, {want[1]}, C)",
                            hint="inputs are [windows, the (N, H, W, C) tensor they were cut "
                            "from], with the window_partition's window")
        return windows.with_shape(like.shape[0], like.shape[1], like.shape[2], windows.shape[2])

    def build(self, windows: TensorType, like: TensorType) -> Build:
        return Build(f"{LAYERS}.WindowMerge", {"window": list(pair(self.window)),
                                               "height": like.shape[1], "width": like.shape[2]})


class ShiftedWindowMask(Op):
    """Swin's mask for shifted windows: x (N, H, W, C), rolled up and left by `shift` ->
    float (N*nW, 1, w*w, w*w), `value` between two positions of a window that came from different
    regions of the image before the roll (they must not attend to each other), else 0."""

    op: Literal["shifted_window_mask"] = "shifted_window_mask"
    window: IntPair = WINDOW
    shift: NonNegativeInt | tuple[NonNegativeInt, NonNegativeInt] = Field(
        description="How far the feature map was rolled (Swin: window // 2), one number or "
        "[down, across]; each smaller than the window.")
    value: float = Field(-100.0, lt=0, description="Added to the scores of pairs that must not "
                         "attend to each other (Swin: -100).")

    def infer(self, x: TensorType) -> TensorType:
        rows, cols = window_grid(x, pair(self.window))
        if any(s >= w for s, w in zip(pair(self.shift), pair(self.window), strict=True)):
            raise RuleError(f"shift {self.shift} must be smaller than the window {self.window}",
                            code="DLS102")
        size = pair(self.window)[0] * pair(self.window)[1]
        return TensorType((dim_mul(x.shape[0], rows * cols), 1, size, size), _float(x))

    def build(self, x: TensorType) -> Build:
        return Build(f"{LAYERS}.ShiftedWindowMask", {
            "height": x.shape[1], "width": x.shape[2], "window": list(pair(self.window)),
            "shift": list(pair(self.shift)), "value": self.value})

    def buffer_count(self, x: TensorType) -> int:
        rows, cols = window_grid(x, pair(self.window))
        size = pair(self.window)[0] * pair(self.window)[1]
        return rows * cols * size * size


class WindowPositionBias(Op):
    """Swin's learned relative position bias: a table of one value per head for each offset
    between two positions of a w x w window, read out for every pair: windows (B, w*w, *) ->
    (1, heads, w*w, w*w), the same for every window (an attention bias)."""

    op: Literal["window_position_bias"] = "window_position_bias"
    window: IntPair = WINDOW
    heads: PositiveInt = Field(description="Attention heads, one bias table column each.")

    def infer(self, x: TensorType) -> TensorType:
        if x.rank < 2:
            raise RuleError(f"expects windows (B, w*w, ...), got {x}")
        wh, ww = pair(self.window)
        if x.shape[1] != wh * ww:
            raise RuleError(f"the input {x} has {x.shape[1]} positions per window, but a "
                            f"{wh}x{ww} window has {wh * ww}",
                            hint="feed the window_partition's output, with the same window")
        return TensorType((1, self.heads, wh * ww, wh * ww), _float(x))

    def build(self, x: TensorType) -> Build:
        return Build(f"{LAYERS}.WindowPositionBias",
                     {"window": list(pair(self.window)), "heads": self.heads})

    def param_shapes(self, x: TensorType) -> dict[str, tuple[int, ...]]:
        wh, ww = pair(self.window)
        return {"relative_position_bias_table": ((2 * wh - 1) * (2 * ww - 1), self.heads)}

    def buffer_count(self, x: TensorType) -> int:
        wh, ww = pair(self.window)
        return (wh * ww) ** 2


class PatchMerge(Op):
    """Swin's patch merging, without its norm and projection: (N, H, W, C) -> (N, H/2, W/2,
    4C), each 2x2 patch's vectors concatenated top-left, bottom-left, top-right, bottom-right;
    an odd H or W is padded with zeros first (as torchvision)."""

    op: Literal["patch_merge"] = "patch_merge"

    def infer(self, x: TensorType) -> TensorType:
        expect_rank(x, 4, NHWC)
        channels = known(x.shape[3], "the channels C")
        return x.with_shape(x.shape[0], *(_half(d) for d in x.shape[1:3]), 4 * channels)

    def build(self, x: TensorType) -> Build:
        return Build(f"{LAYERS}.PatchMerge")


def _half(size: Dim) -> Dim:
    if isinstance(size, int):
        return (size + 1) // 2
    return f"({size}+1)//2"
