"""`dlspec bench` (dlspec/deploy/bench.py, latency.py): latency percentiles and throughput of an
exported file per batch size, beside eager PyTorch for the run it came from."""

from __future__ import annotations

import json
import time

import onnx
import pytest
from cli_run import run_cli

from dlspec.backends.onnx_check import set_metadata
from dlspec.deploy.bench import bench_file, parse_batches
from dlspec.deploy.latency import tile_rows, time_calls
from dlspec.errors import ExportError

QUICK = {"min_seconds": 0.0, "min_calls": 5}


def test_parse_batches():
    assert parse_batches("1, 64,8") == [1, 64, 8]
    for bad in ("0", "1,x", "", "-2", "1.5"):
        with pytest.raises(ValueError, match="not a batch size"):
            parse_batches(bad)


def test_time_calls_measures_what_the_call_takes():
    result = time_calls(lambda: time.sleep(0.004), 8, warmup=1, min_calls=10,
                        min_seconds=0.0)
    assert result.calls == 10
    assert 4.0 <= result.p50_ms <= result.p90_ms <= result.p99_ms < 200
    assert result.throughput == pytest.approx(8 / (result.mean_ms / 1000))
    capped = time_calls(lambda: time.sleep(0.02), 1, warmup=0, min_calls=1000,
                        min_seconds=0.0, max_seconds=0.1)
    assert 1 <= capped.calls <= 6  # stops once max_seconds have passed


def test_tile_rows_repeats_to_the_batch():
    import numpy as np

    rows = np.arange(6).reshape(3, 2)
    assert tile_rows(rows, 7)[:, 0].tolist() == [0, 2, 4, 0, 2, 4, 0]
    assert tile_rows(rows, 2).tolist() == [[0, 1], [2, 3]]


def test_bench_times_the_file_at_each_batch(digits_run):
    report = bench_file(digits_run.fp32, [1, 16], **QUICK)
    assert report.precision == "fp32" and report.inputs == "random, as declared"
    assert list(report.results) == ["onnxruntime"]
    for batch, result in report.results["onnxruntime"].items():
        assert result.batch == batch and result.calls >= 5
        assert 0 < result.p50_ms <= result.p90_ms <= result.p99_ms
    data = report.to_json()
    assert set(data["results"]["onnxruntime"]) == {"1", "16"}


def test_bench_with_the_run_times_pytorch_beside(digits_run):
    report = bench_file(digits_run.fp32, [4], run=digits_run.run, threads=1, **QUICK)
    assert list(report.results) == ["onnxruntime", "pytorch"]
    assert report.inputs == f"test split of {digits_run.run}"
    assert report.results["pytorch"][4].calls >= 5 and report.threads == 1


def test_bench_refuses_a_run_of_another_spec(digits_run, tmp_path):
    model = onnx.load(str(digits_run.fp32))
    set_metadata(model, {"spec_sha256": "0" * 64, "spec_name": "other"})
    other = tmp_path / "other.onnx"
    onnx.save_model(model, other)
    with pytest.raises(ExportError, match="exported from other") as caught:
        bench_file(other, [1], run=digits_run.run, **QUICK)
    assert caught.value.codes == ["DLS512"]


def test_bench_refuses_a_file_that_is_not_a_model(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ExportError) as caught:
        bench_file(bad, [1], **QUICK)
    assert caught.value.codes == ["DLS503"]


def test_bench_reports_a_model_that_fails_on_its_inputs(tmp_path):
    from onnx import TensorProto, helper

    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [2, 3])
    graph = helper.make_graph(  # works at batch 2 only
        [helper.make_node("Reshape", ["x", "shape"], ["y"])], "fixed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [shape])
    path = tmp_path / "fixed.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]),
                    path)
    assert bench_file(path, [2], **QUICK).results["onnxruntime"][2].calls >= 5
    with pytest.raises(ExportError, match=r"onnxruntime fails on inputs of per-sample shapes "
                                          r"\{'x': \[3\]\}") as caught:
        bench_file(path, [1], **QUICK)
    assert caught.value.codes == ["DLS512"]


def test_cli_bench_prints_json_and_a_table(digits_run, monkeypatch, capsys):
    code, out, err = run_cli(monkeypatch, capsys, "bench", str(digits_run.fp32),
                             "--batch", "2,3", "--seconds", "0", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["precision"] == "fp32" and set(data["results"]["onnxruntime"]) == {"2", "3"}
    assert data["results"]["onnxruntime"]["3"]["batch"] == 3
    code, out, err = run_cli(monkeypatch, capsys, "bench", str(digits_run.fp32),
                             "--batch", "1", "--seconds", "0")
    assert code == 0 and "p99 ms" in out and "onnxruntime" in out


def test_cli_bench_refuses_a_bad_batch(digits_run, monkeypatch, capsys):
    code, _, err = run_cli(monkeypatch, capsys, "bench", str(digits_run.fp32), "--batch",
                           "1,0")
    assert code == 2 and "'0' is not a batch size" in err


def test_cli_bench_refuses_a_batch_too_large_before_allocating_it(digits_run, monkeypatch,
                                                                   capsys):
    code, _, err = run_cli(monkeypatch, capsys, "bench", str(digits_run.fp32), "--batch",
                           "1,100000000", "--seconds", "0")
    assert code == 1 and "Traceback" not in err
    assert "DLS512: a batch of 100,000,000 samples of 256 bytes needs 23.8 GiB" in err
    assert "give a smaller --batch or --seq" in err


def test_bench_times_for_as_long_as_asked(digits_run, monkeypatch):
    import dlspec.deploy.bench as bench_module

    asked = []
    real = bench_module.session_latency
    monkeypatch.setattr(bench_module, "session_latency",
                        lambda *a, **timing: asked.append(timing) or real(*a, **QUICK))
    bench_file(digits_run.fp32, [1], min_seconds=30.0)
    assert asked == [{"min_seconds": 30.0, "min_calls": 50, "max_seconds": 30.0}]
