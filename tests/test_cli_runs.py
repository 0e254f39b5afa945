"""The commands around runs, as a user types them: a start that fails leaves no folder,
Ctrl-C tells how to resume, a finished run is extended, and evaluate/export/plot take a run
folder alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlspec.cli import app

SPECS = Path(__file__).resolve().parents[1] / "specs"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_a_data_section_no_training_can_feed_is_refused_by_train_and_lr_find(tmp_path):
    spec = tmp_path / "dcgan.yaml"
    spec.write_text((SPECS / "dcgan.yaml").read_text() + "data: {dataset: digits}\n")
    line = spec.read_text().count("\n")
    for command in (["train", spec, "--out", tmp_path / "runs"], ["lr-find", spec]):
        result = run(*command)
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert f"dcgan.yaml:{line}:1: error DLS402: this spec has 2 models (generator, " \
               "discriminator), and the supervised objective trains one" in result.output
    assert not (tmp_path / "runs").exists()


def test_a_start_that_fails_leaves_no_run_folder_and_its_name_can_be_used_again(tmp_path):
    import torch

    spec, out = SPECS / "mlp-digits.yaml", tmp_path / "runs"
    if not torch.cuda.is_available():
        cuda = run("train", spec, "--device", "cuda", "--name", "a", "--out", out, "--quiet")
        assert cuda.exit_code == 1
        assert "error DLS403: train.device is 'cuda' but PyTorch sees no CUDA GPU" in cuda.output
        assert not out.exists()
    monitor = run("train", spec, "--set", "regularization.early_stopping.monitor=val_acc",
                  "--name", "a", "--out", out, "--quiet")
    assert monitor.exit_code == 1 and "val_acc" in monitor.output  # validate may catch it
    assert not out.exists()
    # fails at step 3 of epoch 1, before any checkpoint: the folder it had made goes again
    broken = run("train", spec, "--set", "optimizer.lr=1e30", "--detect-anomaly", "--name", "a",
                 "--out", out, "--quiet")
    assert broken.exit_code == 1 and "at epoch 1, step 3" in broken.output
    assert list(out.iterdir()) == []
    again = run("train", spec, "--epochs", "1", "--name", "a", "--out", out, "--quiet")
    assert again.exit_code == 0, again.output
    assert [p.name for p in out.iterdir()] == ["a"]  # no staging folder left beside it
    assert sorted(p.name for p in (out / "a").iterdir()) == [
        "checkpoints", "grad_norms.csv", "ir.json", "metrics.csv", "result.json", "run.json",
        "spec.yaml", "tb"]
    taken = run("train", spec, "--epochs", "1", "--name", "a", "--out", out, "--quiet")
    assert taken.exit_code == 1 and f"run folder {out / 'a'} already holds a run" in taken.output
    resumed = run("train", "--resume", out / "a", "--name", "b")
    assert resumed.exit_code == 2 and "a resumed run goes on in its own folder" in resumed.output
    assert [p.name for p in out.iterdir()] == ["a"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """mlp-digits trained for 2 epochs with --set hidden=32."""
    out = tmp_path_factory.mktemp("runs")
    result = run("train", SPECS / "mlp-digits.yaml", "--set", "hidden=32", "--epochs", "2",
                 "--name", "small", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    return out / "small"


def test_evaluate_takes_a_run_folder_alone_with_its_overrides(small):
    alone = run("evaluate", small, "--split", "val", "--json")
    assert alone.exit_code == 0, alone.output
    repeated = run("evaluate", SPECS / "mlp-digits.yaml", "--weights", small, "--set",
                   "hidden=32", "--split", "val", "--json")
    assert repeated.exit_code == 0, repeated.output  # the old form still works
    report = json.loads(alone.output)
    assert report == json.loads(repeated.output)
    assert report["samples"] == 180 and report["weights"] == str(
        small / "checkpoints" / "best.safetensors")
    forgot = run("evaluate", SPECS / "mlp-digits.yaml", "--weights", small)
    assert forgot.exit_code == 1
    assert "error DLS404: checkpoint does not fit the model (different shape: fc1.bias" \
        in forgot.output
    assert ("help: the run was trained with the overrides --set hidden=32 --set "
            "train.epochs=2 (given: none); pass the run folder in place of the spec to use "
            f"its own spec and overrides: `dlspec evaluate {small}`") in forgot.output
    nothing = run("evaluate", SPECS / "mlp-digits.yaml")
    assert nothing.exit_code == 1 and "error DLS404: no weights to evaluate" in nothing.output


def test_export_takes_a_run_folder_and_refuses_to_export_random_weights(small, tmp_path):
    from dlspec.backends.onnx_runtime import read_metadata

    model = tmp_path / "small.onnx"
    result = run("export", small, "-o", model)
    assert result.exit_code == 0, result.output
    metadata = read_metadata(model)
    assert metadata["preprocessing"] == "standardize"
    assert json.loads(metadata["class_names"]) == [str(d) for d in range(10)]
    forgot = run("export", SPECS / "mlp-digits.yaml", "--weights", small, "-o", tmp_path / "f")
    assert forgot.exit_code == 1 and f"`dlspec export {small}`" in forgot.output

    random = tmp_path / "random.onnx"
    refused = run("export", SPECS / "mlp-digits.yaml", "-o", random)
    assert refused.exit_code == 1
    assert ("error DLS501: no trained weights to export: the file would hold freshly "
            "initialized weights, without the training's preprocessing and class names"
            in refused.output)
    assert "--untrained exports the untrained model on purpose" in refused.output
    assert not random.exists()
    both = run("export", SPECS / "mlp-digits.yaml", "--weights", small, "--untrained", "-o",
               random)
    assert both.exit_code == 1 and "--weights was given too" in both.output
    assert not random.exists()
    untrained = run("export", SPECS / "mlp-digits.yaml", "--untrained", "-o", random)
    assert untrained.exit_code == 0, untrained.output
    assert read_metadata(random)["preprocessing"] == "none"


@pytest.mark.parametrize("command, api_function, line", [
    (["lr-find", SPECS / "mlp-digits.yaml"], "lr_find_spec", "interrupted: dlspec lr-find stopped"),
    (["train", SPECS / "mlp-digits.yaml", "--overfit-batch", "8"], "overfit_spec",
     "interrupted: dlspec train stopped"),
    (["evaluate", SPECS / "mlp-digits.yaml", "--weights", SPECS / "mlp-digits.yaml"],
     "evaluate_spec", "interrupted: dlspec evaluate stopped"),
])
def test_ctrl_c_outside_a_run_ends_with_a_line_and_130(command, api_function, line,
                                                       monkeypatch):
    import dlspec.api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dlspec.api, api_function, interrupted)
    result = run(*command)
    assert result.exit_code == 130, result.output
    assert isinstance(result.exception, SystemExit)  # no KeyboardInterrupt traceback
    assert result.output.strip().splitlines()[-1] == line
