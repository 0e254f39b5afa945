"""Small synthetic datasets and models shared by the tests in tests/train (numpy + torch)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dlspec.data.types import PreparedData, Split


def blobs(n_per_class: int = 100, classes: int = 3, features: int = 2, spread: float = 0.5,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs around well separated centres: x float32 (n, features), y int64 (n,)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-4, 4, size=(classes, features))
    angles = np.linspace(0, 2 * np.pi, classes, endpoint=False)
    centres[:, :2] = 4 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    x = np.concatenate([c + spread * rng.standard_normal((n_per_class, features)) for c in centres])
    y = np.repeat(np.arange(classes), n_per_class)
    order = rng.permutation(len(x))
    return x[order].astype(np.float32), y[order].astype(np.int64)


def split_three(x: np.ndarray, y: np.ndarray, fractions=(0.7, 0.15, 0.15)) -> tuple[Split, ...]:
    n = len(x)
    a = int(fractions[0] * n)
    b = a + int(fractions[1] * n)
    return (Split({"x": x[:a]}, y[:a]), Split({"x": x[a:b]}, y[a:b]),
            Split({"x": x[b:]}, y[b:]))


def classification_data(classes: int = 3, n_per_class: int = 100, seed: int = 0,
                        spread: float = 0.5) -> PreparedData:
    x, y = blobs(n_per_class, classes, spread=spread, seed=seed)
    train, val, test = split_three(x, y)
    return PreparedData(train, val, test, "classification",
                        [f"x{i}" for i in range(x.shape[1])],
                        [f"class{i}" for i in range(classes)],
                        mean=np.zeros(x.shape[1], np.float32), std=np.ones(x.shape[1], np.float32),
                        source="test:blobs")


def binary_data(seed: int = 0) -> PreparedData:
    x, y = blobs(100, 2, seed=seed)
    train, val, test = split_three(x, y.astype(np.float32).reshape(-1, 1))
    return PreparedData(train, val, test, "binary", ["x0", "x1"], ["no", "yes"])


def regression_data(outputs: int = 1, n: int = 300, seed: int = 0) -> PreparedData:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    weights = rng.standard_normal((3, outputs)).astype(np.float32)
    y = (x @ weights + 0.05 * rng.standard_normal((n, outputs))).astype(np.float32)
    train, val, test = split_three(x, y)
    return PreparedData(train, val, test, "regression", ["a", "b", "c"])


def mlp(inputs: int = 2, outputs: int = 3, hidden: int = 16, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


def digits_mlp_spec(name: str, recipe: str) -> str:
    """A small MLP spec on the digits (64 pixels -> 10 classes, with dropout, so its random
    streams matter) named `name`, followed by `recipe`: the YAML of its optimizer, schedule,
    data and train sections."""
    return f"""\
dlspec: 1
name: {name}
inputs: {{pixels: {{shape: [64]}}}}
model:
  - {{op: linear, name: fc1, out_features: 32}}
  - {{op: relu}}
  - {{op: dropout, p: 0.3}}
  - {{op: linear, name: logits, out_features: 10}}
loss: {{op: cross_entropy}}
{recipe}"""


def supervised_stepper(model: nn.Module, loss_fn: nn.Module, optimizer, precision,
                       regularization=None, scheduler=None):
    """A Stepper running `loss_fn` on a bare model's outputs (what a supervised run's
    objective does once prepared), with `optimizer`."""
    from dlspec.train.engine.steps import Learner, Stepper
    from dlspec.train.objectives.base import Context
    from dlspec.train.objectives.supervised import Supervised, SupervisedConfig
    from dlspec.train.recipe.config import RegularizationConfig

    objective = Supervised(SupervisedConfig(), Context({"model": model}, None, None, "cpu",
                                                       {}, {}, {}))
    objective.loss_fn = loss_fn
    learner = Learner.create(objective.update, optimizer, scheduler,
                             regularization or RegularizationConfig())
    return Stepper(model, objective, [learner], precision)
