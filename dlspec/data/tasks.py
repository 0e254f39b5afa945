"""The training tasks: what each one's targets are and what model output it trains on (no numpy,
no torch; `dlspec validate` imports this)."""

from __future__ import annotations

from typing import Literal, get_args

Task = Literal[
    "classification", "binary", "multilabel", "regression", "tagging", "language_model",
]
TASKS: tuple[Task, ...] = get_args(Task)

# The target of a padding position in tagging data: the loss and the metrics skip it
# (it is PyTorch's default ignore_index).
PAD_TARGET = -100
# The token id that pads a sequence in the built-in token datasets.
PAD_TOKEN = 0

# What the targets of each task are, which decides the losses that can train it:
# class indices (cross-entropy), 0/1 floats (binary cross-entropy) or real values.
TARGET_KIND: dict[Task, Literal["indices", "zero_one", "values"]] = {
    "classification": "indices", "tagging": "indices", "language_model": "indices",
    "binary": "zero_one", "multilabel": "zero_one",
    "regression": "values",
}
# Tasks with one target per sequence position: targets (n, T), outputs (n, T, classes).
PER_TOKEN: tuple[Task, ...] = ("tagging", "language_model")

DESCRIPTIONS: dict[Task, str] = {
    "classification": "one class per sample: outputs (N, classes), targets class indices",
    "binary": "two classes: outputs (N, 1) logits, targets 0/1",
    "multilabel": "any number of labels per sample: outputs (N, labels) logits, targets 0/1 "
                  "per label",
    "regression": "real targets: outputs (N, targets)",
    "tagging": "one class per sequence position: outputs (N, T, classes), targets (N, T); "
               "padding positions are skipped",
    "language_model": "next-token prediction: outputs (N, T, vocabulary), targets are the "
                      "input shifted by one token",
}


def same_targets(a: Task, b: Task) -> bool:
    """Whether two tasks take the same kind of targets (so the same losses fit both)."""
    return TARGET_KIND[a] == TARGET_KIND[b]


def uses_classes(task: Task) -> bool:
    """Whether the model outputs one score per class (or per label)."""
    return task != "regression"


def output_shape(task: Task, target_shape: tuple, classes: int) -> tuple:
    """The per-sample model output that trains on targets of `target_shape` (per sample).

    classification: (classes,); tagging and language modelling: (*target_shape, classes);
    binary, multilabel and regression: the target's own shape.
    """
    if task == "classification":
        return (classes,)
    if task in PER_TOKEN:
        return (*target_shape, classes)
    return tuple(target_shape)


def shape_text(sample_shape: tuple) -> str:
    """A per-sample shape with the batch dim, as the messages write it: (N, 16, 10)."""
    return "(" + ", ".join(["N", *(str(d) for d in sample_shape)]) + ")"
