"""Modules for latent-variable ops: the VAE reparameterization trick."""

from __future__ import annotations

import torch
from torch import nn


class Reparameterize(nn.Module):
    """z = mean + exp(log_var / 2) * eps with eps ~ N(0, I) from torch's global generator
    while training; the mean in eval mode (what an exported model computes)."""

    def forward(self, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        if self.training:
            return mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        return mean
