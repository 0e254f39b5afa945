"""The loss section's models: one loss or a list of terms, outputs per op, the implied task."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from dlspec.train.recipe.loss_config import (
    LOSS_TASKS,
    GaussianKLConfig,
    InfoNCEConfig,
    KLDivConfig,
    LossSpec,
    MAEConfig,
    implied_task,
    loss_terms,
)

LOSS = TypeAdapter(LossSpec)


def test_a_single_loss_and_a_list_of_weighted_terms():
    single = LOSS.validate_python({"op": "huber", "delta": 0.5})
    assert (single.op, single.delta, single.weight, single.outputs) == ("huber", 0.5, 1.0, None)
    terms = loss_terms(LOSS.validate_python([
        {"op": "mse", "output": "recon", "target": "image"},
        {"op": "gaussian_kl", "output": ["mu", "log_var"], "weight": 0.5},
    ]))
    assert [(t.op, t.outputs, t.target, t.weight) for t in terms] == [
        ("mse", ("recon",), "image", 1.0), ("gaussian_kl", ("mu", "log_var"), None, 0.5)]
    assert loss_terms(single) == (single,)


def test_aliases_and_defaults_from_the_literature():
    assert isinstance(LOSS.validate_python({"op": "l1"}), MAEConfig)
    assert LOSS.validate_python({"op": "nt_xent"}).temperature == 0.5
    assert isinstance(LOSS.validate_python({"op": "nt_xent"}), InfoNCEConfig)
    assert KLDivConfig().reduction == GaussianKLConfig().reduction == "batchmean"
    focal = LOSS.validate_python({"op": "focal"})
    assert (focal.gamma, focal.alpha) == (2.0, None)
    triplet = LOSS.validate_python({"op": "triplet"})
    assert (triplet.margin, triplet.p, triplet.swap) == (1.0, 2.0, False)


@pytest.mark.parametrize(("bad", "message"), [
    ({"op": "triplet", "output": ["a", "p"]}, "triplet reads 3 model output"),
    ({"op": "mse", "output": ["a", "b"]}, "mse reads 1 model output"),
    ({"op": "info_nce", "target": "x"}, "info_nce compares model outputs with each other"),
    ({"op": "mse", "weight": 0}, "greater than 0"),
    ({"op": "mse", "reduction": "sum"}, "'mean' or 'batchmean'"),
    ({"op": "focal", "alpha": 1.5}, "alpha"),
    ({"op": "cross_entropy", "ignore_index": 1.5}, "ignore_index"),
    ([], "at least 1 item"),
])
def test_invalid_losses_are_rejected_with_a_reason(bad, message):
    with pytest.raises(ValidationError, match=message):
        LOSS.validate_python(bad)


def test_the_task_a_loss_implies():
    assert implied_task(LOSS.validate_python({"op": "cross_entropy"})) == "classification"
    assert implied_task(LOSS.validate_python({"op": "bce"})) == "binary"
    assert implied_task(LOSS.validate_python({"op": "smooth_l1"})) == "regression"
    # the first term that reads the data's targets decides; input targets do not count
    assert implied_task(LOSS.validate_python([
        {"op": "triplet"}, {"op": "mse", "target": "image"}, {"op": "focal"}])) == "classification"
    assert implied_task(LOSS.validate_python({"op": "info_nce"})) is None
    assert implied_task(None) is None
    assert LOSS_TASKS["focal"][0] == "classification"
    assert {"binary", "multilabel", "tagging"} <= set(LOSS_TASKS["focal"])
    assert LOSS_TASKS["l1"] == ("regression",)
    assert LOSS_TASKS["bce_with_logits"] == ("binary", "multilabel")


def test_every_loss_field_is_documented():
    schema = LOSS.json_schema()
    for name, definition in schema["$defs"].items():
        for key, prop in definition.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{key}"
        if "op" in definition.get("properties", {}):
            assert "op" in definition["required"], name
