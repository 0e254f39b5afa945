"""The spec's `optimizer:` as a torch optimizer; the whole weight-decay policy is `param_groups`."""

from __future__ import annotations

from fnmatch import fnmatchcase

import torch
from torch import nn

from dlspec.errors import Diagnostic, TrainError, did_you_mean
from dlspec.train.config import OptimizerConfig

FUSED_DEVICES = ("cpu", "cuda")


def matches_any(name: str, patterns: list[str]) -> bool:
    """Whether a parameter name like 'block.0.bn1.bias' matches one of the glob patterns,
    either as a whole or in one of its dotted parts ('bias' and 'bn*' both match it)."""
    parts = name.split(".")
    return any(fnmatchcase(name, p) or any(fnmatchcase(part, p) for part in parts)
               for p in patterns)


def param_groups(model: nn.Module, weight_decay: float, no_decay: list[str]) -> list[dict]:
    """Split the trainable parameters into a decayed group and a zero-decay group.

    Parameters whose names match a `no_decay` pattern get weight_decay 0; every other
    trainable parameter gets `weight_decay`. Each group lists its parameter names under
    "param_names" (as torch does). Empty groups are left out. A pattern that matches no parameter is a TrainError
    (DLS102), since it is almost always a typo.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    for pattern in no_decay:
        if not any(matches_any(name, [pattern]) for name, _ in named):
            raise TrainError(_unmatched(pattern, [name for name, _ in named]))
    exempt = [(n, p) for n, p in named if matches_any(n, no_decay)]
    decayed = [(n, p) for n, p in named if not matches_any(n, no_decay)]
    groups = [
        {"params": [p for _, p in decayed], "param_names": [n for n, _ in decayed],
         "weight_decay": weight_decay},
        {"params": [p for _, p in exempt], "param_names": [n for n, _ in exempt],
         "weight_decay": 0.0},
    ]
    return [group for group in groups if group["params"]]


def build_optimizer(model: nn.Module, config: OptimizerConfig) -> torch.optim.Optimizer:
    """The torch optimizer for `config` over the model's trainable parameters.

    Uses the fused kernels when every parameter is a floating-point tensor on a CPU or CUDA
    device (same algorithm, fewer kernel launches).
    """
    groups = param_groups(model, config.weight_decay, config.no_decay)
    if not groups:
        raise TrainError(Diagnostic("DLS403", "the model has no trainable parameters",
                                    hint="unfreeze at least one layer"))
    fused = _can_fuse(groups)
    if config.op == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum,
                               nesterov=config.nesterov, fused=fused)
    optimizer_class = torch.optim.AdamW if config.op == "adamw" else torch.optim.Adam
    return optimizer_class(groups, lr=config.lr, betas=config.betas, eps=config.eps,
                           fused=fused)


def _can_fuse(groups: list[dict]) -> bool:
    params = [p for group in groups for p in group["params"]]
    return all(p.is_floating_point() and p.device.type in FUSED_DEVICES for p in params)


def _unmatched(pattern: str, names: list[str]) -> Diagnostic:
    parts = {part for name in names for part in name.split(".")}
    close = did_you_mean(pattern, [*names, *sorted(parts)])
    examples = ", ".join(names[:4])
    return Diagnostic(
        "DLS102", f"no_decay pattern '{pattern}' matches no trainable parameter",
        hint=close or f"parameters are named like {examples}; patterns such as '*.bias' "
                      "or 'bias' match every bias")
