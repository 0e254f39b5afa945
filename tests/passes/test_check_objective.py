"""`validate` checks a spec's objective against its models and sections, at their keys: a
role naming no model, a model with no role, an optimizer or schedule for a model that is not
trained, a `loss:` the objective would not use, several models and no objective."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dlspec.api import check
from dlspec.errors import DlspecError

SPECS = Path(__file__).resolve().parents[2] / "specs"
GAN = (SPECS / "dcgan-digits.yaml").read_text()


def problems(tmp_path, text: str) -> list[tuple[str, int, str]]:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(DlspecError) as caught:
        check(path)
    return [(d.code, d.span.line, d.message) for d in caught.value.diagnostics]


def line_of(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def test_the_shipped_gan_validates():
    check(SPECS / "dcgan-digits.yaml")


def test_a_role_naming_no_model_is_refused_with_did_you_mean(tmp_path):
    text = GAN.replace("generator: generator,", "generator: genrator,")
    (found,) = problems(tmp_path, text)
    assert found[0] == "DLS402" and found[1] == line_of(text, "objective:")
    assert "'genrator'" in found[2]


def test_a_model_without_a_role_is_refused_at_the_model(tmp_path):
    extra = "  critic:\n    inputs: {image: {shape: [1, 8, 8]}}\n    layers:\n" \
            "      - {op: flatten}\n      - {op: linear, out_features: 1}\n"
    text = GAN.replace("objective:", extra + "objective:", 1)
    (found,) = problems(tmp_path, text)
    assert found[0] == "DLS402" and found[1] == line_of(text, "  critic:")
    assert "model 'critic' has no role in the gan objective" in found[2]


def test_an_optimizer_for_a_model_that_is_not_trained_is_refused(tmp_path):
    text = GAN.replace("  discriminator: {op: adam", "  discriminatr: {op: adam")
    (found,) = problems(tmp_path, text)
    assert found[0] == "DLS402" and found[1] == line_of(text, "  discriminatr:")
    assert "`optimizer` is given for 'discriminatr'" in found[2]


def test_a_loss_the_objective_would_not_use_is_refused(tmp_path):
    text = GAN + "loss: {op: mse}\n"
    (found,) = problems(tmp_path, text)
    assert found[0] == "DLS402" and found[1] == line_of(text, "loss:")
    assert "computes its own losses" in found[2]


def test_several_models_and_data_without_an_objective_are_refused(tmp_path):
    spec = yaml.safe_load(GAN)
    for key in ("objective", "optimizer", "schedule"):
        spec.pop(key, None)
    text = yaml.safe_dump(spec, sort_keys=False)
    (found,) = problems(tmp_path, text)
    assert found[0] == "DLS402" and found[1] == line_of(text, "data:")
    assert "this spec has 2 models (generator, discriminator)" in found[2]
    assert "the supervised objective trains one" in found[2]
