"""dlspec.passes.check_trainable: `data:` on a spec that train cannot fit to it is refused by
validate at the `data` key, and by train at the same place (dcgan.yaml with digits used to
validate, then crash in train with an AttributeError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlspec.api import check, training_inputs
from dlspec.compiler import check_spec
from dlspec.errors import DataError, SpecError
from dlspec.passes.check_trainable import trainable_diagnostics

SPECS = Path(__file__).resolve().parents[2] / "specs"


def with_data(tmp_path: Path, spec: str) -> tuple[Path, int]:
    """A copy of a shipped spec with `data: {dataset: digits}` added; the line it is on."""
    text = (SPECS / f"{spec}.yaml").read_text()
    path = tmp_path / f"{spec}.yaml"
    path.write_text(text + "data: {dataset: digits}\n")
    return path, len(text.splitlines()) + 1


def refusal(call, path):
    with pytest.raises(DataError) as caught:
        call(path)
    return [(d.code, d.span.line, d.span.col, d.message) for d in caught.value.diagnostics]


def test_several_models_with_data_and_no_objective_are_refused_by_validate_and_train(tmp_path):
    path, line = with_data(tmp_path, "dcgan")
    expected = [("DLS402", line, 1, "this spec has 2 models (generator, discriminator), and "
                 "the supervised objective trains one")]
    assert refusal(check, path) == expected
    assert refusal(lambda p: training_inputs(check_spec(p)), path) == expected


def test_a_model_with_two_inputs_is_fed_by_input_name_instead_of_refused(tmp_path):
    """It used to be refused: "`data:` feeds a model with one input, but this one has 2"."""
    checked = check(SPECS / "two-input-digits-shift.yaml")
    assert checked.graph.inputs == ["image", "shift"] and trainable_diagnostics(checked) == []
    path = tmp_path / "spec.yaml"
    path.write_text((SPECS / "two-input-digits-shift.yaml").read_text().replace(
        "data: {dataset: digits_shift,", "data: {dataset: digits,"))
    assert [(code, line, col) for code, line, col, _ in refusal(check, path)] == [
        ("DLS402", 29, 17), ("DLS402", 29, 17)]  # neither input has a field in digits



def edited(tmp_path: Path, spec: str, old: str, new: str) -> Path:
    text = (SPECS / f"{spec}.yaml").read_text()
    assert old in text
    path = tmp_path / f"{spec}.yaml"
    path.write_text(text.replace(old, new))
    return path


def spec_errors(path: Path) -> list:
    with pytest.raises(SpecError) as caught:
        check(path)
    return [(d.code, d.span.line, d.span.col, d.message) for d in caught.value.diagnostics]


def test_a_metric_the_task_lacks_is_refused_by_validate_at_train_metrics(tmp_path):
    """It used to pass validate, then stop train with an unlocated DLS102."""
    path = edited(tmp_path, "regression-diabetes", "metrics: [mae, rmse, r2]",
                  "metrics: [mae, f1]")
    assert spec_errors(path) == [("DLS102", 20, 40, "metric 'f1' does not apply to a "
                                  "regression task; choose mae, rmse, r2, mse")]


def test_metrics_without_a_scored_output_are_refused_by_validate(tmp_path):
    path = edited(tmp_path, "vae-digits", "train: {epochs: 150, seed: 0}",
                  "train: {epochs: 150, seed: 0, metrics: [accuracy]}")
    assert spec_errors(path) == [(
        "DLS102", 30, 40, "train.metrics asks for ['accuracy'], but no loss term compares a "
        "model output with the data's targets, so there is nothing to score")]


def test_metrics_the_task_has_pass(tmp_path):
    assert check(SPECS / "regression-diabetes.yaml").spec.train.metrics == ["mae", "rmse", "r2"]


def test_several_outputs_and_no_loss_are_refused_by_validate(tmp_path):
    """Found by the generated-spec test: bert-base plus `data: {dataset: copy}` validated,
    then train refused it without a location."""
    text = (SPECS / "vae-digits.yaml").read_text()
    loss = text[text.index("loss:\n"):text.index("optimizer:")]
    path = tmp_path / "vae-digits.yaml"
    path.write_text(text.replace(loss, ""))
    assert refusal(check, path) == [(
        "DLS402", 26, 1, "the model returns 3 outputs ['recon', 'mu', 'logvar'], and "
        "without a `loss:` section nothing says which one the data's targets score")]


def test_batch_size_one_under_a_flat_batch_norm_is_refused_by_validate(tmp_path):
    """It validated, then train stopped with torch's ValueError traceback ("Expected more
    than 1 value per channel when training")."""
    text = (SPECS / "mlp-digits.yaml").read_text()
    path = tmp_path / "mlp.yaml"
    path.write_text(text.replace("  - {op: relu}", "  - {op: batchnorm1d, name: bn}\n"
                                 "  - {op: relu}", 1).replace("batch_size: 64", "batch_size: 1"))
    assert refusal(check, path) == [(
        "DLS402", 25, 61, "batch_size 1 cannot train layer 'bn' (batchnorm1d): on (N, 128) it "
        "would see one value per channel in a batch, and batch norm needs more to estimate a "
        "variance")]
    path.write_text(path.read_text().replace("batch_size: 1", "batch_size: 2"))
    assert check(path).spec.data.batch_size == 2


def test_batch_size_one_under_a_spatial_batch_norm_passes(tmp_path):
    text = (SPECS / "cnn-digits.yaml").read_text()
    path = tmp_path / "cnn.yaml"
    path.write_text(text.replace("batch_size: 64", "batch_size: 1"))
    assert check(path).spec.data.batch_size == 1


def test_a_model_without_parameters_and_data_is_refused_by_validate(tmp_path):
    """Found by the generated-spec test (lstm-sine with its layers swapped for a `sum`): it
    validated, then train refused it without a location."""
    path = tmp_path / "sum.yaml"
    path.write_text("dlspec: 1\nname: sum\ninputs: {x: {shape: [10]}}\nmodel:\n"
                    "  - {op: sum, dims: [1], keepdim: true}\n"
                    "loss: {op: mse}\ndata: {dataset: diabetes}\n")
    assert refusal(check, path) == [(
        "DLS403", 4, 1, "the model has no trainable parameters, so `data:` has nothing to "
        "train")]
