"""Nested training state (optimizer, scheduler, RNG states) as JSON plus named tensors.

`encode` splits a tree of dicts, lists, tuples, numbers, strings, tensors and numpy arrays
into JSON-ready data and a dict of tensors (for a safetensors file); `decode` puts it back
together. Nothing is pickled: every value is a JSON scalar or a tensor, and the tree's
structure (tuples, dicts with integer keys, NaN) is spelled out in the JSON.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

TENSOR, ARRAY, TUPLE, ITEMS, FLOAT = "__tensor__", "__ndarray__", "__tuple__", "__items__", \
    "__float__"
PLAIN = (int, str, bool, type(None))  # stored as they are (and finite floats)


def _plain(value: Any) -> bool:
    return type(value) in PLAIN or (type(value) is float and math.isfinite(value))


def encode(value: Any, tensors: dict[str, torch.Tensor], path: str = "state") -> Any:
    """JSON-ready data for `value`; its tensors are added to `tensors` under path-like names."""
    if isinstance(value, torch.Tensor | np.ndarray):
        key = ARRAY if isinstance(value, np.ndarray) else TENSOR
        tensor = torch.from_numpy(np.ascontiguousarray(value)) if key == ARRAY else value
        tensors[path] = tensor.detach()
        return {key: path}
    if isinstance(value, float) and not math.isfinite(value):
        return {FLOAT: repr(value)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.integer | np.floating):
        return encode(value.item(), tensors, path)
    if isinstance(value, tuple | list):
        if all(_plain(v) for v in value):  # fast path: e.g. python's RNG state
            items = list(value)
        else:
            items = [encode(v, tensors, f"{path}.{i}") for i, v in enumerate(value)]
        return {TUPLE: items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: v if _plain(v) else encode(v, tensors, f"{path}.{k}")
                    for k, v in value.items()}
        return {ITEMS: [[encode(k, tensors, f"{path}.key{i}"), encode(v, tensors, f"{path}.{k}")]
                        for i, (k, v) in enumerate(value.items())]}
    raise TypeError(f"cannot store a {type(value).__name__} at {path} in a training state")


def decode(data: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The value `encode` was given, with its tensors taken from `tensors`."""
    if isinstance(data, list):
        return [decode(v, tensors) for v in data]
    if not isinstance(data, dict):
        return data
    if TENSOR in data:
        return tensors[data[TENSOR]]
    if ARRAY in data:
        return tensors[data[ARRAY]].numpy()
    if FLOAT in data:
        return float(data[FLOAT])
    if TUPLE in data:
        return tuple(decode(v, tensors) for v in data[TUPLE])
    if ITEMS in data:
        return {_hashable(decode(k, tensors)): decode(v, tensors) for k, v in data[ITEMS]}
    return {k: decode(v, tensors) for k, v in data.items()}


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


Layout = dict[str, list]  # name -> [buffer name, offset, shape]


def pack(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], Layout]:
    """Copies of `tensors` as one flat CPU buffer per dtype and device, and where each tensor
    lies in them. A file of a few large tensors is written several times faster than one of
    many small ones (each safetensors entry costs ~10 us), and the copies are a snapshot:
    the originals may change as soon as this returns."""
    groups: dict[tuple, list[torch.Tensor]] = {}
    sizes: dict[tuple, int] = {}
    layout: Layout = {}
    for name, tensor in tensors.items():
        group = (tensor.dtype, tensor.device)
        key = f"packed.{list(groups).index(group) if group in groups else len(groups)}"
        groups.setdefault(group, []).append(tensor.detach().reshape(-1))
        layout[name] = [key, sizes.get(group, 0), list(tensor.shape)]
        sizes[group] = sizes.get(group, 0) + tensor.numel()
    buffers = {f"packed.{i}": torch.cat(parts).cpu() for i, parts in enumerate(groups.values())}
    return buffers, layout


def unpack(buffers: dict[str, torch.Tensor], layout: Layout) -> dict[str, torch.Tensor]:
    """The tensors `pack` was given (on the CPU), each a copy of its own."""
    return {name: buffers[key][offset:offset + math.prod(shape)].view(shape).clone()
            for name, (key, offset, shape) in layout.items()}
