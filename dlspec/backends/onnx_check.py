"""Checks on an exported ONNX graph: its declared dims, its metadata, and its numbers.

Helpers of `dlspec.backends.onnx_export`. They work on an in-memory `onnx.ModelProto` (before it
is written) or on a written file, and report problems as `ExportError` diagnostics:

- DLS501 when an input axis that was asked to be dynamic came back fixed or renamed (the
  exporter can do this silently, e.g. when a model only works at its example batch size);
- DLS502 when ONNX Runtime cannot run the file at a new batch/size, disagrees with PyTorch,
  or either gives NaN or infinite outputs (which cannot be compared).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dlspec.errors import Diagnostic, ExportError

Dims = tuple[int | str, ...]
UNKNOWN_DIM = "?"


def value_dims(value_info: Any) -> Dims:
    """The declared dims of a graph input/output: ints for fixed axes, names for dynamic ones."""
    dims: list[int | str] = []
    for dim in value_info.type.tensor_type.shape.dim:
        if dim.HasField("dim_param"):
            dims.append(dim.dim_param)
        elif dim.HasField("dim_value"):
            dims.append(int(dim.dim_value))
        else:
            dims.append(UNKNOWN_DIM)
    return tuple(dims)


def graph_dims(values: Sequence[Any]) -> dict[str, Dims]:
    """Name -> declared dims for graph inputs or outputs."""
    return {value.name: value_dims(value) for value in values}


def check_input_dims(proto: Any, wanted: Mapping[str, Dims]) -> None:
    """Fail with DLS501 unless every graph input has exactly the dims that were asked for."""
    declared = graph_dims(proto.graph.input)
    problems = []
    for name, want in wanted.items():
        got = declared.get(name)
        if got is None:
            problems.append(f"input '{name}' is missing from the graph")
        elif got != want:
            problems.append(f"input '{name}' was exported as {list(got)}, expected {list(want)}")
    if problems:
        raise ExportError(
            Diagnostic(
                "DLS501",
                "the exported graph does not keep the requested input dims: " + "; ".join(problems),
                hint="a dynamic dim became fixed: the model probably depends on its example size "
                "(a shape test, a fixed-size buffer, a reshape to a constant); make it work for "
                "any batch/length or declare that dim as a fixed size",
            )
        )


def free_output_names(model: Any) -> None:
    """Rename inner values that carry a graph output's name (an ONNX IR model, in place).

    The exporter names inner values after their op ('linear') and then gives the outputs the
    requested names, so a final layer named 'linear' after another linear layer would leave
    two values called 'linear' (an invalid, non-SSA graph). Values are renamed as objects, so
    every use, in subgraphs too, follows.
    """
    import onnx_ir as ir

    graph = model.graph
    outputs = {id(value) for value in graph.outputs}
    wanted = {value.name for value in graph.outputs}
    inner = [value for node in ir.traversal.RecursiveGraphIterator(graph)
             for value in node.outputs]
    taken = {value.name for value in [*graph.inputs, *graph.initializers.values(), *inner]}
    for value in inner:
        if value.name in wanted and id(value) not in outputs:
            number = 1
            while f"{value.name}_{number}" in taken:
                number += 1
            value.name = f"{value.name}_{number}"
            taken.add(value.name)


def check_output_names(proto: Any, output_names: Sequence[str]) -> None:
    """Fail with DLS501 unless the graph outputs carry the requested names, in order."""
    got = [value.name for value in proto.graph.output]
    if got != list(output_names):
        raise ExportError(
            Diagnostic(
                "DLS501", f"the exported graph has outputs {got}, expected {list(output_names)}"
            )
        )


def name_dynamic_output_dims(
    proto: Any,
    export_shapes: Sequence[tuple[int, ...]],
    check_shapes: Sequence[tuple[int, ...]],
    sizes: Mapping[str, tuple[int, int]],
) -> dict[str, list[int]]:
    """Give a named `dim_param` to output axes the exporter fixed although they vary.

    An axis varies when PyTorch's output has a different size at the export and the check
    inputs (e.g. an LSTM's sequence axis, which the exporter declares as fixed). `sizes` maps
    each dim name to its (export, check) sizes; the axis gets the name of the dim it follows
    (e.g. "batch" or "seq"), or "<output>_dim<axis>" when no single dim explains it. Returns output name -> renamed axes.
    """
    size_names = unambiguous_size_names(sizes)
    renamed: dict[str, list[int]] = {}
    for value, before, after in zip(proto.graph.output, export_shapes, check_shapes, strict=True):
        dims = value.type.tensor_type.shape.dim
        if len(dims) != len(before) or len(before) != len(after):
            continue
        for axis, (dim, size_before, size_after) in enumerate(
            zip(dims, before, after, strict=True)
        ):
            if size_before == size_after or dim.HasField("dim_param"):
                continue
            dim.dim_param = size_names.get((size_before, size_after), f"{value.name}_dim{axis}")
            renamed.setdefault(value.name, []).append(axis)
    return renamed


def unambiguous_size_names(pairs: Mapping[str, tuple[int, int]]) -> dict[tuple[int, int], str]:
    """(export size, check size) -> dim name, leaving out pairs shared by several dims."""
    owners: dict[tuple[int, int], list[str]] = {}
    for name, pair in pairs.items():
        owners.setdefault(pair, []).append(name)
    return {pair: names[0] for pair, names in owners.items() if len(names) == 1}


def set_metadata(proto: Any, metadata: Mapping[str, str]) -> None:
    """Add or overwrite string key/value pairs in the model's `metadata_props`."""
    existing = {prop.key: prop for prop in proto.metadata_props}
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ExportError(
                Diagnostic(
                    "DLS501",
                    f"metadata must map strings to strings, got {key!r}: {value!r}",
                    hint="encode lists and numbers as JSON text",
                )
            )
        if key in existing:
            existing[key].value = value
        else:
            proto.metadata_props.add(key=key, value=value)


def save_and_check(proto: Any, tmp: str) -> None:
    """Write `proto` with embedded weights and run the full ONNX checker on the file."""
    import onnx

    try:
        onnx.save_model(proto, tmp)
        onnx.checker.check_model(tmp, full_check=True)
    except Exception as exc:
        raise ExportError(
            Diagnostic(
                "DLS501",
                f"the exported file is not a valid ONNX model: {first_line(exc)}",
                hint="models over 2 GB cannot embed their weights in one file",
            )
        ) from exc


def max_abs_diff(expected: np.ndarray, actual: np.ndarray) -> float:
    """Largest |expected - actual|; equal infinities and NaN against NaN count as equal."""
    if expected.shape != actual.shape:
        return math.inf
    if expected.size == 0:
        return 0.0
    want = expected.astype(np.float64)
    got = actual.astype(np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.abs(want - got)
    same = (want == got) | (np.isnan(want) & np.isnan(got))
    diff[same] = 0.0
    diff[np.isnan(diff)] = math.inf
    return float(diff.max())


def run_session(session: Any, feeds: Mapping[str, np.ndarray], where: str) -> list[np.ndarray]:
    """Run ONNX Runtime once; a failure is DLS502 (PyTorch ran on the same inputs)."""
    try:
        return list(session.run(None, dict(feeds)))
    except Exception as exc:
        raise ExportError(
            Diagnostic(
                "DLS502",
                f"ONNX Runtime could not run the exported model at {where}: {first_line(exc)}",
                hint="the graph probably kept a size from the export example; PyTorch ran "
                "fine on the same inputs",
            )
        ) from exc


# torch.testing's default relative tolerance for float32: one part in ~770,000, about 11 ulps.
FLOAT32_RTOL = 1.3e-6


def within_tolerance(expected: np.ndarray, actual: np.ndarray, atol: float,
                     rtol: float) -> bool:
    """Every element within atol + rtol * |expected| (the rule of torch.testing and numpy's
    allclose): an absolute bound near zero, a relative one for large values, where float32
    cannot resolve an absolute 1e-5 (one ulp at 150 is 1.5e-5)."""
    want = expected.astype(np.float64)
    got = actual.astype(np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.abs(want - got) <= atol + rtol * np.abs(want)
    ok |= (want == got) | (np.isnan(want) & np.isnan(got))
    return bool(ok.all())


def compare_outputs(
    names: Sequence[str],
    expected: Sequence[np.ndarray],
    actual: Sequence[np.ndarray],
    tolerance: float | Mapping[str, float],
    where: str,
    rtol: float = FLOAT32_RTOL,
) -> dict[str, float]:
    """Output name -> max abs diff; DLS502 naming every output that is not within
    its absolute tolerance (one for all, or one per output name) + `rtol` * |PyTorch's value|
    everywhere."""
    refuse_non_finite(names, expected, actual, where)
    atols = tolerance if isinstance(tolerance, Mapping) else dict.fromkeys(names, tolerance)
    diffs = {
        name: max_abs_diff(want, got)
        for name, want, got in zip(names, expected, actual, strict=True)
    }
    bad = []
    for name, want, got in zip(names, expected, actual, strict=True):
        if want.shape != got.shape:
            bad.append(f"'{name}' has shape {list(got.shape)}, PyTorch gives {list(want.shape)}")
        elif not within_tolerance(want, got, atols[name], rtol):
            scale = float(np.abs(want).max()) if want.size else 0.0
            bad.append(f"'{name}' differs by up to {diffs[name]:.3g} (values up to {scale:.3g};"
                       f" tolerance {atols[name]:.3g} + {rtol:g} x |value|)")
    if bad:
        raise ExportError(
            Diagnostic(
                "DLS502",
                f"ONNX Runtime disagrees with PyTorch at {where}: " + "; ".join(bad),
                hint="randomness in forward (dropout forced on, sampling) or ops the exporter "
                "translates inexactly; make forward deterministic in eval mode. The tolerance "
                "grows with the model's depth and output scale (docs/spec.md, Export)",
            )
        )
    return diffs


def refuse_non_finite(names: Sequence[str], expected: Sequence[np.ndarray],
                      actual: Sequence[np.ndarray], where: str) -> None:
    """DLS502 naming every output that holds NaN or an infinity in PyTorch's or ONNX
    Runtime's values: two NaN agree with each other and prove nothing (a standard deviation
    of 0 in the preprocessing would export with a difference of 0)."""
    bad = []
    for name, want, got in zip(names, expected, actual, strict=True):
        counts = [f"{count} of {values.size} in {side}" for side, values in
                  (("PyTorch", want), ("ONNX Runtime", got))
                  if (count := _non_finite(values))]
        if counts:
            bad.append(f"'{name}' has NaN or infinite values ({', '.join(counts)})")
    if bad:
        raise ExportError(
            Diagnostic(
                "DLS502",
                f"the outputs at {where} are not finite, so they cannot be checked: "
                + "; ".join(bad),
                hint="a division by zero or an overflow in the weights or the preprocessing "
                "(a feature's standard deviation of 0, weights that diverged in training); "
                "`dlspec evaluate` the weights, retrain with a lower learning rate or "
                "`--detect-anomaly`",
            )
        )


def _non_finite(values: np.ndarray) -> int:
    """How many values are NaN or infinite (0 for integer and boolean outputs)."""
    if not np.issubdtype(values.dtype, np.inexact):
        return 0
    return int(values.size - np.count_nonzero(np.isfinite(values)))


def first_line(exc: BaseException, limit: int = 400) -> str:
    """The first non-empty line of an exception's message, cut to `limit` characters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
