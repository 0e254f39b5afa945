"""The accuracy cost of a reduced-precision file: its metrics on the test split beside the fp32
file's, and the budget (`export.max_metric_drop`) they must keep.

Both files are measured the same way, by ONNX Runtime, with the project's own loss and metrics
(`dlspec.train.scoring.evaluate.measure`, what `dlspec evaluate` prints): an `OnnxModule` makes a
session look like the trained module. The data is prepared as for training (standardized), and
the file takes raw features, so each standardized input is mapped back (x * std + mean) with
the statistics the file holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlspec.errors import Diagnostic, ExportError, SourceSpan, did_you_mean, one_of
from dlspec.train.config_base import default_mode

NUMPY_OF_ONNX = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
                 "tensor(double)": np.float64, "tensor(int64)": np.int64,
                 "tensor(int32)": np.int32, "tensor(bool)": np.bool_}


def onnx_module(session: Any, scalers: Mapping[int, tuple[np.ndarray, np.ndarray]]) -> Any:
    """An nn.Module that runs `session`: called with the inputs as training feeds them
    (standardized where `scalers`, by input position, holds the file's (mean, std)), returns
    float32 tensors as the trained module does (one tensor, or a tuple of several)."""
    import torch

    inputs = session.get_inputs()

    class OnnxModule(torch.nn.Module):
        def forward(self, *tensors: torch.Tensor) -> Any:
            feeds = {}
            for position, (info, tensor) in enumerate(zip(inputs, tensors, strict=True)):
                array = tensor.detach().cpu().numpy()
                if position in scalers:
                    mean, std = scalers[position]
                    array = array * std + mean
                feeds[info.name] = np.ascontiguousarray(
                    array.astype(NUMPY_OF_ONNX.get(info.type, array.dtype), copy=False))
            outputs = [torch.from_numpy(np.asarray(out, dtype=np.float32)
                                        if np.issubdtype(np.asarray(out).dtype, np.floating)
                                        else np.asarray(out))
                       for out in session.run(None, feeds)]
            return outputs[0] if len(outputs) == 1 else tuple(outputs)

    return OnnxModule()


def raw_inputs(split: Any, scalers: Mapping[int, tuple[np.ndarray, np.ndarray]]
               ) -> dict[str, np.ndarray]:
    """A split's inputs as the file takes them (standardized ones mapped back to raw)."""
    raw = {}
    for position, (name, values) in enumerate(split.inputs.items()):
        if position in scalers:
            mean, std = scalers[position]
            values = (values * std + mean).astype(np.float32)
        raw[name] = np.ascontiguousarray(values)
    return raw


def data_scalers(data: Any, inputs: Sequence[str]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """(mean, std) by input position of each input the data standardizes: what an exported
    file of a run holds in front of its model."""
    if data.mean is not None and data.std is not None:
        return {0: (data.mean, data.std)}
    return {i: data.scaling[name] for i, name in enumerate(inputs) if name in data.scaling}


@dataclass(frozen=True)
class MetricCost:
    """One metric of the fp32 file and of the reduced one on the test split."""

    name: str  # without the split prefix: accuracy, loss, mse, ...
    fp32: float
    reduced: float
    budget: float | None  # the largest drop allowed; None: not bounded

    @property
    def drop(self) -> float:
        """How much worse the reduced file scores (negative: better)."""
        higher_is_better = default_mode(self.name) == "max"
        return self.fp32 - self.reduced if higher_is_better else self.reduced - self.fp32

    @property
    def within(self) -> bool:
        if self.budget is None:
            return True
        if math.isnan(self.reduced) and not math.isnan(self.fp32):
            return False
        return not self.drop > self.budget + 1e-12

    def text(self, precision: str) -> str:
        budget = "" if self.budget is None else f", budget {self.budget:g}"
        return (f"{self.name} {self.fp32:.4f} (fp32) -> {self.reduced:.4f} ({precision}), "
                f"drop {self.drop:+.4f}{budget}")

    def to_json(self, precision: str) -> dict[str, float | None]:
        return {"fp32": round(self.fp32, 6), precision: round(self.reduced, 6),
                "drop": round(self.drop, 6), "budget": self.budget}


def metric_costs(fp32: Mapping[str, float], reduced: Mapping[str, float],
                 budget: float | Mapping[str, float], split: str = "test",
                 where: SourceSpan | None = None) -> list[MetricCost]:
    """Side by side, each metric (`<split>_<name>` keys as `measure` returns them) with its
    budget: a number bounds every metric but the loss terms (the loss when there is no other
    metric); a mapping bounds the metrics it names (DLS510 for a name not measured)."""
    prefix = f"{split}_"
    names = [key[len(prefix):] for key in fp32 if key.startswith(prefix)]
    if isinstance(budget, Mapping):
        unknown = [name for name in budget if name not in names]
        if unknown:
            close = did_you_mean(unknown[0], names)
            raise ExportError(Diagnostic(
                "DLS510", f"export.max_metric_drop names '{unknown[0]}', which the {split} "
                          f"split does not measure",
                where, hint=(close + " " if close else "") + f"measured: {one_of(names)}"))
        bounds = dict(budget)
    else:
        scored = [name for name in names if not name.startswith("loss")]
        bounds = dict.fromkeys(scored or names, float(budget))
    return [MetricCost(name, float(fp32[prefix + name]), float(reduced[prefix + name]),
                       bounds.get(name)) for name in names]


def budget_error(costs: list[MetricCost], precision: str, where: SourceSpan | None
                 ) -> ExportError | None:
    """DLS511 naming every metric that dropped more than its budget and by how much it
    missed; None when all are within."""
    missed = [cost for cost in costs if not cost.within]
    if not missed:
        return None
    parts = [f"{cost.text(precision)}: {cost.drop - (cost.budget or 0.0):.4f} over"
             for cost in missed]
    return ExportError(Diagnostic(
        "DLS511", f"the {precision} model scores worse than the fp32 one by more than "
                  f"export.max_metric_drop on the test split: " + "; ".join(parts)
                  + "; nothing was written",
        where, hint="raise export.max_metric_drop (e.g. --set export.max_metric_drop=0.05), "
                    "or try a milder reduction (fp16, or int8 with "
                    "--set export.quantization=static)"))
