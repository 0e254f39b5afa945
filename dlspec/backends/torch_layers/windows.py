"""Swin's window layers, channels last, computed as torchvision's SwinTransformer does:
window partition and merge, the shifted-window mask, the relative position bias and patch
merging. Windows are folded into the batch, image by image, window by window row by row."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class WindowPartition(nn.Module):
    """(N, H, W, C) -> (N*nW, wh*ww, C)."""

    def __init__(self, window: list[int]):
        super().__init__()
        self.window = tuple(window)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape
        wh, ww = self.window
        x = x.view(n, h // wh, wh, w // ww, ww, c)
        return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, wh * ww, c)

    def extra_repr(self) -> str:
        return f"window={self.window}"


class WindowMerge(nn.Module):
    """(N*nW, wh*ww, C) windows of a height x width map -> (N, height, width, C); the second
    input only names the layout (its sizes are fixed when the layer is built)."""

    def __init__(self, window: list[int], height: int, width: int):
        super().__init__()
        self.window, self.height, self.width = tuple(window), height, width

    def forward(self, windows: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        wh, ww = self.window
        rows, cols = self.height // wh, self.width // ww
        x = windows.view(-1, rows, cols, wh, ww, windows.shape[-1])
        return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, self.height, self.width,
                                                   windows.shape[-1])

    def extra_repr(self) -> str:
        return f"window={self.window}, height={self.height}, width={self.width}"


def region_ids(height: int, width: int, window: list[int], shift: list[int]) -> torch.Tensor:
    """(nW, wh*ww): which of the up to 9 regions of the map, before it was rolled up and left
    by `shift`, each position of each window comes from (torchvision's attn_mask counts)."""
    ids = torch.zeros(height, width)
    (wh, ww), (sh, sw) = window, shift
    h_slices = ((0, height - wh), (height - wh, height - sh), (height - sh, height))
    w_slices = ((0, width - ww), (width - ww, width - sw), (width - sw, width))
    count = 0
    for top, bottom in h_slices:
        for left, right in w_slices:
            ids[top:bottom, left:right] = count
            count += 1
    ids = ids.view(height // wh, wh, width // ww, ww).permute(0, 2, 1, 3)
    return ids.reshape(-1, wh * ww)


class ShiftedWindowMask(nn.Module):
    """x (N, H, W, C) -> (N*nW, 1, wh*ww, wh*ww): `value` between positions of one window
    that come from different regions, 0 elsewhere; made once, repeated for the batch."""

    def __init__(self, height: int, width: int, window: list[int], shift: list[int],
                 value: float = -100.0):
        super().__init__()
        ids = region_ids(height, width, window, shift)
        apart = ids.unsqueeze(1) - ids.unsqueeze(2) != 0
        mask = torch.zeros(apart.shape).masked_fill(apart, value).unsqueeze(1)
        self.register_buffer("mask", mask, persistent=False)  # (nW, 1, wh*ww, wh*ww)
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = self.mask.to(x.dtype) if x.is_floating_point() else self.mask
        return mask.repeat(x.shape[0], 1, 1, 1)

    def extra_repr(self) -> str:
        return f"windows={self.mask.shape[0]}, value={self.value}"


def relative_position_index(window: list[int]) -> torch.Tensor:
    """(wh*ww * wh*ww,): for each pair of positions in a window, the row of the bias table
    of their offset (torchvision's relative_position_index)."""
    wh, ww = window
    coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij"))
    coords = coords.flatten(1)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    return ((relative[:, :, 0] + wh - 1) * (2 * ww - 1) + relative[:, :, 1] + ww - 1).flatten()


class WindowPositionBias(nn.Module):
    """A learned ((2wh-1)(2ww-1), heads) table, read out per pair of window positions:
    -> (1, heads, wh*ww, wh*ww). Starts as torchvision's: truncated normal, std 0.02."""

    def __init__(self, window: list[int], heads: int):
        super().__init__()
        wh, ww = self.window = tuple(window)
        self.heads = heads
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * wh - 1) * (2 * ww - 1), heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", relative_position_index(window),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.window[0] * self.window[1]
        bias = self.relative_position_bias_table[self.relative_position_index]
        return bias.view(size, size, -1).permute(2, 0, 1).contiguous().unsqueeze(0)

    def extra_repr(self) -> str:
        return f"window={self.window}, heads={self.heads}"


class PatchMerge(nn.Module):
    """(N, H, W, C) -> (N, ceil(H/2), ceil(W/2), 4C): the 2x2 neighbours, top-left,
    bottom-left, top-right, bottom-right, odd sizes padded with zeros."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[1], x.shape[2]
        x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        return torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2],
                          x[:, 1::2, 1::2]], dim=-1)
