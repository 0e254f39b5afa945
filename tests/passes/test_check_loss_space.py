"""Validate refuses, at the loss's line, a loss for another task's targets and a loss reading
an output whose last layer puts it in another space than the loss reads."""

import pytest

from dlspec.api import check
from dlspec.errors import SpecError

HEAD = """dlspec: 1
name: t
inputs: {x: {shape: [30]}}
model:
  - {op: linear, name: scores, out_features: OUT}
"""


def spec(tmp_path, last: str, loss: str, out: int = 1, data: str = ""):
    path = tmp_path / "spec.yaml"
    layers = "".join(f"  - {{op: {op}}}\n" for op in last.split()) if last else ""
    path.write_text(HEAD.replace("OUT", str(out)) + layers + f"loss: {loss}\n" + data)
    return path


def refusal(path):
    with pytest.raises(SpecError) as caught:
        check(path)
    [problem] = caught.value.diagnostics
    return problem


@pytest.mark.parametrize("last, loss, out", [
    ("sigmoid", "{op: bce}", 1),
    ("sigmoid dropout", "{op: bce}", 1),  # dropout passes the probabilities on
    ("softmax", "{op: bce}", 3),
    ("", "{op: bce_with_logits}", 1),
    ("", "{op: cross_entropy}", 3),
    ("log_softmax", "{op: cross_entropy}", 3),  # softmax(log_softmax(x)) = softmax(x)
    ("log_softmax", "{op: nll}", 3),
    ("log_softmax flatten", "{op: kl_div}", 3),
    ("", "{op: focal}", 3),
    ("sigmoid", "{op: mse}", 1),  # regression to values in [0, 1]
    ("tanh", "{op: bce}", 1),  # a layer that says nothing about its space is not judged
])
def test_losses_that_fit_their_output_pass(tmp_path, last, loss, out):
    assert check(spec(tmp_path, last, loss, out))


@pytest.mark.parametrize("last, loss, out, message, hint", [
    ("", "{op: bce}", 1, "loss 'bce' reads probabilities, but the output 'scores' comes from "
     "a linear layer, which gives unbounded scores (logits)",
     "end the model with {op: sigmoid}, or use bce_with_logits on 'scores'"),
    ("sigmoid", "{op: bce_with_logits}", 1, "reads unbounded scores (logits), but the output "
     "'sigmoid' comes from a sigmoid layer, which gives probabilities",
     "drop the sigmoid layer: bce_with_logits applies a sigmoid itself"),
    ("softmax", "{op: cross_entropy}", 3, "comes from a softmax layer, which gives "
     "probabilities", "drop the softmax layer: cross_entropy applies a softmax itself"),
    ("log_softmax", "{op: bce_with_logits}", 3, "comes from a log_softmax layer, which gives "
     "log-probabilities", "applies a sigmoid itself"),
    ("", "{op: nll}", 3, "loss 'nll' reads log-probabilities, but the output 'scores' comes "
     "from a linear layer", "end the model with {op: log_softmax}, or use cross_entropy"),
    ("softmax dropout", "{op: nll}", 3, "the output 'dropout' comes from a softmax layer",
     "use log_softmax instead of softmax, or use cross_entropy on the scores before"),
    ("", "{op: kl_div}", 3, "loss 'kl_div' reads log-probabilities",
     "end the model with {op: log_softmax}"),
    ("log_softmax", "{op: bce}", 3, "gives log-probabilities",
     "use a sigmoid or softmax layer instead of log_softmax"),
])
def test_a_loss_reading_another_space_is_refused_at_its_op(tmp_path, last, loss, out, message,
                                                           hint):
    problem = refusal(spec(tmp_path, last, loss, out))
    assert problem.code == "DLS402"
    assert message in problem.message and hint in problem.hint
    line = 6 + len(last.split())  # the loss's line, at its op
    assert (problem.span.line, problem.span.col) == (line, 12)


def test_a_term_of_a_list_comparing_with_an_input_is_checked_too(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD.replace("OUT", "30") + "  - {op: linear, name: label, inputs: x, "
                    "out_features: 1}\noutputs: [scores, label]\nloss:\n"
                    "  - {op: bce_with_logits, output: label}\n"
                    "  - {op: bce, output: scores, target: x}\n")
    problem = refusal(path)
    assert "loss 'bce' reads probabilities, but the output 'scores'" in problem.message
    assert (problem.span.line, problem.span.col) == (10, 10)


def test_a_loss_for_another_tasks_targets_is_refused_at_its_op(tmp_path):
    """bce on a multi-class task validated, and failed in train without a location."""
    path = spec(tmp_path, "sigmoid", "{op: bce}", 10,
                "data: {dataset: digits, task: classification}\n")
    problem = refusal(path)
    assert problem.code == "DLS402"
    assert problem.message == ("loss 'bce' is for binary or multilabel targets, but the data "
                               "is a classification task")
    assert problem.hint == "use the loss cross_entropy or nll or focal, or set data.task to binary"
    assert (problem.span.line, problem.span.col) == (7, 12)


def test_the_default_loss_is_checked_at_the_output_layer(tmp_path):
    """Without a `loss:`, digits trains with cross_entropy: a softmax model would be
    softmaxed twice."""
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD.replace("[30]", "[64]").replace("OUT", "10")
                    + "  - {op: softmax, name: probs}\ndata: {dataset: digits}\n")
    with pytest.raises(SpecError) as caught:
        check(path)
    [problem] = caught.value.diagnostics
    assert problem.message.startswith(
        "without a `loss:` section the classification task trains with cross_entropy, which "
        "reads unbounded scores (logits), but the output 'probs' comes from a softmax layer")
    assert problem.hint.startswith("drop the softmax layer")
    assert (problem.span.line, problem.layer) == (6, "probs")
    path.write_text(path.read_text().replace("softmax", "log_softmax"))
    assert check(path)
