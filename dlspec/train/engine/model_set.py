"""Several models trained together, as one module: what a checkpoint of a `models:` spec
holds. Each model's weights are named `<model>.<layer>...`; an exponential moving average
(EMA) of a model's weights, when the objective keeps one, is `ema.<model>.module.<...>`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

EMA = "ema"  # the name the EMA copies go under (no model of a spec may take it)


class ModelSet(nn.Module):
    """The spec's models by name (in the spec's order), and their EMA copies."""

    def __init__(self, models: dict[str, nn.Module],
                 input_types: dict[str, dict[str, tuple]] | None = None,
                 output_names: dict[str, tuple[str, ...]] | None = None):
        super().__init__()
        self.names = tuple(models)
        # per model: its inputs' (per-sample shape, dtype) and its output names, in order
        self.input_types, self.output_names = input_types or {}, output_names or {}
        for name, model in models.items():
            self.add_module(name, model)
        self.add_module(EMA, nn.ModuleDict())

    @property
    def models(self) -> dict[str, nn.Module]:
        return {name: getattr(self, name) for name in self.names}

    @property
    def averages(self) -> dict[str, AveragedModel]:
        return dict(getattr(self, EMA).items())

    def keep_average(self, name: str, decay: float) -> AveragedModel:
        """Start an EMA copy of model `name` (its buffers averaged too); returns it."""
        average = AveragedModel(getattr(self, name), multi_avg_fn=get_ema_multi_avg_fn(decay),
                                use_buffers=True)
        average.requires_grad_(False)  # averaged, never trained
        getattr(self, EMA)[name] = average
        return average

    def forward(self, *args: torch.Tensor):  # pragma: no cover - a set is not called
        raise TypeError("a ModelSet is not called; call one of its models")


def models_of(module: nn.Module, name: str = "model") -> dict[str, nn.Module]:
    """A ModelSet's models, or {name: module} for a single model."""
    return module.models if isinstance(module, ModelSet) else {name: module}


def state_of(state: dict[str, torch.Tensor], name: str, ema: bool = False
             ) -> dict[str, torch.Tensor]:
    """One model's weights out of a ModelSet's state dict: `name`'s own, or its EMA copy's
    (the averaged weights and buffers, without the average's step count)."""
    prefix = f"{EMA}.{name}.module." if ema else f"{name}."
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}


def one_model(checkpoint, name: str):
    """The checkpoint of a ModelSet narrowed to model `name`: its EMA copy's weights when
    the run kept one (what a trained generator is used with), else its own. A checkpoint of
    one model comes back as it is."""
    from dataclasses import replace

    state = checkpoint.state_dict
    if not any(key.startswith(f"{name}.") for key in state):
        return checkpoint
    ema = any(key.startswith(f"{EMA}.{name}.module.") for key in state)
    return replace(checkpoint, state_dict=state_of(state, name, ema),
                   metadata={**checkpoint.metadata, "weights_of": f"{EMA}.{name}" if ema
                             else name})
