"""The spec's `loss:` as one torch module: the weighted sum of its terms, checked against the
task, the data and the model's outputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlspec.errors import Diagnostic, TrainError, suggest
from dlspec.train.config_base import Task
from dlspec.train.recipe.loss_config import LossBase, loss_terms, task_problem, term_labels
from dlspec.train.recipe.loss_functions import (
    IGNORE_NONE,
    binary_focal,
    cosine_embedding,
    cross_entropy,
    focal,
    gaussian_kl,
    info_nce,
    nll,
    reduce,
)

TERM_FIELDS = {"op", "output", "target", "weight"}
ELEMENTWISE: dict[str, Callable[..., torch.Tensor]] = {
    "mse": F.mse_loss, "mae": F.l1_loss, "l1": F.l1_loss, "huber": F.huber_loss,
    "smooth_l1": F.smooth_l1_loss, "bce": F.binary_cross_entropy,
    "bce_with_logits": F.binary_cross_entropy_with_logits, "kl_div": F.kl_div,
}
FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    "cross_entropy": cross_entropy, "nll": nll, "gaussian_kl": gaussian_kl,
    "triplet": F.triplet_margin_loss, "info_nce": info_nce, "nt_xent": info_nce,
    "cosine_embedding": cosine_embedding,
}
Outputs = torch.Tensor | Sequence[torch.Tensor] | Mapping[str, torch.Tensor]


def elementwise(prediction: torch.Tensor, target: torch.Tensor, *, function: Callable,
                reduction: str, **options: Any) -> torch.Tensor:
    """A torch loss computed per element, then reduced (mean or batchmean)."""
    values = function(prediction, target.to(prediction.dtype), reduction="none", **options)
    return reduce(values, reduction)


class LossTerm(nn.Module):
    """One loss op with its settings; its weight tensors are buffers, so `.to()` moves them."""

    def __init__(self, config: LossBase, function: Callable, options: dict[str, Any],
                 tensors: dict[str, torch.Tensor]):
        super().__init__()
        self.op, self.factor = config.op, config.weight
        self.outputs, self.target = config.outputs, config.target
        self.arity, self.takes_target = config.arity, config.takes_target
        self.function, self.options = function, options
        self.tensor_names = tuple(tensors)
        for name, tensor in tensors.items():
            self.register_buffer(name, tensor)

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        tensors = {name: getattr(self, name) for name in self.tensor_names}
        return self.function(*args, **self.options, **tensors)


class SpecLoss(nn.Module):
    """The total loss: sum of weight * term over the terms.

    Called as `loss(outputs, targets, inputs=None)`: `outputs` is the model's tensor, or its
    outputs as a tuple (in `output_names` order) or a dict by name; `inputs` (a tensor, or a
    dict by input name) is needed only by terms whose target is a model input.
    """

    def __init__(self, terms: Sequence[LossTerm], output_names: Sequence[str] = ()):
        super().__init__()
        self.terms = nn.ModuleList(terms)
        self.output_names = tuple(output_names)
        self.labels = term_labels(terms) if len(terms) > 1 else ()

    @property
    def keys(self) -> tuple[str, ...]:
        """The names `parts` gives its values: 'loss', then 'loss_<term>' per term when
        there are several (e.g. loss_mse, loss_gaussian_kl)."""
        return ("loss", *(f"loss_{label}" for label in self.labels))

    def forward(self, outputs: Outputs, targets: torch.Tensor | None = None,
                inputs: torch.Tensor | Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        total = None
        for term in self.terms:
            value = self._term_value(term, outputs, targets, inputs)
            value = value if term.factor == 1.0 else term.factor * value
            total = value if total is None else total + value
        return total

    def parts(self, outputs: Outputs, targets: torch.Tensor | None = None,
              inputs: torch.Tensor | Mapping[str, torch.Tensor] | None = None
              ) -> dict[str, torch.Tensor]:
        """The total loss and, when there are several terms, each term's value before its
        weight, named as in `keys`."""
        if not self.labels:
            return {"loss": self(outputs, targets, inputs)}
        values = [self._term_value(term, outputs, targets, inputs) for term in self.terms]
        total = sum(term.factor * value for term, value in zip(self.terms, values, strict=True))
        return {"loss": total, **{f"loss_{label}": value
                                  for label, value in zip(self.labels, values, strict=True)}}

    def _term_value(self, term: LossTerm, outputs: Outputs, targets: torch.Tensor | None,
                    inputs: torch.Tensor | Mapping[str, torch.Tensor] | None) -> torch.Tensor:
        args = self._outputs_for(term, outputs)
        if term.takes_target:
            args.append(_target_for(term, targets, inputs))
        return term(*args)

    def _outputs_for(self, term: LossTerm, outputs: Outputs) -> list[torch.Tensor]:
        if isinstance(outputs, torch.Tensor):
            if term.arity != 1:
                raise _error(f"loss '{term.op}' reads {term.arity} model outputs, but the model "
                             "returns one tensor", "list the model's outputs under `outputs`")
            return [outputs]
        if isinstance(outputs, Mapping):
            named = dict(outputs)
        else:  # a tuple in output_names order; unnamed, its positions are its names
            keys = self.output_names or [str(i) for i in range(len(outputs))]
            named = dict(zip(keys, outputs, strict=True))
        names = term.outputs or tuple(named)
        if len(names) != term.arity:
            raise _error(f"loss '{term.op}' reads {term.arity} model output(s), but the model "
                         f"returns {len(names)}: {list(names)}",
                         f"name the output(s) it reads: output: {list(names)[:term.arity]}")
        missing = [name for name in names if name not in named]
        if missing:
            raise TrainError(Diagnostic("DLS305", f"loss '{term.op}' reads the output "
                                                  f"'{missing[0]}', which the model does not "
                                                  "return", hint=suggest(missing[0], named)))
        return [named[name] for name in names]


def _target_for(term: LossTerm, targets: torch.Tensor | None,
                inputs: torch.Tensor | Mapping[str, torch.Tensor] | None) -> torch.Tensor:
    if term.target is None:
        if targets is None:
            raise _error(f"loss '{term.op}' compares with the data's targets, but none were "
                         "given", None)
        return targets
    if inputs is None:
        raise _error(f"loss '{term.op}' compares with the model input '{term.target}', but "
                     "the inputs were not passed to the loss", None)
    return inputs if isinstance(inputs, torch.Tensor) else inputs[term.target]


def build_loss(loss, task: Task, num_classes: int = 0, output_names: Sequence[str] = (),
               input_names: Sequence[str] = ()) -> SpecLoss:
    """The loss module of a `loss:` section (one loss or a list of weighted terms).

    Every term is mean-reduced over the samples (or `reduction: batchmean`), so a batch's loss
    is an average. Raises TrainError DLS402 when a term reading the data's targets does not
    fit the task (e.g. mse on class labels) or the class count; with `output_names` /
    `input_names` given, a term naming an unknown output (DLS305) or input (DLS301).
    """
    terms = []
    for term in loss_terms(loss):
        _check_term(term, task, output_names, input_names)
        terms.append(LossTerm(term, *_parts(term, task, num_classes)))
    return SpecLoss(terms, output_names)


def _check_term(term: LossBase, task: Task, output_names: Sequence[str],
                input_names: Sequence[str]) -> None:
    problem = task_problem(term, task)
    if problem:
        raise _error(*problem)
    unknown = [n for n in term.outputs or () if output_names and n not in output_names]
    if unknown:
        raise TrainError(Diagnostic("DLS305", f"loss '{term.op}' reads the output "
                                              f"'{unknown[0]}', which the model does not have",
                                    hint=suggest(unknown[0], output_names)))
    if term.target is not None and input_names and term.target not in input_names:
        raise TrainError(Diagnostic("DLS301", f"loss '{term.op}' compares with '{term.target}'"
                                              ", which is not a model input",
                                    hint=suggest(term.target, input_names)))


def _parts(config: LossBase, task: Task,
           num_classes: int) -> tuple[Callable, dict[str, Any], dict[str, torch.Tensor]]:
    """The function, its settings and its weight tensors for one loss term."""
    tensor_fields = {"class_weights", "pos_weight", "alpha"}
    options = config.model_dump(exclude=TERM_FIELDS | tensor_fields)
    if "ignore_index" in options and options["ignore_index"] is None:
        options["ignore_index"] = IGNORE_NONE
    tensors: dict[str, torch.Tensor] = {}
    if getattr(config, "class_weights", None) is not None:
        tensors["weight"] = _per_class(config.class_weights, num_classes, "class_weights")
    if getattr(config, "pos_weight", None) is not None:
        tensors["pos_weight"] = torch.tensor(config.pos_weight, dtype=torch.float32).reshape(-1)
    if config.op in ELEMENTWISE:
        return elementwise, {"function": ELEMENTWISE[config.op], **options}, tensors
    if config.op != "focal":
        return FUNCTIONS[config.op], options, tensors
    if task in ("binary", "multilabel"):
        if isinstance(config.alpha, list):
            raise _error("a binary focal loss takes one alpha in [0, 1], not a list",
                         "alpha: 0.25 weighs the positive class 0.25 and the negative 0.75")
        return binary_focal, {**options, "alpha": config.alpha}, tensors
    if isinstance(config.alpha, list):
        tensors["class_alpha"] = _per_class(config.alpha, num_classes, "alpha")
        return focal, options, tensors
    return focal, {**options, "alpha": config.alpha}, tensors


def _per_class(weights: list[float], num_classes: int, key: str) -> torch.Tensor:
    if num_classes and len(weights) != num_classes:
        raise _error(f"{key} has {len(weights)} weights but the data has {num_classes} "
                     "classes", "give one weight per class, in the order of the class names")
    return torch.tensor(weights, dtype=torch.float32)


def _error(message: str, hint: str | None) -> TrainError:
    return TrainError(Diagnostic("DLS402", message, hint=hint))

