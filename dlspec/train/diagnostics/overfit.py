"""--overfit-batch N: can the model memorize N training examples?

The canon's first debugging step: train on the same N examples every step (one batch of N,
no validation, test or early stopping). A model, loss and optimizer that work reach 100%
accuracy on them (R² near 1 for regression); one that does not has a bug worth finding
before any long run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dlspec.data.types import PreparedData
from dlspec.errors import Diagnostic, TrainError
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import METRICS

R2_MEMORIZED = 0.99


def overfit_setup(data: PreparedData, recipe: Recipe, samples: int,
                  steps: int) -> tuple[PreparedData, Recipe]:
    """The data (the first `samples` train examples, no val or test) and the recipe (one
    batch of them per step, `steps` steps, no early stopping) of an overfit run."""
    if not 1 <= samples <= len(data.train):
        raise TrainError(Diagnostic(
            "DLS102", f"--overfit-batch {samples}: the train split has {len(data.train)} "
                      "examples", hint="choose a number between 1 and that, e.g. 32"))
    empty = data.train.rows(slice(0, 0))
    data = replace(data, train=data.train.rows(slice(0, samples)), val=empty, test=empty)
    train = recipe.train.model_copy(update={
        "epochs": steps, "checkpoint_every": steps, "checkpoint_every_steps": None,
        "accumulate": 1})
    regularization = recipe.regularization.model_copy(update={"early_stopping": None})
    return data, replace(recipe, train=train, regularization=regularization,
                         batch_size=samples)


@dataclass(frozen=True)
class OverfitReport:
    """How well the model fits the examples it was trained on, measured in eval mode."""

    samples: int
    steps: int
    metrics: dict[str, float]  # train_loss, and train_accuracy or train_r2

    @property
    def memorized(self) -> bool | None:
        """Accuracy 1.0 (R² >= 0.99 for regression); None when the task has neither."""
        if "train_accuracy" in self.metrics:
            return self.metrics["train_accuracy"] == 1.0
        if "train_r2" in self.metrics:
            return self.metrics["train_r2"] >= R2_MEMORIZED
        return None

    def line(self) -> str:
        numbers = ", ".join(f"{k.removeprefix('train_')} {v:.4f}"
                            for k, v in self.metrics.items())
        verdict = {True: "memorized", False: "did NOT memorize", None: "trained on"}
        text = (f"{verdict[self.memorized]} {self.samples} examples in {self.steps} steps "
                f"({numbers})")
        if self.memorized is False:
            text += ("; a working model should: check the model, the loss and the learning "
                     "rate (try `dlspec lr-find`)")
        return text


def memorization_metrics(task: str) -> tuple[str, ...]:
    """The metric that tells whether a task's examples were memorized."""
    return tuple(name for name in ("accuracy", "r2") if name in METRICS.get(task, ()))[:1]
