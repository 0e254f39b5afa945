"""The `regularization:` section at work in every step: the L1/L2 penalty added to the loss
and gradient clipping by value and by norm.

The penalty covers the parameters the optimizer decays (not those exempted by `no_decay`).
An L2 penalty l2 / 2 * sum(w ** 2) adds l2 * w to the gradient: for SGD that is exactly
weight_decay l2, but Adam divides it by its running RMS like any gradient, while adamw's
decoupled weight decay shrinks w by lr * wd * w outside the gradient.
"""

from __future__ import annotations

import torch

from dlspec.train.engine.torch_compat import clip_grads_with_norm_
from dlspec.train.recipe.config import RegularizationConfig


class Regularizer:
    """`with_penalty(loss)` before backward, `clip_gradients()` after it."""

    def __init__(self, config: RegularizationConfig, optimizer: torch.optim.Optimizer):
        self.config = config
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self.penalized = [p for group in optimizer.param_groups
                          if group.get("decayed", True) for p in group["params"]]

    def penalty(self) -> torch.Tensor | float:
        """l1 * sum(|w|) + l2 / 2 * sum(w ** 2) over the decayed parameters (0.0 when off)."""
        total: torch.Tensor | float = 0.0
        if self.config.l1 and self.penalized:
            total = total + self.config.l1 * torch.stack(
                [p.abs().sum() for p in self.penalized]).sum()
        if self.config.l2 and self.penalized:
            total = total + self.config.l2 / 2 * torch.stack(
                [p.pow(2).sum() for p in self.penalized]).sum()
        return total

    def with_penalty(self, loss: torch.Tensor) -> torch.Tensor:
        """What the optimizer minimizes: the loss plus the penalty (the loss itself when
        l1 and l2 are off)."""
        return loss + self.penalty() if self.config.l1 or self.config.l2 else loss

    def clip_gradients(self, total_norm: torch.Tensor | None = None) -> None:
        """Clip each gradient element to +-grad_clip_value, then the global gradient norm
        to grad_clip_norm (each when set). `total_norm`, the gradients' global L2 norm when
        the caller has measured it, saves measuring it again (unless values were clipped)."""
        if self.config.grad_clip_value is not None:
            torch.nn.utils.clip_grad_value_(self.params, self.config.grad_clip_value)
            total_norm = None
        if self.config.grad_clip_norm is None:
            return
        if total_norm is None:
            torch.nn.utils.clip_grad_norm_(self.params, self.config.grad_clip_norm)
        else:
            clip_grads_with_norm_(self.params, self.config.grad_clip_norm, total_norm)
