"""Export a PyTorch module to ONNX and prove that ONNX Runtime computes the same thing.

`export_onnx` runs torch's dynamo exporter (opset 20, weights embedded in the file), checks the
file with `onnx.checker` (full check), reads the graph's input dims back to make sure every
dynamic axis stayed dynamic under the requested name, then runs ONNX Runtime on NEW random
inputs (drawn as the data looks: `onnx_data_like`) at another batch size and other symbolic sizes
and compares every output with PyTorch within a tolerance that follows the model's depth and
output scale (`onnx_tolerance`).
Only a file that passed all of this replaces `path`; a failed export leaves an existing file
untouched and no temporary file behind.

Shapes are per sample: `TensorInfo(name, shape)` never lists the batch axis, which is always
dynamic and named "batch". String entries of `shape` are named symbolic dims ("seq"), shared by
every input that uses the same name.

The export runs in the current process. LSTM/GRU layers keep a dynamic sequence length because
torch's while_loop decompositions of them are held for the whole export (`_recurrent_while_loops`);
without that, torch recorded every recurrent output at the example's length, which broke two
recurrent layers in a row and made repeated recurrent exports in one process unreliable. The
input-dim read-back still catches any input that came back fixed (DLS501).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dlspec.backends import onnx_check as check
from dlspec.backends.onnx_data_like import describe_draw
from dlspec.backends.onnx_inputs import (
    BATCH,
    describe_sizes,
    example_tensors,
    plan_sizes,
    validate_inputs,
)
from dlspec.backends.onnx_tolerance import absolute_tolerances
from dlspec.errors import Diagnostic, ExportError
from dlspec.files import atomic_path


@dataclass(frozen=True)
class TensorInfo:
    """One model input: its name, per-sample shape (ints and symbolic names) and dtype."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"
    # Where real values lie (per-sample shaped, or scalars): check inputs are drawn as
    # center + scale * N(0, 1), e.g. a model that standardizes raw features is checked on
    # raw-looking features rather than at 20 standard deviations out.
    center: Any = None
    scale: Any = None
    # What the values mean (see dlspec.ops.base.InputRole): "ids" and "edge_index" are ints
    # in [0, high) (high: an int or a symbolic dim's name), "mask" a 0/1 padding mask, and
    # "adjacency" or "binary" 0/1 floats, 1 with probability `rate`.
    role: str | None = None
    high: int | str | None = None
    rate: float | None = None


@dataclass(frozen=True)
class ExportReport:
    """What was written and how closely ONNX Runtime matched PyTorch."""

    path: str
    opset: int
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    input_dims: dict[str, check.Dims]
    output_dims: dict[str, check.Dims]
    max_abs_diff: dict[str, float]
    # the absolute part of each output's bound (onnx_tolerance: base x depth x output scale)
    tolerances: dict[str, float]
    # how the check drew each input ("ids in [0, 100)", "0/1 adjacency", "N(0, 1)", ...)
    input_draws: dict[str, str]
    file_size: int
    check_batch: int
    check_sizes: dict[str, int]
    export_sizes: dict[str, int]
    export_seconds: float
    # a reduced-precision export: its accuracy cost, size and latency (dlspec/deploy)
    precision: Any = None


