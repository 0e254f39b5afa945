"""The metrics a run logs are known from the spec: a monitor that names none of them, or
metrics the task cannot report, are `validate` errors at their key (no run folder, no
torch), with 'did you mean'."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dlspec.api import check, train_spec
from dlspec.errors import SpecError
from dlspec.passes.check_monitor import logged_metrics

SPECS = Path(__file__).resolve().parents[2] / "specs"

MLP = """\
dlspec: 1
name: t
inputs: {pixels: {shape: [64]}}
model:
  - {op: linear, name: fc, out_features: 16}
  - {op: relu}
  - {op: linear, name: logits, out_features: 10}
data: {dataset: digits, split: [0.8, 0.1, 0.1]}
"""

VAE = """\
dlspec: 1
name: t
inputs: {pixels: {shape: [64]}}
model:
  - {op: linear, name: mu, out_features: 4}
  - {op: linear, name: logvar, inputs: pixels, out_features: 4}
  - {op: linear, name: recon, inputs: mu, out_features: 64}
outputs: [recon, mu, logvar]
loss:
  - {op: mse, output: recon, target: pixels}
  - {op: gaussian_kl, output: [mu, logvar], weight: 0.1}
data: {dataset: digits}
"""


def write(tmp_path, text: str):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def errors(tmp_path, text: str):
    with pytest.raises(SpecError) as caught:
        check(write(tmp_path, text))
    return caught.value.diagnostics


def test_the_logged_names_follow_the_task_metrics_and_loss_terms(tmp_path):
    assert logged_metrics(check(write(tmp_path, MLP))) == (
        ["train_loss", "val_loss", "val_accuracy"], [])
    asked = MLP + "train: {metrics: [accuracy, f1]}\n"
    assert logged_metrics(check(write(tmp_path, asked)))[0] == [
        "train_loss", "val_loss", "val_accuracy", "val_f1"]
    no_val = MLP.replace("[0.8, 0.1, 0.1]", "[0.9, 0, 0.1]")
    assert logged_metrics(check(write(tmp_path, no_val)))[0] == ["train_loss"]
    # a VAE scores no targets: its losses only, one key per term
    assert logged_metrics(check(write(tmp_path, VAE)))[0] == [
        "train_loss", "train_loss_mse", "train_loss_gaussian_kl",
        "val_loss", "val_loss_mse", "val_loss_gaussian_kl"]


def test_a_misspelt_early_stopping_monitor_is_located_with_did_you_mean(tmp_path):
    [d] = errors(tmp_path, MLP + "regularization:\n"
                                 "  early_stopping: {monitor: val_acuracy, patience: 3}\n")
    assert (d.code, d.span.line, d.span.col) == ("DLS102", 10, 29)
    assert d.message == "early_stopping monitors 'val_acuracy', which this run does not log"
    assert d.hint == "did you mean 'val_accuracy'? (the run logs one of: train_loss, " \
                     "val_accuracy, val_loss)"


def test_a_val_monitor_without_a_val_split_says_so(tmp_path):
    [d] = errors(tmp_path, MLP.replace("[0.8, 0.1, 0.1]", "[0.9, 0, 0.1]")
                 + "regularization: {early_stopping: {monitor: val_loss}}\n")
    assert (d.span.line, d.span.col) == (9, 44)
    assert d.hint.startswith("the val split is empty")


def test_a_loss_term_can_be_monitored_by_its_name(tmp_path):
    good = VAE + "regularization: {early_stopping: {monitor: val_loss_gaussian_kl}}\n"
    check(write(tmp_path, good))
    [d] = errors(tmp_path, VAE + "regularization: {early_stopping: {monitor: val_loss_kl}}\n")
    assert "val_loss_gaussian_kl" in d.hint  # every logged name is listed


def test_reduce_on_plateau_monitor_is_checked_too(tmp_path):
    [d] = errors(tmp_path, MLP + "schedule: {op: reduce_on_plateau, monitor: val_los}\n")
    assert (d.code, d.span.line, d.span.col) == ("DLS102", 9, 44)
    assert d.message.startswith("reduce_on_plateau monitors 'val_los'")
    assert d.hint.startswith("did you mean 'val_loss'?")


def test_metrics_the_task_cannot_report_are_located(tmp_path):
    [d] = errors(tmp_path, MLP + "train:\n  metrics: [r2]\n")
    assert (d.code, d.span.line, d.span.col) == ("DLS102", 10, 12)
    assert "metric 'r2' does not apply to a classification task" in d.message


def test_train_refuses_a_bad_monitor_before_making_a_run_folder(tmp_path):
    path = write(tmp_path, MLP + "regularization: {early_stopping: {monitor: val_acc}}\n")
    with pytest.raises(SpecError) as caught:
        train_spec(path, out_root=tmp_path / "runs", quiet=True)
    assert caught.value.diagnostics[0].span.line == 9
    assert not (tmp_path / "runs").exists()


def test_an_objective_says_what_its_run_logs(tmp_path):
    """simclr logs its loss and, on class labels, the embedding's k-NN accuracy."""
    spec = (SPECS / "simclr-digits.yaml").read_text()
    path = tmp_path / "simclr.yaml"
    for monitor, wrong in (("val_knn_accuracy", None), ("val_knn_acc", "val_knn_accuracy")):
        path.write_text(spec + "regularization: {early_stopping: {monitor: " + monitor
                        + ", patience: 3}}\n")
        if wrong is None:
            check(path)
            continue
        with pytest.raises(SpecError) as caught:
            check(path)
        (problem,) = caught.value.diagnostics
        assert problem.code == "DLS102" and wrong in problem.hint
        assert problem.span.line == len(spec.splitlines()) + 1
