"""Gradient norms per layer group (a top-level layer or block), and their warnings."""

from __future__ import annotations

import math

import torch

from dlspec.train.engine.torch_compat import total_norm

VANISHING = 1e-7  # a group's gradient norm below this is reported as vanishing
EXPLODING = 1e3  # and above this as exploding


def layer_groups(model: torch.nn.Module) -> dict[str, list[torch.nn.Parameter]]:
    """The trainable parameters by top-level name: 'res1.conv1.weight' belongs to 'res1'."""
    groups: dict[str, list[torch.nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            groups.setdefault(name.split(".")[0], []).append(parameter)
    return groups


def group_norms(groups: dict[str, list[torch.nn.Parameter]]) -> dict[str, float]:
    """Each group's gradient L2 norm (over all its parameters), read from the device once.

    A group none of whose parameters has a gradient is left out.
    """
    names, norms = [], []
    for name, parameters in groups.items():
        grads = [p.grad for p in parameters if p.grad is not None]
        if grads:
            names.append(name)
            norm = total_norm(grads)  # a DTensor under fsdp: the whole norm, gathered
            norms.append((norm.full_tensor() if hasattr(norm, "full_tensor") else norm).float())
    if not norms:
        return {}
    return dict(zip(names, torch.stack(norms).tolist(), strict=True))


class NormWatch:
    """Warns once per group and kind when a group's gradient norm vanishes or explodes."""

    def __init__(self) -> None:
        self.warned: set[tuple[str, str]] = set()

    def check(self, norms: dict[str, float], epoch: int, step: int) -> list[str]:
        """The new warnings for one step's group norms."""
        found = []
        for group, norm in norms.items():
            kind = ("vanishing" if norm < VANISHING else
                    "exploding" if norm > EXPLODING or not math.isfinite(norm) else None)
            if kind is None or (group, kind) in self.warned:
                continue
            self.warned.add((group, kind))
            advice = ("check for dead ReLUs, saturated activations or a missing connection"
                      if kind == "vanishing" else
                      "lower the learning rate or set regularization.grad_clip_norm")
            found.append(f"{kind} gradients in '{group}': norm {norm:.3g} at epoch {epoch}, "
                         f"step {step} ({advice})")
        return found
