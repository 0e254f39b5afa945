"""dlspec.passes.check_trainable: `data:` on a spec that train cannot fit to it is refused by
validate at the `data` key, and by train at the same place (dcgan.yaml with digits used to
validate, then crash in train with an AttributeError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlspec.api import check, training_inputs
from dlspec.compiler import check_spec
from dlspec.errors import DataError

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


def test_several_models_with_data_are_refused_by_validate_and_train(tmp_path):
    path, line = with_data(tmp_path, "dcgan")
    expected = [("DLS402", line, 1, "`data:` trains one model, but this spec has 2 "
                 "(generator, discriminator); training several models together is not "
                 "supported yet")]
    assert refusal(check, path) == expected
    assert refusal(lambda p: training_inputs(check_spec(p)), path) == expected


def test_a_model_with_two_inputs_and_data_is_refused_by_validate(tmp_path):
    path, line = with_data(tmp_path, "gcn")
    assert refusal(check, path) == [
        ("DLS402", line, 1, "`data:` feeds a model with one input, but this one has 2 "
         "(x, adjacency)")]

