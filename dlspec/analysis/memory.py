"""Memory estimates, from the graph's types alone (bytes; parameters are float32).

Training holds the weights, their gradients, the optimizer's state (tensors the size of the
weights: 2 for Adam/AdamW, 1 for SGD with momentum, ...) and the activations: the rule is
that every tensor of the graph (the inputs and each layer's output) is kept for the backward
pass. That is an estimate: it leaves out what layers save internally (dropout masks,
attention probabilities), the allocator's rounding and framework workspace, and counts views
(flatten, reshape) as copies. Inference holds the weights and the peak of the activations
alive at once, walking the layers in order and freeing each tensor after its last use.
Buffers (batch-norm statistics) are not counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from dlspec.analysis.dims import bind
from dlspec.ir.graph import Graph
from dlspec.ops.base import numel

PARAMETER_BYTES = 4  # float32


def dtype_bytes(dtype: str) -> int:
    """Bytes per element from the dtype's name: float32 4, int64 8, bfloat16 2, bool 1."""
    bits = re.search(r"\d+$", dtype)
    return int(bits.group()) // 8 if bits else 1


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes, at one batch size."""

    batch: int
    optimizer: str
    weights: int
    gradients: int
    optimizer_state: int
    activations: int  # training: every tensor kept for backward
    inference_activations: int  # inference: the peak of the live tensors

    @property
    def training(self) -> int:
        return self.weights + self.gradients + self.optimizer_state + self.activations

    @property
    def inference(self) -> int:
        return self.weights + self.inference_activations

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "training": self.training, "inference": self.inference}


def estimate_memory(graph: Graph, sizes: Mapping[str, int], *, params: int,
                    optimizer: Any = None) -> MemoryEstimate:
    """`sizes` binds the batch dim `N` and every named dim; `optimizer` is the spec's
    optimizer config (None: the trainer's default, Adam)."""
    tensor_bytes = {node.name: numel(bind(node.type, sizes).shape) * dtype_bytes(node.type.dtype)
                    for node in graph.nodes()}
    weights = params * PARAMETER_BYTES
    name = optimizer.op if optimizer is not None else "adam"
    return MemoryEstimate(
        batch=sizes["N"], optimizer=name, weights=weights, gradients=weights,
        optimizer_state=optimizer_states(optimizer) * weights,
        activations=sum(tensor_bytes.values()),
        inference_activations=peak_live_bytes(graph, tensor_bytes))


def optimizer_states(optimizer: Any) -> int:
    """How many parameter-sized tensors the optimizer keeps (as torch.optim implements it)."""
    if optimizer is None or optimizer.op in ("adam", "adamw"):
        return 2 + bool(getattr(optimizer, "amsgrad", False))  # exp_avg, exp_avg_sq
    if optimizer.op == "sgd":
        return int(optimizer.momentum > 0)  # momentum_buffer
    if optimizer.op == "adagrad":
        return 1  # sum
    if optimizer.op == "rmsprop":  # square_avg, momentum_buffer, grad_avg
        return 1 + int(optimizer.momentum > 0) + int(optimizer.centered)
    raise ValueError(f"the state size of optimizer '{optimizer.op}' is not known")


def peak_live_bytes(graph: Graph, tensor_bytes: Mapping[str, int]) -> int:
    """The most bytes alive at once when layers run in order and each tensor is freed after
    its last reader (the model's outputs are kept)."""
    order = graph.topological()
    last_use = {name: len(order) for name in graph.outputs}
    for step, node in enumerate(order):
        for source in node.inputs:
            last_use[source] = max(last_use.get(source, step), step)
    live = sum(tensor_bytes[name] for name in graph.inputs)
    peak = live
    for step, node in enumerate(order):
        if node.is_input:
            continue
        live += tensor_bytes[node.name]
        peak = max(peak, live)
        live -= sum(tensor_bytes[name] for name in set(node.inputs)
                    if last_use[name] == step)
        if node.name not in last_use:  # read by nothing
            live -= tensor_bytes[node.name]
    return peak
