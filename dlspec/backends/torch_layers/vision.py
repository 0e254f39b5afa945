"""Vision blocks with torchvision's structure and parameter names: squeeze-and-excitation
(torchvision.ops.SqueezeExcitation), the ViT patch embedding (VisionTransformer.conv_proj plus
its flatten) and the ViT class token."""

from __future__ import annotations

import torch
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
