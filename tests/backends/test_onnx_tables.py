"""Prediction tables of models with several outputs: the class table comes from the output
that training compared with the targets (metadata `scored_output`)."""

import json

import numpy as np
import pytest

from dlspec.backends.onnx_tables import fit_to_input, prediction_table
from dlspec.errors import ExportError

RECON = np.arange(6, dtype=np.float32).reshape(2, 3)
LOGITS = np.array([[0.0, 2.0], [3.0, -1.0]], dtype=np.float32)
CLASSES = {"task": "classification", "class_names": json.dumps(["cat", "dog"])}


def test_the_class_table_reads_the_scored_output():
    columns, rows = prediction_table(["recon", "logits"], [RECON, LOGITS],
                                     {**CLASSES, "scored_output": json.dumps("logits")})
    assert columns == ["prediction", "p_cat", "p_dog"]
    assert [row[0] for row in rows] == ["dog", "cat"]
    assert rows[0][2] == pytest.approx(1 / (1 + np.exp(-2.0)))


def test_without_a_scored_output_every_output_is_written():
    columns, rows = prediction_table(["recon", "logits"], [RECON, LOGITS],
                                     {**CLASSES, "scored_output": "null"})
    assert columns == ["recon_0", "recon_1", "recon_2", "logits_0", "logits_1"]
    assert list(rows[1]) == [3.0, 4.0, 5.0, 3.0, -1.0]


def test_files_from_before_scored_output_score_the_first_output():
    columns, rows = prediction_table(["logits"], [LOGITS], CLASSES)
    assert [row[0] for row in rows] == ["dog", "cat"]


def test_broken_scored_output_metadata_is_refused():
    with pytest.raises(ExportError, match="scored_output is not JSON"):
        prediction_table(["logits"], [LOGITS], {**CLASSES, "scored_output": "logits"})


def test_a_recorded_space_is_how_the_scored_output_is_read():
    probabilities = np.array([[0.2, 0.8], [0.7, 0.3]], dtype=np.float32)
    columns, rows = prediction_table(["probs"], [probabilities],
                                     {**CLASSES, "output_space": "probabilities"})
    assert [row[0] for row in rows] == ["dog", "cat"]
    assert rows[0][1:] == pytest.approx([0.2, 0.8])  # as they are, not softmaxed again


def test_multilabel_gets_a_probability_per_label():
    labels = {"task": "multilabel", "class_names": json.dumps(["even", "prime"]),
              "output_space": "logits"}
    columns, rows = prediction_table(["logits"], [LOGITS], labels)
    assert columns == ["p_even", "p_prime"]
    assert list(rows[1]) == pytest.approx(1 / (1 + np.exp(-LOGITS[1].astype(float))))


def test_an_unknown_output_space_is_refused():
    with pytest.raises(ExportError, match="output_space must be one of logits, probabilities"):
        prediction_table(["logits"], [LOGITS], {**CLASSES, "output_space": "odds"})


def _fit_error(raw, onnx_type="tensor(float)", dims=(3,), **where) -> str:
    with pytest.raises(ExportError) as caught:
        fit_to_input(np.asarray(raw), list(dims), onnx_type, "rows.csv", **where)
    assert caught.value.codes == ["DLS504"]
    return str(caught.value)


def test_values_are_finite_after_the_cast_named_by_row_and_column():
    """-1e308 is a finite float64 that float32 turns into -inf: refused where it is."""
    message = _fit_error([[1.0, 2.0, 3.0], [0.0, -1e308, 0.0]])
    assert "rows.csv[1, 1]: -1e+308 overflows float32 (becomes -inf)" in message
    lines = {"where": lambda index: f"rows.csv:{index[0] + 2}: column {index[1] + 1}"}
    assert "rows.csv:3: column 2: -1e+308" in _fit_error([[1, 2, 3], [0, -1e308, 0]], **lines)
    assert "70000.0 overflows float16" in _fit_error([[1, 2, 70000.0]], "tensor(float16)")
    assert "rows.csv[0, 2]: nan is not a number" in _fit_error([[1, 2, np.nan]])
    fitted = fit_to_input(np.array([[3e38, -3e38, 1e-300]]), [3], "tensor(float)", "rows.csv")
    assert fitted.dtype == np.float32 and np.isfinite(fitted).all()


def test_integer_inputs_must_be_whole_and_in_range():
    assert "rows.csv[0, 1]: 0.5: the model takes integers" in _fit_error(
        [[1, 0.5, 2]], "tensor(int64)")
    assert "rows.csv[0, 0]: 3000000000.0 is outside the int32 range" in _fit_error(
        [[3e9, 0, 0]], "tensor(int32)")
    assert "inf is not a number" in _fit_error([[np.inf, 0, 0]], "tensor(int64)")
    fitted = fit_to_input(np.array([[2**40, 0, 7]]), [3], "tensor(int64)", "rows.csv")
    assert fitted.tolist() == [[2**40, 0, 7]]
