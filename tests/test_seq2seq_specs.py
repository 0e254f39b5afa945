"""The seq2seq specs train on `reverse` with teacher forcing (shortened runs) to a test token
accuracy that an untrained model, or one that does not read the source, cannot reach: fed
the target so far, a source-blind decoder guesses each next token among 9 and where EOS falls."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from dlspec.api import check, compile_module, load_data, train_spec

SPECS = Path(__file__).resolve().parents[1] / "specs"
SHORT = ["data.samples=4000", "data.length=8", "train.epochs=3"]
CASES = {"reverse-gru-attention": SHORT, "reverse-transformer": SHORT}
THRESHOLD = 0.9


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_trains_to_high_token_accuracy(name, tmp_path):
    result = train_spec(SPECS / f"{name}.yaml", CASES[name], out_root=tmp_path, quiet=True)
    assert result.test_metrics["test_accuracy"] >= THRESHOLD, result.test_metrics
    with (Path(result.run_dir) / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and float(rows[-1]["val_accuracy"]) >= THRESHOLD  # every epoch


@pytest.mark.parametrize("name", CASES)
def test_untrained_token_accuracy_is_far_below_the_threshold(name):
    checked = check(SPECS / f"{name}.yaml", CASES[name])
    test = load_data(checked).test
    model = compile_module(checked).eval()
    with torch.no_grad():
        logits = model(*(torch.from_numpy(x) for x in test.inputs.values()))
    y = torch.from_numpy(test.y)
    real = y != -100
    assert (logits.argmax(-1)[real] == y[real]).float().mean() < 0.25