def export_onnx(
    module: Any,
    inputs: list[TensorInfo],
    output_names: list[str],
    path: str | os.PathLike[str],
    *,
    opset: int = 20,
    metadata: dict[str, str] | None = None,
    tolerance: float = 1e-5,
    rtol: float = check.FLOAT32_RTOL,
    export_batch: int = 2,
    check_batch: int = 3,
    check_sizes: dict[str, int] | None = None,
    dim_max: dict[str, int] | None = None,
    seed: int = 0,
    int_high: dict[str, int] | None = None,
    export_sizes: dict[str, int] | None = None,
    depths: Mapping[str, int] | None = None,
) -> ExportReport:
    """Export `module` (called as `module(*tensors)` in input order) to a verified ONNX file.

    `int_high` bounds random integer inputs per input name (values in [0, high), default 2;
    pass an embedding's vocabulary size). `dim_max` bounds symbolic dims (e.g. a learned
    position table's length). `depths` (output name -> layers with weights on its longest
    path) widens each output's absolute tolerance as `onnx_tolerance` says, as does the
    output's scale. Raises `ExportError` with DLS501 (export or graph check failed)
    or DLS502 (ONNX Runtime disagrees with PyTorch).
    """
    import torch

    validate_inputs(inputs, output_names, export_batch, check_batch)
    inputs = [replace(info, high=(int_high or {})[info.name])
              if info.name in (int_high or {}) else info for info in inputs]
    dim_max = dict(dim_max or {})
    sizes_at_export, sizes_at_check = plan_sizes(inputs, dim_max, export_sizes, check_sizes)
    target = Path(path)
    was_training = module.training
    module.eval()
    try:
        generator = torch.Generator().manual_seed(seed)
        export_args = example_tensors(inputs, export_batch, sizes_at_export, int_high, generator)
        check_args = example_tensors(inputs, check_batch, sizes_at_check, int_high, generator)
        export_out = _run_torch(module, export_args, output_names)
        check_out = _run_torch(module, check_args, output_names)
        proto, seconds = _export_graph(module, export_args, inputs, output_names, opset, dim_max)
        sizes = {BATCH: (export_batch, check_batch)}
        sizes.update({n: (sizes_at_export[n], sizes_at_check[n]) for n in sizes_at_export})
        shapes_at_export = [tuple(t.shape) for t in export_out]
        check.name_dynamic_output_dims(
            proto, shapes_at_export, [tuple(t.shape) for t in check_out], sizes
        )
        check.set_metadata(proto, metadata or {})
        feeds = {info.name: t.numpy() for info, t in zip(inputs, check_args, strict=True)}
        expected = [t.detach().cpu().numpy() for t in check_out]
        where = describe_sizes(check_batch, sizes_at_check)
        atols = absolute_tolerances(list(output_names), expected, tolerance, depths)
        diffs = _write_verified(proto, target, feeds, output_names, expected,
                                (atols, rtol), where)
    finally:
        module.train(was_training)
    return ExportReport(
        path=str(target),
        opset=opset,
        input_names=tuple(info.name for info in inputs),
        output_names=tuple(output_names),
        input_dims=check.graph_dims(proto.graph.input),
        output_dims=check.graph_dims(proto.graph.output),
        max_abs_diff=diffs,
        tolerances=atols,
        input_draws={info.name: describe_draw(info) for info in inputs},
        file_size=target.stat().st_size,
        check_batch=check_batch,
        check_sizes=sizes_at_check,
        export_sizes=sizes_at_export,
        export_seconds=seconds,
    )


def _export_graph(
    module: Any,
    args: tuple[Any, ...],
    inputs: Sequence[TensorInfo],
    output_names: Sequence[str],
    opset: int,
    dim_max: Mapping[str, int],
) -> tuple[Any, float]:
    """The exported ModelProto, checked for its input dims and output names, and the seconds
    the exporter took."""
    started = time.perf_counter()
    program = _run_exporter(module, args, inputs, output_names, opset, dim_max)
    seconds = time.perf_counter() - started
    check.free_output_names(program.model)
    proto = program.model_proto
    check.check_input_dims(proto, {info.name: (BATCH, *info.shape) for info in inputs})
    check.check_output_names(proto, output_names)
    return proto, seconds


def _write_verified(
    proto: Any,
    target: Path,
    feeds: Mapping[str, Any],
    output_names: Sequence[str],
    expected: Sequence[Any],
    tolerance: tuple[Mapping[str, float], float],
    where: str,
) -> dict[str, float]:
    """Write beside `target`, check the file, compare with ONNX Runtime, then move it in place.

    Any failure removes the temp file and leaves an existing `target` untouched.
    """
    with atomic_path(target) as tmp:
        check.save_and_check(proto, str(tmp))
        diffs = _compare_with_runtime(str(tmp), feeds, output_names, expected, tolerance, where)
    return diffs


