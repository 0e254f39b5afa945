"""dlspec.compiler: several named models in one spec, each lowered and shape-checked."""

from __future__ import annotations

import pytest

from dlspec.compiler import check_spec
from dlspec.errors import SpecError

GAN = """\
dlspec: 1
name: tiny-gan
params: {z: 16, d: 32}
blocks:
  dense:
    params: {width: int}
    layers:
      - {op: linear, out_features: "${width}"}
      - {op: leaky_relu, negative_slope: 0.2}
models:
  generator:
    inputs: {noise: {shape: ["${z}"]}}
    layers:
      - {block: dense, width: 64}
      - {op: linear, name: fake, out_features: "${d}"}
  discriminator:
    inputs: {sample: {shape: ["${d}"]}}
    layers:
      - {block: dense, width: 64}
      - {op: linear, name: score, out_features: 1}
"""


def test_every_model_is_checked_and_one_is_chosen(tmp_path):
    path = tmp_path / "gan.yaml"
    path.write_text(GAN)
    checked = check_spec(path)
    assert list(checked.graphs) == ["generator", "discriminator"]
    assert checked.model == "generator" and checked.graph.outputs == ["fake"]
    assert str(checked.graphs["discriminator"].node("score").type) == "(N, 1)"
    other = check_spec(path, model="discriminator")
    assert other.graph.inputs == ["sample"] and list(other.inputs) == ["sample"]


def test_problems_of_every_model_are_reported_together(tmp_path):
    path = tmp_path / "gan.yaml"
    path.write_text(GAN.replace("name: fake, out_features", "name: fake, out_featres")
                    .replace("name: score, out_features", "name: score, out_featurs"))
    with pytest.raises(SpecError) as caught:
        check_spec(path)
    assert sorted(d.span.line for d in caught.value.diagnostics if d.code == "DLS101") == [
        15, 20]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t + "inputs: {x: {shape: [3]}}\n",
     "give either `models` or `inputs`/`model`/`outputs`, not both"),
    (lambda t: t[:t.index("models:")], "a spec needs `inputs` and `model` (or `models`)"),
])
def test_one_form_or_the_other(tmp_path, edit, message):
    path = tmp_path / "gan.yaml"
    path.write_text(edit(GAN))
    with pytest.raises(SpecError) as caught:
        check_spec(path)
    assert any(message in d.message for d in caught.value.diagnostics)


def test_an_unknown_model_gets_a_suggestion(tmp_path):
    path = tmp_path / "gan.yaml"
    path.write_text(GAN)
    with pytest.raises(SpecError) as caught:
        check_spec(path, model="discrim")
    [d] = caught.value.diagnostics
    assert (d.code, d.hint) == ("DLS305", "did you mean 'discriminator'?")
