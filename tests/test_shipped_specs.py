"""The shipped specs end to end: train (shortened where needed) to a stated score on real
data, export, and check that ONNX Runtime computes what PyTorch computes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dlspec.api import check, compile_module, export_spec, load_weights, train_spec
from dlspec.backends.onnx_runtime import predict_file, read_metadata
from dlspec.train.recipe.config import default_mode

SPECS = Path(__file__).resolve().parents[1] / "specs"

# spec -> (overrides that shorten the run, monitored metric, threshold it must reach; for
# a metric where lower is better, like perplexity, a bound it must stay under)
CASES = {
    "mlp-digits": ([], "val_accuracy", 0.95),
    "cnn-digits": (["train.epochs=6"], "val_accuracy", 0.97),
    "regression-diabetes": (["train.epochs=120"], "val_r2", 0.35),
    "multilabel-digits": (["train.epochs=3"], "val_f1", 0.93),
    "binary-breast-cancer": (["train.epochs=5"], "val_accuracy", 0.93),
    "lstm-brackets": (["train.epochs=2"], "val_accuracy", 0.93),
    # tokens 1-9 at random: chance is 1/9; a shorter sequence keeps the run short
    "gru-reverse": (["train.epochs=2", "data.samples=4000", "data.length=6"],
                    "val_accuracy", 0.5),
    # a uniform guess has perplexity 48, the text's character frequencies 18.2
    "gpt-chars": (["train.epochs=2", "data.samples=1000"], "val_perplexity", 16.0),
    "lstm-sine": (["train.epochs=2", "data.samples=1000"], "val_r2", 0.75),
    # rebuilding every validation image as the mean image costs 77.7 (squares summed per image)
    "vae-digits": (["train.epochs=15"], "val_loss_mse", 40.0),
}
SEQUENCES = ("lstm-brackets", "gru-reverse", "gpt-chars", "lstm-sine")  # not standardized


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return {name: train_spec(SPECS / f"{name}.yaml", overrides, out_root=out, quiet=True)
            for name, (overrides, _, _) in CASES.items()}


@pytest.mark.parametrize("name", CASES)
def test_trains_to_its_stated_score(runs, name):
    _, metric, threshold = CASES[name]
    value = runs[name].val_metrics[metric]
    assert value <= threshold if default_mode(metric) == "min" else value >= threshold, value


@pytest.mark.parametrize("name", CASES)
def test_run_directory_holds_everything(runs, name):
    run = Path(runs[name].run_dir)
    assert (run / "spec.yaml").read_text() == (SPECS / f"{name}.yaml").read_text()
    assert json.loads((run / "ir.json").read_text())["name"] == name
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + runs[name].epochs_run
    assert list(run.glob("tb/events.out.tfevents.*"))
    assert (run / "checkpoints" / "best.safetensors").stat().st_size > 0
    assert (run / "checkpoints" / "last.safetensors").stat().st_size > 0


@pytest.mark.parametrize("name", CASES)
def test_export_is_verified_by_onnx_runtime(runs, name, tmp_path):
    spec = SPECS / f"{name}.yaml"
    output = tmp_path / f"{name}.onnx"
    report = export_spec(spec, output, weights=runs[name].run_dir)
    worst = max(report.max_abs_diff.values())
    limit = 3e-5 if name in SEQUENCES else 1e-5  # recurrences and attention sum more terms
    assert worst <= (1e-6 * 300 if name == "regression-diabetes" else limit)  # |y| < 300
    assert report.check_batch != 2  # checked at a batch other than the export batch
    metadata = read_metadata(output)
    assert metadata["spec_name"] == name
    assert metadata["spec_sha256"] == hashlib.sha256(spec.read_bytes()).hexdigest()
    assert metadata["preprocessing"] == ("none" if name in SEQUENCES else "standardize")


@pytest.mark.parametrize("name, labels", [("binary-breast-cancer", 1), ("multilabel-digits", 3)])
def test_the_test_split_confusion_matrix_agrees_with_its_accuracy(runs, name, labels):
    saved = json.loads((Path(runs[name].run_dir) / "confusion_matrix.json").read_text())
    matrices = np.array(saved["matrix"]).reshape(labels, 2, 2)  # [true][predicted]
    right = np.trace(matrices, axis1=1, axis2=2).sum()
    assert right / matrices.sum() == pytest.approx(runs[name].test_metrics["test_accuracy"])
    assert saved["classes"] == (["malignant", "benign"] if labels == 1
                                else ["even", "at_least_5", "prime"])


def test_predictions_from_raw_features_match_the_trained_model(runs, tmp_path):
    """The exported file takes raw features: standardization is inside it."""
    from sklearn.datasets import load_digits

    spec = SPECS / "mlp-digits.yaml"
    model_path = tmp_path / "mlp.onnx"
    export_spec(spec, model_path, weights=runs["mlp-digits"].run_dir)
    digits = load_digits()
    samples = tmp_path / "digits.csv"
    np.savetxt(samples, digits.data[:300], delimiter=",", fmt="%g")
    predict_file(model_path, samples, tmp_path / "out.csv")
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0].split(",")[:3] == ["prediction", "p_0", "p_1"]
    predicted = [line.split(",")[0] for line in lines[1:]]

    module, _ = load_weights(compile_module(check(spec)), runs["mlp-digits"].run_dir)
    with torch.inference_mode():
        logits = module.eval()(torch.tensor(digits.data[:300], dtype=torch.float32))
    assert predicted == [str(int(i)) for i in logits.argmax(1)]
    assert np.mean(np.array(predicted) == digits.target[:300].astype(str)) >= 0.95


def test_failed_export_leaves_an_existing_file_untouched(runs, tmp_path):
    output = tmp_path / "model.onnx"
    output.write_bytes(b"previous export")
    from dlspec.errors import ExportError

    with pytest.raises(ExportError) as caught:  # an impossible tolerance forces DLS502
        export_spec(SPECS / "mlp-digits.yaml", output, weights=runs["mlp-digits"].run_dir,
                    overrides=["export.tolerance=1e-300", "export.rtol=0"])
    assert caught.value.codes == ["DLS502"]
    assert output.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
