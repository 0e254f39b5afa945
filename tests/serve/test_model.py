"""The served model without HTTP: fixed batch dims, integer inputs, what it describes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from serve_harness import _save

from dlspec.serve.model import ServedModel
from dlspec.serve.schemas import PredictRequest, RequestError


@pytest.fixture(scope="module")
def fixed_batch(tmp_path_factory):
    """x (4, 3) -> y (4, 3) = 2 x: a file exported with a fixed batch of 4."""
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")
    return _save(tmp_path_factory.mktemp("fixed") / "fixed.onnx",
                 [helper.make_node("Mul", ["x", "two"], ["y"])],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 3])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 3])],
                 [two], {"task": "regression"})


@pytest.fixture(scope="module")
def token_ids(tmp_path_factory):
    """ids (N, T) int64 -> (N, 1) float: the sum of each row's ids (token ids in)."""
    return _save(tmp_path_factory.mktemp("ids") / "ids.onnx",
                 [helper.make_node("Cast", ["ids"], ["f"], to=TensorProto.FLOAT),
                  helper.make_node("ReduceSum", ["f", "axes"], ["count"], keepdims=1)],
                 [helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", "T"])],
                 [helper.make_tensor_value_info("count", TensorProto.FLOAT, ["N", 1])],
                 [numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")],
                 {"task": "regression", "spec_name": "ids", "accuracy_cost": json.dumps(
                     {"accuracy": {"fp32": 0.98, "reduced": 0.97}})})


def test_a_fixed_batch_dim_is_filled_and_every_row_comes_back(fixed_batch):
    model = ServedModel(fixed_batch)
    feeds = model.feeds(PredictRequest(rows=[[float(i)] * 3 for i in range(6)]))
    (y,) = model.run(feeds.arrays)
    assert model.fixed_batch == 4
    assert y.tolist() == [[2.0 * i] * 3 for i in range(6)]


def test_integer_inputs_take_whole_numbers_within_their_range(token_ids):
    model = ServedModel(token_ids)
    feeds = model.feeds(PredictRequest(inputs={"ids": [[1, 2, 3], [4, 5, 6]]}))
    assert feeds.arrays["ids"].dtype == np.int64 and feeds.key == (("ids", (3,), "<i8"),)
    assert model.table(model.run(feeds.arrays)) == (
        ["prediction"], [{"prediction": 6.0}, {"prediction": 15.0}])
    with pytest.raises(RequestError) as fraction:
        model.feeds(PredictRequest(inputs={"ids": [[1, 2.5]]}))
    assert fraction.value.status == 422 and "fractions" in fraction.value.message
    with pytest.raises(RequestError) as huge:
        model.feeds(PredictRequest(inputs={"ids": [[1, 1e30]]}))
    assert huge.value.message == "inputs.ids[0][1]: 1e+30 is outside the int64 range the model takes"


def test_describe_names_the_inputs_and_reads_the_accuracy_cost(token_ids):
    described = ServedModel(token_ids).describe()
    assert described["inputs"] == [{"name": "ids", "shape": ["N", "T"],
                                    "type": "tensor(int64)"}]
    assert described["accuracy_cost"] == {"accuracy": {"fp32": 0.98, "reduced": 0.97}}
    assert described["precision"] == "fp32" and described["classes"] is None
