"""The loss section against the model: outputs and inputs that exist, as many as a term
reads, and shapes a term can compare, each problem located at the term's key."""

import pytest

from dlspec.api import check
from dlspec.errors import DataError, SpecError

AUTOENCODER = """dlspec: 1
name: t
inputs: {image: {shape: [64]}}
model:
  - {op: linear, name: latent, out_features: 8}
  - {op: linear, name: recon, out_features: 64}
  - {op: linear, name: logits, inputs: latent, out_features: 10}
outputs: [recon, logits]
data: {dataset: digits}
"""


def problems(tmp_path, loss: str):
    path = tmp_path / "spec.yaml"
    path.write_text(AUTOENCODER + loss)
    with pytest.raises(SpecError) as caught:
        check(path)
    return caught.value.diagnostics


def test_a_valid_multi_output_loss_passes(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(AUTOENCODER + "loss:\n  - {op: cross_entropy, output: logits}\n"
                    "  - {op: mse, output: recon, target: image, weight: 0.5}\n")
    assert check(path).graph.outputs == ["recon", "logits"]


def test_an_unknown_output_is_located_with_did_you_mean(tmp_path):
    loss = "loss:\n  - {op: cross_entropy, output: logit}\n"
    [problem] = problems(tmp_path, loss)
    assert problem.code == "DLS305" and "'logit'" in problem.message
    assert "logits" in problem.hint
    assert (problem.span.line, problem.span.col) == (11, 33)  # the `logit` value


def test_a_layer_that_is_not_an_output_is_named_as_such(tmp_path):
    [problem] = problems(tmp_path, "loss: {op: mse, output: latent, target: image}\n")
    assert problem.code == "DLS305" and "not one of the model's outputs" in problem.message
    assert problem.hint == "add 'latent' to the model's `outputs:`"


def test_a_term_must_say_which_of_several_outputs_it_reads(tmp_path):
    [problem] = problems(tmp_path, "loss: {op: cross_entropy}\n")
    assert problem.code == "DLS402"
    assert "reads 1 model output, but the model has 2" in problem.message
    assert problem.hint == "name what it reads, e.g. output: recon"


def test_a_target_must_be_a_model_input(tmp_path):
    [problem] = problems(tmp_path, "loss: {op: mse, output: recon, target: imgae}\n")
    assert problem.code == "DLS301" and "image" in problem.hint
    assert problem.span.line == 10


def test_an_elementwise_loss_compares_tensors_of_one_shape(tmp_path):
    [problem] = problems(tmp_path, "loss: {op: mse, output: logits, target: image}\n")
    assert problem.code == "DLS201"
    assert "'logits' (N, 10)" in problem.message and "'image' (N, 64)" in problem.message


def test_two_outputs_of_one_term_need_one_shape(tmp_path):
    [problem] = problems(tmp_path, "loss: {op: gaussian_kl, output: [recon, logits]}\n")
    assert problem.code == "DLS201" and "need the same shape" in problem.message


def test_several_problems_are_reported_together(tmp_path):
    loss = ("loss:\n  - {op: cross_entropy, output: logit}\n"
            "  - {op: mse, output: recon, target: imag}\n")
    assert [p.code for p in problems(tmp_path, loss)] == ["DLS305", "DLS301"]


def test_a_loss_reading_no_targets_skips_the_output_data_fit(tmp_path):
    """An autoencoder's output need not fit the digits' 10 classes: the loss compares it with
    the input, and the data's targets are read by no term."""
    path = tmp_path / "spec.yaml"
    path.write_text(AUTOENCODER.replace("outputs: [recon, logits]", "outputs: [recon]")
                    .replace("  - {op: linear, name: logits, inputs: latent, out_features: 10}\n",
                             "") + "loss: {op: mse, target: image}\n")
    assert check(path).graph.outputs == ["recon"]
    path.write_text(path.read_text().replace("loss: {op: mse, target: image}\n", ""))
    with pytest.raises(DataError, match="10 classes, but the model has 64 outputs"):
        check(path)  # the default loss compares the one output with the class labels


INDICES = """dlspec: 1
name: t
inputs: {x: {shape: [10]}}
model:
  - {op: linear, out_features: 1}
  - {op: arange}
data: {dataset: diabetes}
"""


@pytest.mark.parametrize("loss", ["loss: {op: mse}\n", ""])
def test_a_loss_of_integer_outputs_is_refused_before_training(tmp_path, loss):
    """arange gives int64 positions: mse on them would fail inside torch ("mse_cpu" not
    implemented for 'Long'); validate says so at the loss, or at the output without one."""
    path = tmp_path / "spec.yaml"
    path.write_text(INDICES + loss)
    with pytest.raises(SpecError) as caught:
        check(path)
    [problem] = caught.value.diagnostics
    assert problem.code == "DLS402"
    assert "reads 'arange', whose values are int64 (indices, not scores)" in problem.message
    assert problem.span.line == (8 if loss else 6)
