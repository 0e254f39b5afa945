"""Gradient-norm helpers from torch releases newer than the oldest dlspec supports (2.4),
spelled with older torch functions where the running torch lacks them (torch 2.6 added
`get_total_norm` and `clip_grads_with_norm_`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def total_norm(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """The L2 norm of all the tensors together, as one vector (0 for none)."""
    if hasattr(torch.nn.utils, "get_total_norm"):
        return torch.nn.utils.get_total_norm(tensors)
    if not tensors:
        return torch.tensor(0.0)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in tensors]))


def clip_grads_with_norm_(parameters: Sequence[torch.nn.Parameter], max_norm: float,
                          norm: torch.Tensor) -> None:
    """Scale the gradients by max_norm / (norm + 1e-6) where that is below 1, `norm` being
    their total norm measured beforehand."""
    if hasattr(torch.nn.utils, "clip_grads_with_norm_"):
        torch.nn.utils.clip_grads_with_norm_(parameters, max_norm, norm)
        return
    factor = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
    for parameter in parameters:
        if parameter.grad is not None:
            parameter.grad.mul_(factor.to(parameter.grad.device))
