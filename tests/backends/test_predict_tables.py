"""`dlspec predict` on raw table rows: a run on a CSV with a text category exports the
columns' encoding, and predict reads text, fills and encodes as training did."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.preprocessing import OneHotEncoder

from dlspec.backends.onnx_runtime import predict_file
from dlspec.data.table_columns import encode_rows
from dlspec.errors import ExportError

COLUMNS = [{"name": "a", "encoding": "number", "fill": 0.5},
           {"name": "city", "encoding": "one_hot", "categories": ["oslo", "paris", "rome"],
            "unknown": "ignore", "fill": "paris"},
           {"name": "size", "encoding": "index", "categories": ["L", "M", "S"],
            "unknown": "error", "fill": None}]


def test_rows_are_encoded_as_one_hot_encoder_and_index_with_the_fills():
    cells = [["1.5", "rome", "M"], ["", "oslo", "S"], ["-2", "", "L"], ["3", "lima", "M"]]
    got = encode_rows(cells, COLUMNS, lambda i, j: f"row {i}")
    city = OneHotEncoder(categories=[["oslo", "paris", "rome"]], handle_unknown="ignore",
                         sparse_output=False)
    expected_city = city.fit_transform([["rome"], ["oslo"], ["paris"], ["lima"]])
    np.testing.assert_array_equal(got[:, 0], [1.5, 0.5, -2, 3])
    np.testing.assert_array_equal(got[:, 1:4], expected_city)
    np.testing.assert_array_equal(got[:, 4], [2, 3, 1, 2])
    with pytest.raises(ExportError, match="row 0: 'XL' is not a category the model was "
                                          r"trained on \(L, M, S\)"):
        encode_rows([["1", "rome", "XL"]], COLUMNS, lambda i, j: f"row {i}")
    with pytest.raises(ExportError, match="row 0: 'abc' is not a number"):
        encode_rows([["abc", "rome", "M"]], COLUMNS, lambda i, j: f"row {i}")
    with pytest.raises(ExportError, match="row 0: the cell is missing, and training filled "
                                          "no value for this column"):
        encode_rows([["1", "rome", ""]], COLUMNS, lambda i, j: f"row {i}")


SPEC = """\
dlspec: 1
name: cities
inputs: {features: {shape: [5]}}
model:
  - {op: linear, out_features: 8}
  - {op: relu}
  - {op: linear, name: logits, out_features: 2}
loss: {op: cross_entropy}
data:
  dataset: csv
  path: cities.csv
  target: label
  missing: median
  missing_columns: {city: most_frequent}
  categorical: {city: one_hot}
  unknown_category: ignore
  sampling: oversample
  batch_size: 16
train: {epochs: 2}
"""


def test_predict_reads_raw_text_of_an_exported_table_model(tmp_path):
    import onnxruntime

    from dlspec.api import train_spec
    from dlspec.api_export import export_spec

    rng = np.random.default_rng(0)
    rows = [f"{rng.normal():.3f},{rng.normal():.3f},{['oslo', 'paris', 'rome'][i % 3]},"
            f"{'yes' if i % 5 == 0 else 'no'}" for i in range(60)]
    (tmp_path / "cities.csv").write_text("a,b,city,label\n" + "\n".join(rows) + "\n")
    (tmp_path / "cities.yaml").write_text(SPEC)
    result = train_spec(tmp_path / "cities.yaml", out_root=tmp_path / "runs", run_name="run",
                        quiet=True)
    export_spec(result.run_dir, tmp_path / "cities.onnx")
    (tmp_path / "new.csv").write_text("label,city,b,a\nno,rome,0.5,1\nyes,,1,\nno,lima,2,3\n")
    report = predict_file(tmp_path / "cities.onnx", tmp_path / "new.csv",
                          tmp_path / "out.csv")
    assert report.rows == 3
    session = onnxruntime.InferenceSession(str(tmp_path / "cities.onnx"))
    columns = json.loads(session.get_modelmeta().custom_metadata_map["columns"])
    assert [c["name"] for c in columns] == ["a", "b", "city"]
    assert columns[2]["categories"] == ["oslo", "paris", "rome"]
    features = encode_rows([["1", "0.5", "rome"], ["", "1", ""], ["3", "2", "lima"]],
                           columns, lambda i, j: "")
    assert features[1, 0] == columns[0]["fill"] and features[2, 2:].tolist() == [0, 0, 0]
    logits = session.run(None, {"features": features.astype(np.float32)})[0]
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "prediction,p_no,p_yes"
    got = np.array([[float(v) for v in line.split(",")[1:]] for line in lines[1:]])
    np.testing.assert_allclose(got, probabilities, rtol=1e-5)
