"""Small torch modules for ops that torch.nn has no module for.

Each module here imports only torch (and the standard library), so `compile --emit-python` can
copy its source into a file that does not depend on dlspec. Op families keep their layers in
submodules (`torch_layers.sequence`, ...), which Build targets name in full."""

from __future__ import annotations

import torch
from torch import nn


class Add(nn.Module):
    """Sum of all inputs."""

    def forward(self, first: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        for other in rest:
            first = first + other
        return first


class Concat(nn.Module):
    def __init__(self, dim: int = 1):
        super().__init__()
        self.dim = dim

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.cat(inputs, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Reshape(nn.Module):
    """Reshapes each sample; the batch dim is kept."""

    def __init__(self, shape: list[int]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Standardize(nn.Module):
    """(x - mean) / std with statistics fitted on training data, stored as buffers."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class WithPreprocessing(nn.Module):
    """A trained model behind the input standardization it was trained with, so that the
    whole takes raw features (what an exported model is given)."""

    def __init__(self, standardize: Standardize, model: nn.Module):
        super().__init__()
        self.standardize = standardize
        self.model = model

    def forward(self, x: torch.Tensor, *rest: torch.Tensor):
        return self.model(self.standardize(x), *rest)


def with_input_scaling(model: nn.Module, scalers: dict[int, Standardize],
                       names: list[str]) -> nn.Module:
    """`model` behind the standardization of some of its several inputs (by position), as
    a module that takes every input by name (a torch.fx graph, so that exporters see its
    exact inputs); `input_scalers` holds the standardizations."""
    from torch import fx

    root = nn.Module()
    root.model = model
    graph = fx.Graph()
    values = []
    for position, name in enumerate(names):
        value = graph.placeholder(name)
        if position in scalers:
            root.add_module(f"standardize_{name}", scalers[position])
            value = graph.call_module(f"standardize_{name}", (value,))
        values.append(value)
    graph.output(graph.call_module("model", tuple(values)))
    scaled = fx.GraphModule(root, graph, class_name="WithInputScaling")
    scaled.input_scalers = dict(scalers)
    return scaled

