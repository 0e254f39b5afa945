"""How close ONNX Runtime must come to PyTorch: a tolerance that follows the model's depth and
its output's scale.

ONNX Runtime and PyTorch compute the same float32 arithmetic in other orders (other matmul
kernels, fused ops), so each layer adds rounding differences of about one part in 10^7 of the
values it handles, and the differences of successive layers add up. A fixed 1e-5 is then
either loose for a shallow model with small outputs or wrong for a deep one with large outputs
(a transformer trained on `reverse`, logits up to ~15, differed by 3.2e-5). The rule, per
output, element by element:

    |onnx - torch| <= tolerance * depth_factor * max(1, scale) + rtol * |torch|

- `tolerance` (spec `export.tolerance`, default 1e-5) and `rtol` (default 1.3e-6, the float32
  rule of torch.testing) are the bounds for a shallow model with outputs of order 1;
- `scale` is the largest |PyTorch value| of that output on the check inputs (finite ones);
- `depth_factor` is max(1, sqrt(depth / 4)), `depth` the number of layers with weights on the
  longest path from an input to that output (a recurrent or repeated layer counts its
  num_layers). Rounding differences of independent layers add like a random walk, hence the
  square root; four layers are within the base tolerance.

A wrong export is far outside it: a weight off by 1% moves outputs by about 1e-2 of their
scale, some 100 times the bound of a 100-layer model (tests/backends/test_onnx_tolerance.py
perturbs one initializer of an exported file and checks that the check refuses it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

BASE_DEPTH = 4


def weighted_depth(graph: Any) -> dict[str, int]:
    """Output name -> layers with weights on the longest input-to-output path."""
    longest: dict[str, int] = {name: 0 for name in graph.inputs}
    for node in graph.layers():
        types = [graph.node(source).type for source in node.inputs]
        weighted = node.tie is not None or node.op.param_count(*types) > 0
        own = max(1, int(getattr(node.op, "num_layers", 1) or 1)) if weighted else 0
        longest[node.name] = own + max((longest.get(s, 0) for s in node.inputs), default=0)
    return {name: longest.get(name, 0) for name in graph.outputs}


def depth_factor(depth: int) -> float:
    """max(1, sqrt(depth / 4)): the growth of rounding differences with depth."""
    return max(1.0, math.sqrt(depth / BASE_DEPTH))


def output_scale(values: np.ndarray) -> float:
    """The largest finite |value| (0 for none)."""
    finite = np.abs(values[np.isfinite(values)]) if values.size else np.zeros(0)
    return float(finite.max()) if finite.size else 0.0


def absolute_tolerances(names: list[str], expected: list[np.ndarray], tolerance: float,
                        depths: Mapping[str, int] | None) -> dict[str, float]:
    """Output name -> the absolute part of its bound: tolerance * depth_factor * max(1, scale)."""
    return {name: tolerance * depth_factor((depths or {}).get(name, 0))
            * max(1.0, output_scale(want))
            for name, want in zip(names, expected, strict=True)}
