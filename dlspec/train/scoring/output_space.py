"""The space a model output is in, and how metrics and predictions read it (no torch).

Each loss declares the space of the output it reads (`LossBase.reads` in loss_config.py):
cross_entropy, bce_with_logits and focal read logits, bce reads probabilities, nll and kl_div
log-probabilities, the regression losses values in the targets' own units. Whatever reads a
trained model's output afterwards (the metrics, `dlspec evaluate`, `dlspec predict` on the
exported file, which records the space as metadata `output_space`) turns it into what the
task is scored on with `readout(space, task)`, so a model that ends in a sigmoid is never
passed through a second one.
"""

from __future__ import annotations

from typing import Literal, get_args

Space = Literal["logits", "probabilities", "log_probabilities", "values"]
SPACES: tuple[Space, ...] = get_args(Space)

DESCRIPTIONS: dict[Space, str] = {
    "logits": "unnormalized scores: a sigmoid per label (binary, multilabel) or a softmax "
              "over the classes turns them into probabilities",
    "probabilities": "probabilities in [0, 1] (the model ends in a sigmoid or a softmax)",
    "log_probabilities": "log-probabilities (the model ends in a log_softmax)",
    "values": "values in the units of the targets (regression)",
}

# What turns an output into the numbers a task is scored on: class or label probabilities
# for the class tasks, values in the targets' units for regression.
Readout = Literal["identity", "sigmoid", "softmax", "exp", "clip"]
_CLASS_TASKS = ("classification", "tagging", "language_model")  # one class among C
_LABEL_TASKS = ("binary", "multilabel")  # an independent yes/no per output


def readout(space: Space, task: str) -> Readout:
    """How an output in `space` becomes what `task` is scored on.

    binary, multilabel: the probability of each label (sigmoid of logits, exp of
    log-probabilities, probabilities clipped to [0, 1]); classification, tagging, language
    modelling: probabilities over the classes, last dim (softmax of logits or of
    log-probabilities, which for normalized log-probabilities is their exp); regression: the
    values themselves (exp of log-probabilities, which a kl_div model returns for target
    probabilities).
    """
    if space == "values" or (task == "regression" and space != "log_probabilities"):
        return "identity"
    if space == "probabilities":
        return "clip"
    if space == "log_probabilities":
        return "softmax" if task in _CLASS_TASKS else "exp"
    return "sigmoid" if task in _LABEL_TASKS else "softmax"


def parse_space(text: str | None, fallback: Space) -> Space:
    """A recorded space (metadata `output_space`), or `fallback` when none was recorded;
    ValueError for text that names no space."""
    if text is None:
        return fallback
    if text not in SPACES:
        raise ValueError(f"output_space must be one of {', '.join(SPACES)}, got {text!r}")
    return text  # type: ignore[return-value]


# What a model output's last layer says about its space (ops not listed say nothing), and the
# ops that pass their input's values through (looked through to find that layer).
OP_SPACES: dict[str, Space] = {
    "sigmoid": "probabilities", "hardsigmoid": "probabilities", "softmax": "probabilities",
    "log_softmax": "log_probabilities",
    **dict.fromkeys(("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                     "conv_transpose2d", "conv_transpose3d"), "logits"),
}
SAME_VALUES = ("identity", "flatten", "reshape", "squeeze", "unsqueeze", "permute",
               "transpose", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout")
_NAMES: dict[Space, str] = {"logits": "unbounded scores (logits)",
                            "probabilities": "probabilities",
                            "log_probabilities": "log-probabilities", "values": "values"}


def space_conflict(loss: str, reads: Space, layer: str, op: str, task: str,
                   subject: str | None = None) -> tuple[str, str] | None:
    """(message, hint) when loss `loss`, which reads outputs in `reads`, is given the output
    of layer `layer` (op `op`) whose space contradicts it; None when they agree or the op
    says nothing. A log_softmax output is fine for a softmax loss (it is its own logits).
    `subject` begins the message (default: "loss '<loss>'")."""
    made = OP_SPACES.get(op)
    if made is None or reads == "values" or made == reads or (
            reads == "logits" and made == "log_probabilities" and
            readout("logits", task) == "softmax"):
        return None
    message = (f"{subject or f'loss {loss!r}'} reads {_NAMES[reads]}, but the output '{layer}' comes from a "
               f"{op} layer, which gives {_NAMES[made]}: training, metrics and predictions "
               "would read it wrong")
    if reads == "logits":
        squash = "sigmoid" if readout("logits", task) == "sigmoid" else "softmax"
        hint = (f"drop the {op} layer: {loss} applies a {squash} itself, and metrics and "
                "predictions still come out as probabilities")
    elif reads == "probabilities":
        hint = (f"end the model with {{op: sigmoid}}, or use bce_with_logits on '{layer}'"
                if made == "logits" else f"use a sigmoid or softmax layer instead of {op}")
    else:
        hint = ("end the model with {op: log_softmax}" if made == "logits"
                else f"use log_softmax instead of {op}")
        if loss == "nll":
            hint += f", or use cross_entropy on the scores before the {op}" \
                if made != "logits" else ", or use cross_entropy on these scores"
    return message, hint
