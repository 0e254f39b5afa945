"""Inputs of the ONNX Runtime check that look like the model's data.

Random N(0, 1) values are wrong for many inputs: a GCN fed a random-valued adjacency computes
degrees of mixed sign and its normalization amplifies rounding far beyond what real graphs see;
token ids must stay within the vocabulary, padding masks must leave a real token per row. So:

1. each op says what it expects of each input (`Op.input_roles`: token ids below the vocabulary,
   a 0/1 padding mask, a 0/1 adjacency, an edge index below the node count), and every graph
   input takes the role of the layers that read it (for ids the smallest vocabulary);
2. where the spec names a dataset and the model has one input, the data decides: int inputs are
   drawn below the largest id seen, 0/1 features as 0/1 with the data's rate of ones, other
   floats with the data's mean and standard deviation (per element, per feature, or overall,
   whatever the input's shape allows). A dataset that cannot be loaded is skipped (the roles
   still apply): the export does not depend on the data being present.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from dlspec.backends.onnx_export import TensorInfo
    from dlspec.compiler import CheckedSpec
    from dlspec.ops.base import InputRole


def graph_roles(graph: Any) -> dict[str, InputRole]:
    """Graph input name -> the role the layers reading it give it (ids: the smallest vocab)."""
    roles: dict[str, InputRole] = {}
    for node in graph.layers():
        types = [graph.node(source).type for source in node.inputs]
        for source, role in zip(node.inputs, node.op.input_roles(*types), strict=True):
            if role is None or source not in graph.inputs:
                continue
            known = roles.get(source)
            if known is None or (role.kind == known.kind == "ids" and role.high < known.high):
                roles[source] = role
    return roles


def with_roles(inputs: list[TensorInfo], roles: dict[str, InputRole]) -> list[TensorInfo]:
    """`inputs` with the role (and its bound) of each one that has one."""
    return [replace(info, role=roles[info.name].kind, high=roles[info.name].high)
            if info.name in roles else info for info in inputs]


def data_samples(checked: CheckedSpec) -> np.ndarray | None:
    """The training split's inputs as the model sees them, or None (no dataset, several
    inputs, a model the data does not feed, or data that cannot be loaded)."""
    from dlspec.errors import DlspecError

    if checked.spec.data is None or len(checked.graph.inputs) != 1:
        return None
    from dlspec.api import load_data
    from dlspec.passes.check_objective import data_view

    if data_view(checked).model != checked.model:  # a model the data does not feed
        return None

    if checked.spec.data.images is not None:  # files, decoded only while training
        return None
    try:
        return next(iter(load_data(checked).train.inputs.values()))
    except (DlspecError, OSError, ValueError):
        return None


def like_data(info: TensorInfo, samples: np.ndarray) -> TensorInfo:
    """`info` drawn like `samples` (n, *sample shape), as the module docstring says."""
    if len(samples) == 0 or info.role in ("mask", "adjacency", "edge_index"):
        return info
    values = np.asarray(samples)
    if info.dtype.startswith("int"):
        high = int(values.max()) + 1
        if info.high is not None and not isinstance(info.high, str):
            high = min(high, int(info.high))
        return replace(info, role="ids", high=max(high, 1))
    if info.center is not None or info.scale is not None:
        return info  # already drawn like the raw data (a model that standardizes)
    if np.isin(values, (0.0, 1.0)).all():
        return replace(info, role="binary", rate=float(values.mean()))
    axes = _reduced_axes(info.shape, values.shape[1:])
    center = values.mean(axis=axes, dtype=np.float64).astype(np.float32)
    scale = values.std(axis=axes, dtype=np.float64).astype(np.float32)
    return replace(info, center=center, scale=scale)


def _reduced_axes(input_shape: tuple, sample_shape: tuple) -> tuple[int, ...]:
    """Axes of (n, *sample_shape) to average over: only n when every dim of the input is
    fixed and equal to the data's, else all but the trailing dims that are fixed and equal."""
    keep = 0
    for want, got in zip(reversed(input_shape), reversed(sample_shape), strict=False):
        if isinstance(want, str) or want != got:
            break
        keep += 1
    return tuple(range(1 + len(sample_shape) - keep))


def describe_draw(info: TensorInfo) -> str:
    """How the check draws one input, for reports: 'ids in [0, 100)', '0/1 adjacency'..."""
    if info.role == "mask":
        return "0/1 padding mask"
    if info.role in ("adjacency", "binary"):
        rate = 0.3 if info.rate is None else info.rate
        return f"0/1 {info.role} (rate {rate:.2f})"
    if info.dtype.startswith("int"):
        return f"{info.role or 'ints'} in [0, {info.high if info.high is not None else 2})"
    if info.center is not None or info.scale is not None:
        return "like the data (mean and std)"
    return "N(0, 1)"
