"""Supervised training, the default objective: the model's outputs against the data's
targets (or against its own inputs, for an autoencoder), through the spec's `loss:`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from dlspec.train.objectives.base import Objective, ObjectiveConfig, Roles, Update

if TYPE_CHECKING:
    import torch

    from dlspec.train.engine.batch import Tensors


class SupervisedConfig(ObjectiveConfig):
    """Fit one model to its data with the spec's `loss:` (the default objective)."""

    op: Literal["supervised"] = Field(
        "supervised", description="Fit the model's outputs to the data's targets (or to its "
        "inputs) with the spec's `loss:`; the default.")


class Supervised(Objective):
    """One update per step: the loss of the model's outputs on the (augmented) batch."""

    op = "supervised"
    Config = SupervisedConfig
    shards_evaluation = True  # scoring/metrics.py: torchmetrics syncs, the sums are reduced

    @classmethod
    def plan(cls, config: ObjectiveConfig, spec: Any) -> Roles:
        name = spec.sections()[0].name
        return Roles(trained=(name,), data_model=name, models=(name,))

    def __init__(self, config: ObjectiveConfig, context):
        super().__init__(config, context)
        self.name, self.model = next(iter(self.models.items()))
        self.update = Update("loss", self.name)
        self.augment = None
        self.loss_fn = self.outputs = None
        self.metrics, self.num_classes = {}, 0

    def prepare(self, train: Tensors) -> None:
        """Check the model's scored output against the targets on two samples, and build
        the loss, the metrics and the augmenter."""
        from dlspec.data.augment import make_augmenter
        from dlspec.data.augment_config import target_losses
        from dlspec.train.scoring.metrics import build_metrics
        from dlspec.train.scoring.targets import checked_loss, run_metric_names

        data, recipe, device = self.context.data, self.context.recipe, self.context.device
        self.outputs, self.num_classes, self.loss_fn = checked_loss(
            self.model, train, data, recipe, device)
        self.names = run_metric_names(data.task, recipe.train.metrics, self.outputs)
        self.metrics = build_metrics(data.task, self.names, self.num_classes, device)
        self.augment = make_augmenter(data.augment, data.task, self.num_classes,
                                      target_losses(recipe.loss))

    def updates(self) -> tuple[Update, ...]:
        return (self.update,)

    def loss_keys(self, update: Update) -> tuple[str, ...]:
        return self.loss_fn.keys

    def losses(self, update: Update, batch: Tensors) -> dict[str, torch.Tensor]:
        from dlspec.train.engine.batch import forward

        if self.augment is not None:
            batch = self.augment_batch(batch)
        return self.loss_fn.parts(forward(self.model, batch), batch.y, batch.inputs)

    def augment_batch(self, batch: Tensors) -> Tensors:
        """data.augment applied to the model's (first) input, and mixup to the targets."""
        name, x = next(iter(batch.inputs.items()))
        x, y = self.augment(x, batch.y)
        return batch.replace({name: x}, y)

    def metric_names(self) -> tuple[str, ...]:
        return tuple(self.metrics)

    def evaluate(self, data: Tensors, prefix: str, batch_size: int) -> dict[str, float]:
        from dlspec.train.scoring.metrics import evaluate

        return evaluate(self.model, data, self.loss_fn, self.metrics, self.context.data.task,
                        prefix, self.outputs, batch_size)

    def after_test(self, run_dir: Any, data: Tensors) -> None:
        from dlspec.train.scoring.metrics import save_confusion_matrix

        save_confusion_matrix(run_dir, self.model, data, self.context.data,
                              self.context.recipe.train.metrics, self.outputs)

    def metadata(self) -> dict[str, str]:
        return self.outputs.metadata()
