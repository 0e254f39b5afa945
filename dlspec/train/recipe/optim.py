"""The spec's `optimizer:` as a torch optimizer over the groups `param_groups` makes."""

from __future__ import annotations

import torch
from torch import nn

from dlspec.errors import Diagnostic, TrainError
from dlspec.train.recipe.optim_config import OptimizerBase
from dlspec.train.recipe.param_groups import matches_any, param_groups

__all__ = ["build_optimizer", "matches_any", "optimizer_settings"]

# The torch class of each op, and the devices its fused kernel runs on.
TORCH_CLASSES = {"sgd": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adam": "Adam",
                 "adamw": "AdamW"}
FUSED_DEVICES = {"sgd": ("cpu", "cuda"), "adagrad": ("cpu",), "adam": ("cpu", "cuda"),
                 "adamw": ("cpu", "cuda")}
NOT_TORCH_ARGUMENTS = {"op", "no_decay", "groups"}


def optimizer_settings(config: OptimizerBase) -> dict:
    """The keyword arguments of the torch optimizer: the config's fields, named as torch
    names them (every field but op, no_decay and groups)."""
    settings = config.model_dump(exclude=NOT_TORCH_ARGUMENTS)
    if "betas" in settings:
        settings["betas"] = tuple(settings["betas"])
    return settings


def build_optimizer(model: nn.Module, config: OptimizerBase) -> torch.optim.Optimizer:
    """The torch optimizer for `config` over the model's trainable parameters.

    Uses the fused kernels when the optimizer has them for the device every parameter is on
    (same algorithm, fewer kernel launches). `optimizer.defaults["lr"]` is the config's lr,
    the base of the schedule.
    """
    groups = param_groups(model, config)
    if not groups:
        raise TrainError(Diagnostic("DLS403", "the model has no trainable parameters",
                                    hint="unfreeze at least one layer"))
    optimizer_class = getattr(torch.optim, TORCH_CLASSES[config.op])
    settings = optimizer_settings(config)
    if _can_fuse(groups, FUSED_DEVICES.get(config.op, ())):
        settings["fused"] = True
    return optimizer_class(groups, **settings)


def _can_fuse(groups: list[dict], devices: tuple[str, ...]) -> bool:
    params = [p for group in groups for p in group["params"]]
    return all(p.is_floating_point() and p.device.type in devices for p in params)
