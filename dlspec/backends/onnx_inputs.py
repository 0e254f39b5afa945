"""Inputs of an ONNX export: checking the declared inputs, choosing the sizes at which the model
is exported and checked, and making random example tensors. Helpers of `onnx_export`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dlspec.errors import Diagnostic, ExportError

if TYPE_CHECKING:
    from dlspec.backends.onnx_export import TensorInfo

BATCH = "batch"
SUPPORTED_DTYPES = ("float32", "float64", "int64", "int32")


def plan_sizes(
    inputs: Sequence[TensorInfo],
    dim_max: Mapping[str, int],
    export_sizes: Mapping[str, int] | None,
    check_sizes: Mapping[str, int] | None,
) -> tuple[dict[str, int], dict[str, int]]:
    """Export-time and check-time size of every symbolic dim, different from each other.

    Defaults: the i-th symbolic dim is exported at 16 + i and checked 7 larger, both capped by
    `dim_max`; when the cap leaves no room above, the check uses a smaller size.
    """
    names = list(dict.fromkeys(d for info in inputs for d in info.shape if isinstance(d, str)))
    at_export: dict[str, int] = {}
    at_check: dict[str, int] = {}
    for index, name in enumerate(names):
        cap = dim_max.get(name)
        if cap is not None and cap < 2:
            _fail(f"dim_max['{name}'] is {cap}; a dynamic dim needs room for at least 2")
        default_export = 16 + index if cap is None else min(16 + index, cap)
        first = (export_sizes or {}).get(name, default_export)
        second = (check_sizes or {}).get(name, _default_check_size(first, cap))
        for size in (first, second):
            if size < 1 or (cap is not None and size > cap):
                _fail(f"size {size} for dim '{name}' is outside [1, {cap}]")
        if first == second or first < 2:
            _fail(f"dim '{name}' needs an export size >= 2 and a different check size")
        at_export[name], at_check[name] = first, second
    return at_export, at_check


def _default_check_size(export_size: int, cap: int | None) -> int:
    """7 above the export size, or the cap, or one below when the export size is the cap."""
    if cap is None or export_size + 7 <= cap:
        return export_size + 7
    return cap if cap != export_size else export_size - 1


def example_tensors(
    inputs: Sequence[TensorInfo],
    batch: int,
    sizes: Mapping[str, int],
    int_high: Mapping[str, int] | None,
    generator: Any,
) -> tuple[Any, ...]:
    """Random tensors for `inputs` at `batch` and `sizes`, drawn as the data looks: floats
    N(0, 1) (moved to an input's center and scale when it gives them), 0/1 for an adjacency
    or binary features, padding masks as a run of ones then zeros (at least one 1 per row),
    ints in [0, high) (`int_high` by input name, else the input's `high`, else 2)."""
    import torch

    tensors = []
    for info in inputs:
        shape = (batch, *(sizes[d] if isinstance(d, str) else d for d in info.shape))
        dtype = getattr(torch, info.dtype)
        if info.role in ("adjacency", "binary"):
            rate = 0.3 if info.rate is None else info.rate
            tensors.append((torch.rand(shape, generator=generator) < rate).to(dtype))
        elif info.role == "mask":
            tensors.append(_padding_mask(shape, generator).to(dtype))
        elif dtype.is_floating_point:
            values = torch.randn(shape, generator=generator, dtype=dtype)
            if info.scale is not None:
                values = values * torch.as_tensor(info.scale, dtype=dtype)
            if info.center is not None:
                values = values + torch.as_tensor(info.center, dtype=dtype)
            tensors.append(values)
        else:
            high = (int_high or {}).get(info.name, info.high if info.high is not None else 2)
            high = sizes[high] if isinstance(high, str) else high
            tensors.append(torch.randint(0, high, shape, generator=generator, dtype=dtype))
    return tuple(tensors)


def _padding_mask(shape: tuple[int, ...], generator: Any) -> Any:
    """1 for the first `length` positions of the last axis, 0 after; lengths in [1, size]."""
    import torch

    size = shape[-1]
    lengths = torch.randint(1, size + 1, (*shape[:-1], 1), generator=generator)
    return torch.arange(size) < lengths


def validate_inputs(
    inputs: Sequence[TensorInfo], output_names: Sequence[str], export_batch: int, check_batch: int
) -> None:
    """Fail with DLS501 on names, dims, dtypes or batch sizes the export cannot use."""
    names = [info.name for info in inputs] + list(output_names)
    if len(set(names)) != len(names) or not inputs or not output_names:
        _fail(f"input and output names must be unique and non-empty, got {names}")
    for info in inputs:
        if info.dtype not in SUPPORTED_DTYPES:
            _fail(f"input '{info.name}' has dtype {info.dtype}; supported: {SUPPORTED_DTYPES}")
        for dim in info.shape:
            symbolic_ok = isinstance(dim, str) and dim.isidentifier() and dim != BATCH
            if not symbolic_ok and not (isinstance(dim, int) and dim >= 1):
                _fail(f"input '{info.name}' has an invalid dim {dim!r} in {info.shape}")
    if export_batch < 2 or check_batch < 1 or export_batch == check_batch:
        _fail(
            f"need export_batch >= 2 and a different check_batch, got {export_batch}, {check_batch}"
        )


def describe_sizes(batch: int, sizes: Mapping[str, int]) -> str:
    """'batch 3, seq 23' for messages."""
    return ", ".join([f"batch {batch}", *(f"{name} {size}" for name, size in sizes.items())])


def _fail(message: str) -> None:
    """Raise a DLS501 export error."""
    raise ExportError(Diagnostic("DLS501", message))