def _run_torch(module: Any, args: tuple[Any, ...], output_names: Sequence[str]) -> tuple[Any, ...]:
    """The module's outputs as a tuple, checked against the number of output names."""
    import torch

    shapes = [list(arg.shape) for arg in args]
    try:
        with torch.no_grad():
            outputs = module(*args)
    except Exception as exc:
        raise ExportError(
            Diagnostic(
                "DLS501",
                f"the module fails on example inputs of shapes {shapes}: {check.first_line(exc)}",
                hint="the declared input shapes or dtypes do not match what the module expects; "
                "a dim bounded by a table (e.g. learned positions) needs dim_max",
            )
        ) from exc
    outputs = outputs if isinstance(outputs, tuple | list) else (outputs,)
    if len(outputs) != len(output_names):
        _fail(f"the module returns {len(outputs)} outputs but {len(output_names)} names were given")
    return tuple(outputs)


def _run_exporter(
    module: Any,
    args: tuple[Any, ...],
    inputs: Sequence[TensorInfo],
    output_names: Sequence[str],
    opset: int,
    dim_max: Mapping[str, int],
) -> Any:
    """`torch.onnx.export` with dynamo, embedded weights and named dynamic dims, kept quiet."""
    import torch
    from torch.export import Dim

    names = {d for info in inputs for d in info.shape if isinstance(d, str)} | {BATCH}
    dims = {name: Dim(name, max=dim_max.get(name)) for name in sorted(names)}
    dynamic_shapes = tuple(
        {axis: dims[d] for axis, d in enumerate((BATCH, *info.shape)) if isinstance(d, str)}
        for info in inputs
    )
    try:
        # without gradients: a learned attention bias (T5's relative position table) that
        # requires grad makes the trace pick another attention kernel than it replays
        with _quiet_exporter(), _recurrent_while_loops(), torch.no_grad():
            return torch.onnx.export(
                module,
                args,
                dynamo=True,
                external_data=False,
                opset_version=opset,
                input_names=[info.name for info in inputs],
                output_names=list(output_names),
                dynamic_shapes=dynamic_shapes,
                verbose=False,
            )
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(
            Diagnostic(
                "DLS501",
                f"torch.onnx.export failed: {check.first_line(exc)}",
                hint="the model uses an op or a shape computation the exporter cannot trace",
            )
        ) from exc


@contextlib.contextmanager
def _recurrent_while_loops() -> Iterator[None]:
    """Keep LSTM/GRU sequence lengths symbolic for the whole export, not only its capture.

    torch's exporter traces aten.lstm/aten.gru with a while_loop decomposition (dynamic
    length) while capturing, but then re-traces the program (`run_decompositions`) without
    it: the default decomposition unrolls the recurrence, so every recurrent output is
    recorded with the example's length (seq 16). One RNN only gets a wrong declared output
    shape; a second RNN reading it gets that length folded into a constant Reshape, and ONNX
    Runtime fails at any other length. Holding the same decompositions around the whole
    export keeps the length symbolic everywhere. A torch without them exports as before.
    """
    try:
        from torch.export._patches import (
            register_gru_while_loop_decomposition,
            register_lstm_while_loop_decomposition,
        )
    except ImportError:  # an older torch: nothing to hold
        yield
        return
    with register_lstm_while_loop_decomposition(), register_gru_while_loop_decomposition():
        yield


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Swallow the exporter's stdout progress lines, warnings and logger warnings."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _compare_with_runtime(
    tmp: str,
    feeds: Mapping[str, Any],
    output_names: Sequence[str],
    expected: Sequence[Any],
    tolerance: tuple[Mapping[str, float], float],
    where: str,
) -> dict[str, float]:
    """Run ONNX Runtime on the written file and compare with PyTorch's outputs within
    (absolute per output, relative) `tolerance`."""
    from dlspec.backends.onnx_runtime import open_session

    session = open_session(tmp)
    actual = check.run_session(session, feeds, where)
    atol, rtol = tolerance
    return check.compare_outputs(output_names, expected, actual, atol, where, rtol)


def _fail(message: str) -> None:
    """Raise a DLS501 export error."""
    raise ExportError(Diagnostic("DLS501", message))
