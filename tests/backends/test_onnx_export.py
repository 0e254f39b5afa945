"""ONNX export: real small models exported with dynamo, re-run in ONNX Runtime at new sizes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlspec.backends.onnx_check import max_abs_diff, value_dims
from dlspec.backends.onnx_export import TensorInfo, export_onnx
from dlspec.backends.onnx_inputs import plan_sizes
from dlspec.backends.onnx_runtime import open_session, read_metadata
from dlspec.errors import ExportError

METADATA = {"task": "classification", "class_names": '["a", "b"]', "dlspec_version": "0.1.0"}


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class SmallCNN(nn.Module):
    """conv + batchnorm + residual add + pool + global average pool + linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.norm = nn.BatchNorm2d(8)
        self.block = nn.Conv2d(8, 8, 3, padding=1)
        self.head = nn.Linear(8, 10)
        with torch.no_grad():
            self.norm.running_mean.uniform_(-0.5, 0.5)
            self.norm.running_var.uniform_(0.5, 2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm(self.stem(x)))
        h = F.max_pool2d(h + F.relu(self.block(h)), 2)
        return self.head(h.mean(dim=(2, 3)))


class TokenModel(nn.Module):
    """Embedding + learned positions sliced to the sequence length + layernorm + linear."""

    def __init__(self, vocab: int = 20, max_len: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.positions = nn.Parameter(torch.randn(max_len, 16))
        self.norm = nn.LayerNorm(16)
        self.head = nn.Linear(16, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embed(ids) + self.positions[: ids.shape[1]]
        return self.head(self.norm(h))


class TwoInTwoOut(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj_a = nn.Linear(16, 8)
        self.proj_b = nn.Linear(4, 8)
        self.step = nn.Linear(4, 3)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        summary = self.proj_a(a) + self.proj_b(b).mean(dim=1)
        return summary, torch.tanh(self.step(b))


class RecurrentModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(4, 8, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


class ForcedDropout(nn.Module):
    """Dropout that stays on in eval mode: ONNX Runtime cannot reproduce torch's random mask."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, p=0.5, training=True)


class BatchSizeTest(nn.Module):
    """Branches on the batch size, so the exporter silently fixes the batch dim."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if x.shape[0] == 2 else x


CASES = {
    "mlp": (MLP, [TensorInfo("x", (64,))], ["logits"], {}),
    "cnn": (SmallCNN, [TensorInfo("image", (1, 8, 8))], ["logits"], {}),
    "tokens": (
        TokenModel,
        [TensorInfo("ids", ("seq",), "int64")],
        ["logits"],
        {"int_high": {"ids": 20}, "dim_max": {"seq": 32}},
    ),
    "two_io": (
        TwoInTwoOut,
        [TensorInfo("a", (16,)), TensorInfo("b", ("seq", 4))],
        ["summary", "per_step"],
        {},
    ),
}
EXPECTED_INPUT_DIMS = {
    "mlp": {"x": ("batch", 64)},
    "cnn": {"image": ("batch", 1, 8, 8)},
    "tokens": {"ids": ("batch", "seq")},
    "two_io": {"a": ("batch", 16), "b": ("batch", "seq", 4)},
}


@pytest.fixture(scope="module", params=sorted(CASES))
def exported(request, tmp_path_factory):
    """One export per model, shared by the assertions below."""
    torch.manual_seed(0)
    make, inputs, outputs, options = CASES[request.param]
    module = make().train()
    folder = tmp_path_factory.mktemp(request.param)
    report = export_onnx(
        module, inputs, outputs, folder / "model.onnx", metadata=METADATA, **options
    )
    assert module.training, "export must restore the module's mode"
    return request.param, module.eval(), inputs, report


def _inputs_at(inputs: list[TensorInfo], batch: int, seq: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(123)
    tensors = []
    for info in inputs:
        shape = (batch, *(seq if isinstance(d, str) else d for d in info.shape))
        if info.dtype == "int64":
            tensors.append(torch.randint(0, 20, shape, generator=generator))
        else:
            tensors.append(torch.randn(shape, generator=generator))
    return tensors


def test_runtime_matches_torch_at_a_new_batch_and_length(exported):
    name, module, inputs, report = exported
    assert all(diff <= 1e-5 for diff in report.max_abs_diff.values()), report.max_abs_diff
    tensors = _inputs_at(inputs, batch=5, seq=9)
    with torch.no_grad():
        expected = module(*tensors)
    expected = expected if isinstance(expected, tuple) else (expected,)
    session = open_session(report.path)
    actual = session.run(None, {i.name: t.numpy() for i, t in zip(inputs, tensors, strict=True)})
    for want, got in zip(expected, actual, strict=True):
        assert max_abs_diff(want.numpy(), got) <= 1e-5


def test_dynamic_dims_are_named_in_the_file(exported):
    name, _, _, report = exported
    model = onnx.load(report.path)
    assert {v.name: value_dims(v) for v in model.graph.input} == EXPECTED_INPUT_DIMS[name]
    assert report.input_dims == EXPECTED_INPUT_DIMS[name]
    for dims in report.output_dims.values():
        assert dims[0] == "batch"
    if name == "tokens":
        assert report.output_dims["logits"] == ("batch", "seq", 20)
        assert report.check_sizes["seq"] != report.export_sizes["seq"] <= 32
    assert report.check_batch == 3


def test_metadata_round_trip_and_clean_folder(exported):
    _, _, _, report = exported
    assert read_metadata(report.path) == METADATA
    meta = open_session(report.path).get_modelmeta().custom_metadata_map
    assert meta == METADATA
    assert [p.name for p in Path(report.path).parent.iterdir()] == ["model.onnx"]
    assert report.file_size == Path(report.path).stat().st_size


def test_recurrent_output_keeps_a_dynamic_sequence_axis(tmp_path):
    torch.manual_seed(0)
    report = export_onnx(
        RecurrentModel(), [TensorInfo("x", ("seq", 4))], ["h"], tmp_path / "r.onnx"
    )
    assert report.output_dims == {"h": ("batch", "seq", 8)}
    assert report.max_abs_diff["h"] <= 1e-5


@pytest.mark.parametrize(
    ("module", "code"), [(ForcedDropout(), "DLS502"), (BatchSizeTest(), "DLS501")]
)
def test_failed_export_keeps_the_existing_file_and_leaves_no_temp(tmp_path, module, code):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous good model")
    with pytest.raises(ExportError) as caught:
        export_onnx(module, [TensorInfo("x", (6,))], ["y"], target)
    assert caught.value.codes == [code]
    assert target.read_bytes() == b"previous good model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_bad_declarations_are_refused_before_exporting(tmp_path):
    with pytest.raises(ExportError, match="2 names"):
        export_onnx(MLP(), [TensorInfo("x", (64,))], ["a", "b"], tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="fails on example inputs"):
        export_onnx(MLP(), [TensorInfo("x", (63,))], ["y"], tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="invalid dim"):
        export_onnx(MLP(), [TensorInfo("x", ("batch",))], ["y"], tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="dtype"):
        export_onnx(MLP(), [TensorInfo("x", (64,), "bfloat16")], ["y"], tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_plan_sizes_differ_and_respect_bounds():
    inputs = [TensorInfo("a", ("seq", "feat"))]
    assert plan_sizes(inputs, {}, None, None) == ({"seq": 16, "feat": 17}, {"seq": 23, "feat": 24})
    assert plan_sizes(inputs, {"seq": 20, "feat": 17}, None, None) == (
        {"seq": 16, "feat": 17},
        {"seq": 20, "feat": 16},
    )
    with pytest.raises(ExportError):
        plan_sizes(inputs, {"seq": 8}, None, {"seq": 9})
    with pytest.raises(ExportError):
        plan_sizes(inputs, {}, {"seq": 5}, {"seq": 5})


def test_max_abs_diff_handles_special_values():
    nan, inf = math.nan, math.inf
    assert max_abs_diff(np.array([nan, inf, 1.0]), np.array([nan, inf, 1.5])) == 0.5
    assert max_abs_diff(np.array([nan]), np.array([0.0])) == inf
    assert max_abs_diff(np.zeros(2), np.zeros(3)) == inf


class ZeroStd(nn.Module):
    """Standardizes with a standard deviation of 0 for one feature: +-inf, and NaN where the
    feature equals its mean (as a checkpoint whose preprocessing saw a constant column)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(6))
        self.register_buffer("std", torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0, 1.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def test_non_finite_outputs_fail_the_parity_check_and_write_nothing(tmp_path):
    target = tmp_path / "model.onnx"
    with pytest.raises(ExportError) as caught:
        export_onnx(ZeroStd(), [TensorInfo("x", (6,))], ["y"], target)
    assert caught.value.codes == ["DLS502"]
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == (
        "the outputs at batch 3 are not finite, so they cannot be checked: 'y' has NaN or "
        "infinite values (3 of 18 in PyTorch, 3 of 18 in ONNX Runtime)")
    assert "standard deviation of 0" in diagnostic.hint
    assert list(tmp_path.iterdir()) == []


def test_a_nan_in_one_side_only_is_named_with_its_side():
    from dlspec.backends.onnx_check import compare_outputs

    want = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    got = want.copy()
    got[1, 0] = np.nan
    ids = np.array([1, 2])  # integer outputs are always finite
    with pytest.raises(ExportError, match=r"'y' has NaN or infinite values \(1 of 4 in ONNX "
                                          r"Runtime\)\n"):
        compare_outputs(["ids", "y"], [ids, want], [ids, got], 1e-5, "batch 2")
    assert compare_outputs(["ids", "y"], [ids, want], [ids, want], 1e-5, "batch 2") == {
        "ids": 0.0, "y": 0.0}
