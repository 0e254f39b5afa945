"""Reduced-precision exports (dlspec/deploy/reduce.py, precision.py, accuracy.py): fp16 and int8
files, their accuracy cost on the test split within export.max_metric_drop, and metadata."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from cli_run import run_cli
from deploy_runs import SPEC

from dlspec.backends.onnx_runtime import open_session, read_metadata
from dlspec.deploy import precision as precision_module
from dlspec.deploy.accuracy import metric_costs
from dlspec.deploy.reduce import calibration_feeds, reduce_model, sort_graph
from dlspec.errors import DlspecError, ExportError

RAW = np.random.default_rng(0).uniform(0, 16, size=(32, 64)).astype(np.float32)  # pixels


def _model(digits_run) -> onnx.ModelProto:
    return onnx.load(str(digits_run.fp32))


def _run(model: onnx.ModelProto, folder: Path, name: str) -> np.ndarray:
    path = folder / name
    onnx.save_model(model, path)
    return open_session(path).run(None, {"pixels": RAW})[0]


def _weight_bytes(model: onnx.ModelProto) -> int:
    """Bytes of the weight matrices (2-D initializers)."""
    return sum(onnx.numpy_helper.to_array(t).nbytes for t in model.graph.initializer
               if len(t.dims) == 2)


def _elem_types(values) -> list[int]:
    return [v.type.tensor_type.elem_type for v in values]


def test_fp16_halves_the_weights_and_keeps_float32_io(digits_run, tmp_path):
    model = _model(digits_run)
    half = reduce_model(model, "fp16")
    assert _elem_types(half.graph.input) == [onnx.TensorProto.FLOAT]
    assert _elem_types(half.graph.output) == [onnx.TensorProto.FLOAT]
    weights = [t for t in half.graph.initializer if len(t.dims) == 2]
    assert weights and {t.data_type for t in weights} == {onnx.TensorProto.FLOAT16}
    assert half.graph.node[0].op_type == "Cast"  # sorted: the input cast comes first
    assert _weight_bytes(half) * 2 == _weight_bytes(model)
    assert {p.key for p in half.metadata_props} >= {"spec_sha256", "class_names"}
    full, reduced = _run(model, tmp_path, "fp32.onnx"), _run(half, tmp_path, "fp16.onnx")
    assert 0 < np.abs(full - reduced).max() < 0.05 * np.abs(full).max()
    io16 = reduce_model(model, "fp16", float32_io=False)
    assert _elem_types(io16.graph.input) == [onnx.TensorProto.FLOAT16]


def test_int8_dynamic_quantizes_the_matrix_products(digits_run, tmp_path):
    model = _model(digits_run)
    int8 = reduce_model(model, "int8", quantization="dynamic")
    ops = {node.op_type for node in int8.graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops and "Gemm" not in ops
    assert any(t.data_type == onnx.TensorProto.INT8 for t in int8.graph.initializer)
    assert _weight_bytes(int8) * 4 == _weight_bytes(model)
    full, reduced = _run(model, tmp_path, "fp32.onnx"), _run(int8, tmp_path, "int8.onnx")
    assert (full.argmax(1) == reduced.argmax(1)).mean() >= 0.9


def test_int8_static_is_calibrated_on_the_samples_it_is_given(digits_run):
    model = _model(digits_run)
    int8 = reduce_model(model, "int8", quantization="static",
                        calibration=calibration_feeds({"pixels": RAW}, 64))
    nodes = list(int8.graph.node)
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in nodes}
    scaled = next(n.output[0] for n in nodes if n.op_type == "Div")  # the standardized input
    first = next(n for n in nodes if n.op_type == "QuantizeLinear" and n.input[0] == scaled)
    scale = next(t for t in int8.graph.initializer if t.name == first.input[1])
    # MinMax calibration: the range of exactly these samples, standardized, over 255 steps
    mean, std = _stats(digits_run)[0]
    z = (RAW - mean) / std
    expected = (max(z.max(), 0) - min(z.min(), 0)) / 255
    assert float(onnx.numpy_helper.to_array(scale)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ExportError, match="calibration samples") as caught:
        reduce_model(model, "int8", quantization="static", calibration=[])
    assert caught.value.codes == ["DLS510"]


def test_calibration_feeds_take_the_first_samples_in_batches():
    feeds = calibration_feeds({"x": np.arange(100).reshape(50, 2)}, 40, batch=16)
    assert [len(f["x"]) for f in feeds] == [16, 16, 8]
    assert feeds[2]["x"][-1].tolist() == [78, 79]


def test_sort_graph_puts_producers_first():
    from onnx import helper

    nodes = [helper.make_node("Relu", ["b"], ["y"]), helper.make_node("Neg", ["x"], ["b"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])])
    sort_graph(graph)
    assert [n.op_type for n in graph.node] == ["Neg", "Relu"]
    onnx.checker.check_model(helper.make_model(graph), full_check=True)


def _checked(digits_run, *overrides: str):
    from dlspec.train.run_folder.run_spec import load_run_spec

    return load_run_spec(digits_run.run, list(overrides))


def _stats(digits_run):
    from dlspec.api import load_data
    from dlspec.passes.check_objective import data_view

    data = load_data(data_view(_checked(digits_run)))
    return {0: (data.mean, data.std)}


@pytest.fixture(scope="module")
def test_accuracy(digits_run) -> float:
    from dlspec.api import evaluate_spec

    return evaluate_spec(digits_run.run).metrics["test_accuracy"]


@pytest.mark.parametrize("quantization", ["dynamic", "static"])
def test_int8_export_records_its_accuracy_cost(digits_run, test_accuracy, tmp_path,
                                               quantization):
    checked = _checked(digits_run, "export.precision=int8",
                       f"export.quantization={quantization}", "export.max_metric_drop=0.05")
    output = tmp_path / "int8.onnx"
    report = precision_module.export_reduced(checked, digits_run.fp32, output,
                                             _stats(digits_run))
    metadata = read_metadata(output)
    assert metadata["precision"] == "int8" and metadata["quantization"] == quantization
    cost = json.loads(metadata["accuracy_cost"])
    assert cost["split"] == "test" and cost["samples"] == 180
    accuracy = cost["metrics"]["accuracy"]
    # the fp32 file scores what PyTorch scores on the test split (dlspec evaluate)
    assert accuracy["fp32"] == pytest.approx(test_accuracy, abs=1e-6)
    assert accuracy["budget"] == 0.05 and cost["metrics"]["loss"]["budget"] is None
    assert accuracy["drop"] == pytest.approx(accuracy["fp32"] - accuracy["int8"], abs=2e-6)
    assert accuracy["drop"] <= 0.05
    sizes = json.loads(metadata["size_bytes"])
    assert sizes == {"fp32": digits_run.fp32.stat().st_size, "int8": output.stat().st_size}
    latency = json.loads(metadata["latency_ms"])
    assert set(latency) == {"fp32", "int8"} and set(latency["int8"]) == {"1", "64"}
    assert all(v > 0 for by in latency.values() for v in by.values())
    lines = "\n".join(report.lines())
    assert f"accuracy {accuracy['fp32']:.4f} (fp32) -> {accuracy['int8']:.4f} (int8)" in lines
    preds = open_session(output).run(None, {"pixels": RAW})[0]
    assert preds.shape == (32, 10)
    # served and benched as what it is: the precision it records, predict's predictions
    from dlspec.backends.onnx_runtime import predict_file
    from dlspec.deploy.bench import bench_file
    from dlspec.serve.model import ServedModel
    from dlspec.serve.schemas import PredictRequest

    assert bench_file(output, [2], min_seconds=0.0, min_calls=2).precision == "int8"
    served = ServedModel(output)
    assert served.describe()["precision"] == "int8"
    assert served.describe()["accuracy_cost"] == cost
    np.savetxt(tmp_path / "rows.csv", RAW[:5], delimiter=",")
    predict_file(output, tmp_path / "rows.csv", tmp_path / "out.csv")
    feeds = served.feeds(PredictRequest(rows=RAW[:5].tolist()))
    _, records = served.table(served.run(feeds.arrays))
    expected = (tmp_path / "out.csv").read_text().splitlines()
    assert [r["prediction"] for r in records] == [line.split(",")[0] for line in expected[1:]]
    assert np.allclose([[r[c] for c in list(records[0])[1:]] for r in records],
                       [[float(v) for v in line.split(",")[1:]] for line in expected[1:]])


def test_fp16_with_float16_io_runs_and_is_measured(digits_run, tmp_path):
    checked = _checked(digits_run, "export.precision=fp16", "export.float32_io=false")
    output = tmp_path / "fp16.onnx"
    report = precision_module.export_reduced(checked, digits_run.fp32, output,
                                             _stats(digits_run))
    assert _elem_types(onnx.load(str(output)).graph.input) == [onnx.TensorProto.FLOAT16]
    accuracy = {c.name: c for c in report.costs}["accuracy"]
    assert abs(accuracy.drop) <= 0.01 and report.latency["fp16"][64].p50_ms > 0
    (probabilities,) = open_session(output).run(None, {"pixels": RAW.astype(np.float16)})
    assert probabilities.dtype == np.float16


def test_an_empty_test_split_is_refused(digits_run, tmp_path):
    checked = _checked(digits_run, "export.precision=int8", "data.split=[0.8, 0.2, 0.0]")
    with pytest.raises(ExportError, match="test split, which is empty") as caught:
        precision_module.export_reduced(checked, digits_run.fp32, tmp_path / "x.onnx", {})
    assert caught.value.codes == ["DLS510"] and not any(tmp_path.iterdir())


def test_a_model_outside_the_budget_is_not_written(digits_run, tmp_path, monkeypatch):
    def broken(model, precision, **options):  # a "reduction" that ruins the last layer
        model = onnx.ModelProto.FromString(model.SerializeToString())
        last = [t for t in model.graph.initializer if len(t.dims) == 2][-1]
        last.CopyFrom(onnx.numpy_helper.from_array(
            np.zeros(tuple(last.dims), np.float32), last.name))
        return model

    monkeypatch.setattr(precision_module, "reduce_model", broken)
    output = tmp_path / "model.onnx"
    output.write_bytes(b"the file from before")
    checked = _checked(digits_run, "export.precision=fp16")
    with pytest.raises(ExportError) as caught:
        precision_module.export_reduced(checked, digits_run.fp32, output, _stats(digits_run))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "DLS511" and "nothing was written" in diagnostic.message
    # accuracy falls to one class's share: the message says how far below the budget
    fp32 = float(diagnostic.message.split("accuracy ")[1].split(" ")[0])
    reduced = float(diagnostic.message.split("-> ")[1].split(" ")[0])
    assert reduced < 0.2 and f"{fp32 - reduced - 0.01:.4f} over" in diagnostic.message
    assert output.read_bytes() == b"the file from before"
    assert list(tmp_path.iterdir()) == [output]


def test_a_model_ort_cannot_load_is_reported_not_written(digits_run, tmp_path, monkeypatch):
    import dlspec.backends.onnx_runtime as runtime

    real = runtime.open_session

    def no_fp16_kernels(path, **options):
        if Path(path).name == "fp16.onnx":
            raise ExportError(runtime.Diagnostic("DLS503", "no kernel for Conv(float16)"))
        return real(path, **options)

    monkeypatch.setattr(runtime, "open_session", no_fp16_kernels)
    output = tmp_path / "model.onnx"
    with pytest.raises(ExportError, match="cannot load the fp16 model: no kernel") as caught:
        precision_module.export_reduced(_checked(digits_run, "export.precision=fp16"),
                                        digits_run.fp32, output, _stats(digits_run))
    assert caught.value.codes == ["DLS510"] and "--precision int8" in str(caught.value)
    assert not output.exists()


def test_metric_costs_know_which_way_is_worse():
    fp32 = {"test_loss": 0.40, "test_accuracy": 0.98, "test_mae": 1.0}
    reduced = {"test_loss": 0.45, "test_accuracy": 0.95, "test_mae": 0.9}
    costs = {c.name: c for c in metric_costs(fp32, reduced, 0.01)}
    assert costs["accuracy"].drop == pytest.approx(0.03) and not costs["accuracy"].within
    assert costs["mae"].drop == pytest.approx(-0.1) and costs["mae"].within  # lower: better
    assert costs["loss"].drop == pytest.approx(0.05) and costs["loss"].budget is None
    named = {c.name: c for c in metric_costs(fp32, reduced, {"loss": 0.1})}
    assert named["loss"].within and named["accuracy"].budget is None
    only_loss = metric_costs({"test_loss": 1.0}, {"test_loss": 1.5}, 0.2)
    assert only_loss[0].budget == 0.2 and not only_loss[0].within
    nan = metric_costs({"test_accuracy": 0.9}, {"test_accuracy": float("nan")}, 0.5)
    assert not nan[0].within
    with pytest.raises(ExportError, match="did you mean 'accuracy'") as caught:
        metric_costs(fp32, reduced, {"acuracy": 0.01})
    assert caught.value.codes == ["DLS510"]


def test_an_untrained_model_is_refused_before_anything_runs(tmp_path):
    from dlspec.api import export_spec

    with pytest.raises(DlspecError, match="must be measured against the fp32") as caught:
        export_spec(SPEC, tmp_path / "x.onnx", untrained=True,
                    overrides=["export.precision=int8"])
    assert caught.value.codes == ["DLS510"]
    assert not any(tmp_path.iterdir())


def test_a_spec_without_a_test_split_is_refused_before_the_export(digits_run, tmp_path):
    from dlspec.api import export_spec

    with pytest.raises(DlspecError, match="gives the test split nothing") as caught:
        export_spec(digits_run.run, tmp_path / "x.onnx",
                    overrides=["export.precision=fp16", "data.split=[0.9, 0.1, 0.0]"])
    assert caught.value.codes == ["DLS510"] and not any(tmp_path.iterdir())


@pytest.mark.parametrize("setting", ["export.precision=fp8", "export.max_metric_drop=-1",
                                     "export.quantization=dynamic-ish"])
def test_precision_settings_are_validated(monkeypatch, capsys, setting):
    code, _, err = run_cli(monkeypatch, capsys, "validate", str(SPEC), "--set", setting)
    assert code == 1 and "DLS102" in err and setting.split("=")[0].split(".")[1] in err


def test_cli_exports_fp16_and_prints_the_cost(digits_run, tmp_path, monkeypatch, capsys):
    output = tmp_path / "fp16.onnx"
    code, out, err = run_cli(monkeypatch, capsys, "export", str(digits_run.run), "-o",
                             str(output), "--precision", "fp16")
    assert code == 0, err
    assert f"wrote {output} (opset 20, fp16)" in out
    assert "fp16 accuracy cost on the test split (180 samples):" in out
    assert "ONNX Runtime latency at batch 64" in out
    metadata = read_metadata(output)
    assert metadata["precision"] == "fp16" and "quantization" not in metadata
    assert read_metadata(digits_run.fp32)["precision"] == "fp32"


def test_cli_export_refuses_a_directory_and_quantization_without_int8(
        monkeypatch, capsys, digits_run, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, "export", str(digits_run.run), "-o",
                           str(tmp_path), "--precision", "fp16")
    assert code == 2 and "is a directory" in err and "Traceback" not in err
    code, _, err = run_cli(monkeypatch, capsys, "export", str(digits_run.run), "-o",
                           str(tmp_path / "x.onnx"), "--precision", "fp16",
                           "--quantization", "static")
    assert code == 2 and "applies to --precision int8, not fp16" in err
    assert not (tmp_path / "x.onnx").exists()


def test_cli_refuses_an_unknown_precision(monkeypatch, capsys, digits_run, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, "export", str(digits_run.run), "-o",
                           str(tmp_path / "x.onnx"), "--precision", "int4")
    assert code == 2 and "int4" in err
