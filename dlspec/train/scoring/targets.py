"""The model's scored output against the data's targets: checked on two train samples
before a supervised run (or an evaluation) starts, which also tells the number of classes
the loss and the metrics need."""

from __future__ import annotations

import torch

from dlspec.data.tasks import output_shape, shape_text
from dlspec.data.types import PreparedData
from dlspec.errors import Diagnostic, TrainError
from dlspec.train.engine.batch import Tensors, forward
from dlspec.train.recipe import MetricChoiceError, Recipe, metric_names
from dlspec.train.recipe.losses import SpecLoss, build_loss
from dlspec.train.scoring.outputs import ModelOutputs


def checked_loss(model: torch.nn.Module, tensors: Tensors, data: PreparedData,
                 recipe: Recipe, device: str | torch.device
                 ) -> tuple[ModelOutputs, int, SpecLoss]:
    """The model's outputs (checked against the targets on two samples), the number of
    classes, and the recipe's loss on `device`."""
    outputs = ModelOutputs.of(recipe)
    num_classes = check_outputs(model, tensors, data, outputs)
    loss_fn = build_loss(recipe.loss, data.task, num_classes, recipe.outputs, recipe.inputs)
    return outputs, num_classes, loss_fn.to(device)


def run_metric_names(task: str, asked: list[str] | None, outputs: ModelOutputs
                     ) -> tuple[str, ...]:
    """The metrics a run measures (recipe.metric_names); TrainError DLS102 for a metric the
    task lacks, or metrics with nothing to score."""
    try:
        return metric_names(task, asked, scored=outputs.scored is not None)
    except MetricChoiceError as error:
        raise TrainError(Diagnostic("DLS102", str(error), hint=error.hint)) from error


def check_outputs(model: torch.nn.Module, tensors: Tensors, data: PreparedData,
                  outputs: ModelOutputs) -> int:
    """Run the model on two train samples and check that its scored output fits the targets.

    Returns the number of classes (from the data, else from the output width; 0 for
    regression). Raises TrainError DLS402 when the output shape cannot feed the loss.
    """
    was_training = model.training
    model.eval()
    with torch.no_grad():  # not inference_mode: fsdp gathers weights that training reuses
        returned = forward(model, tensors.rows(slice(0, 2)))
    model.train(was_training)
    outputs.check_count(returned)
    out = outputs.scored_tensor(returned)
    if out is None:  # the loss reads no targets: nothing to fit them
        return data.num_classes
    got = "(N, " + ", ".join(str(d) for d in out.shape[1:]) + ")"
    if data.task == "classification":
        classes = data.num_classes or (out.shape[-1] if out.ndim == 2 else 0)
        if out.ndim != 2 or out.shape[1] != classes:
            raise _mismatch(f"the model outputs {got} but the data has {classes} classes",
                            f"end the model with a linear layer of out_features: {classes}")
        return classes
    classes = data.num_classes or int(out.shape[-1])
    want = output_shape(data.task, tuple(tensors.y.shape[1:]), classes)  # (T, classes) per token
    if tuple(out.shape[1:]) != want:
        raise _mismatch(f"the model outputs {got} but the {data.task} targets are "
                        f"{shape_text(tuple(tensors.y.shape[1:]))}: they need {shape_text(want)}",
                        f"end the model with a linear layer of out_features: {want[-1]}"
                        if want else None)
    return 0 if data.task in ("binary", "regression") else classes


def _mismatch(message: str, hint: str | None) -> TrainError:
    return TrainError(Diagnostic("DLS402", message, hint=hint))
