"""Vision blocks with torchvision's structure and parameter names: squeeze-and-excitation
(torchvision.ops.SqueezeExcitation), the ViT patch embedding (VisionTransformer.conv_proj plus
its flatten), the ViT class token, and ConvNeXt's pieces: stochastic depth (DropPath),
layer scale and the channels-first layer norm."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU}
GATES = {"sigmoid": nn.Sigmoid, "hardsigmoid": nn.Hardsigmoid}


class SqueezeExcitation(nn.Module):
    """x * gate(fc2(activation(fc1(mean over H, W of x)))), fc1 and fc2 1x1 convolutions
    with biases: torchvision.ops.SqueezeExcitation, submodule for submodule."""

    def __init__(self, input_channels: int, squeeze_channels: int, activation: str = "relu",
                 gate: str = "sigmoid"):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = ACTIVATIONS[activation]()
        self.scale_activation = GATES[gate]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.activation(self.fc1(self.avgpool(x)))
        return self.scale_activation(self.fc2(scale)) * x


class PatchEmbedding(nn.Conv2d):
    """Cuts (N, C, H, W) into patch_size patches and projects each to embed_dim:
    (N, embed_dim, H/p, W/p) by a convolution with kernel = stride = patch size, then
    flattened to the sequence (N, H/p * W/p, embed_dim), row by row."""

    def __init__(self, in_channels: int, embed_dim: int, patch_size: tuple[int, int],
                 bias: bool = True):
        super().__init__(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size,
                         bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).flatten(2).transpose(1, 2)


class ClassToken(nn.Module):
    """Prepends one learned vector to every sequence: (N, S, D) -> (N, S + 1, D). Starts at
    zeros, as in torchvision's VisionTransformer."""

    def __init__(self, dim: int):
        super().__init__()
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)


class DropPath(nn.Module):
    """Stochastic depth, row mode (torchvision.ops.StochasticDepth(p, "row")): in training,
    each sample is zeroed with probability p and the rest scaled by 1/(1-p); else identity."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        noise = torch.empty([x.shape[0]] + [1] * (x.ndim - 1), dtype=x.dtype, device=x.device)
        return x * noise.bernoulli_(keep).div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LayerScale(nn.Module):
    """x * weight, a learned scale per channel shaped to broadcast (C, 1, 1 ...)."""

    def __init__(self, shape: list[int], init_value: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.full(tuple(shape), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * x


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels of (N, C, *) at every position (ConvNeXt's LayerNorm2d):
    channels moved last, normalized, moved back."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        order = [0, *range(2, x.ndim), 1]
        back = [0, x.ndim - 1, *range(1, x.ndim - 1)]
        x = F.layer_norm(x.permute(*order), self.normalized_shape, self.weight, self.bias,
                         self.eps)
        return x.permute(*back)
