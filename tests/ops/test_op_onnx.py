"""Every op exports to ONNX (dynamo, the exporter dlspec uses) and ONNX Runtime computes the
same numbers as torch at another batch size and other sizes of the symbolic dims, within
1e-5 * max(1, output scale) + rtol * |value| (no depth given: one layer). An op that cannot be exported says why in its row, and the harness
checks that its export really fails.

One case per op keeps this fast: the first case with a symbolic dim besides the batch (the
hard part of an export), else the first case. Recurrent ops export in this process like the
others (the exporter keeps their sequence length dynamic: see onnx_export).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from op_cases import TABLE, all_cases

from dlspec.errors import ExportError


def _export_case(name: str, index: int, directory: Path):
    from dlspec.backends.onnx_export import TensorInfo, export_onnx
    from dlspec.backends.torch_module import instantiate
    from dlspec.ops.registry import op_registry

    case = dict(((n, i), c) for n, i, c in all_cases())[(name, index)]
    op = op_registry()[name].model_validate(case.config)
    module = _fixed_arity(instantiate(op.build(*case.inputs)), len(case.inputs))
    inputs = []
    for i, t in enumerate(case.inputs):
        assert t.shape[0] == "N", "op cases put the batch first"
        inputs.append(TensorInfo(f"input{i}", tuple(t.shape[1:]), t.dtype))
    int_high = {info.name: case.int_high for info in inputs}
    return export_onnx(module, inputs, ["output"], directory / f"{name}.onnx",
                       int_high=int_high, dim_max=case.dim_max or None)


def _fixed_arity(layer, count: int):
    """The layer behind a forward with `count` named inputs (as a compiled spec calls it);
    the exporter cannot trace a variadic forward like `Add.forward(first, *rest)`."""
    from torch import fx, nn

    root, graph = nn.Module(), fx.Graph()
    root.add_module("layer", layer)
    args = tuple(graph.placeholder(f"input{i}") for i in range(count))
    graph.output(graph.call_module("layer", args))
    return fx.GraphModule(root, graph)


def _chosen_case(name: str) -> int:
    cases = [(i, c) for n, i, c in all_cases() if n == name]
    for index, case in cases:
        if any(isinstance(d, str) for t in case.inputs for d in t.shape[1:]):
            return index
    return cases[0][0]


ONNX_CASES = [pytest.param(name, _chosen_case(name), id=name) for name in sorted(TABLE)]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(("name", "index"), ONNX_CASES)
def test_op_exports_and_onnx_runtime_agrees(name, index, tmp_path):
    row = TABLE[name]
    if row.not_exportable:
        with pytest.raises(ExportError):
            _export_case(name, index, tmp_path)
        return
    report = _export_case(name, index, tmp_path)  # raises unless ORT agrees (atol 1e-5)
    assert report.input_dims["input0"][0] == "batch"

