"""Tiny searchable specs for the tests of dlspec search: a small perceptron on the digits,
a few epochs, its `search:` section given by each test."""

from __future__ import annotations

from pathlib import Path

BASE = """\
dlspec: 1
name: {name}
params: {{hidden: 16, classes: 10}}
inputs:
  pixels: {{shape: [64]}}
model:
  - {{op: linear, name: fc1, out_features: "${{hidden}}"}}
  - {{op: relu}}
  - {{op: linear, name: logits, out_features: "${{classes}}"}}
loss: {{op: cross_entropy}}
optimizer: {{op: adam, lr: 1.0e-2}}
regularization:
  early_stopping: {{monitor: val_accuracy, patience: 20}}
data: {{dataset: digits, split: [0.6, 0.4, 0.0], batch_size: 64, seed: 0}}
train: {{epochs: {epochs}, seed: 0}}
search:
{search}"""

# lr 3e-2 with 32 hidden units reaches ~0.93 val accuracy in 2 epochs; lr 1e-4 stays below
# 0.2 and 4 hidden units below 0.8: the grid's best is known
GRID_2X2 = """\
  sampler: grid
  space:
    optimizer.lr: {choice: [1.0e-4, 3.0e-2]}
    params.hidden: {choice: [4, 32]}
"""


def write_spec(folder: Path, search: str, *, name: str = "tiny", epochs: int = 2) -> Path:
    path = Path(folder) / f"{name}.yaml"
    path.write_text(BASE.format(name=name, epochs=epochs, search=search), encoding="utf-8")
    return path
