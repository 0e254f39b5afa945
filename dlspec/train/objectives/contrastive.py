"""Contrastive objectives: representations learned by comparing samples, not by fitting targets.

- `simclr` (Chen et al. 2020): every sample of a batch is augmented twice by the spec's
  `data.augment` (each view draws its own changes); both views go through the model in one
  forward, and NT-Xent on the projection output asks each view to pick its twin among the
  2N - 1 others. No labels are used.
- `triplet` (Hermans et al. 2017, batch-hard): on labelled data, for each anchor of a batch,
  its farthest positive (same class) and nearest negative (another class) must be apart by
  a margin.

Both read a projection output (what the loss compares) and may name an embedding output
(the representation a linear probe reads, before the projection head: see train/probe.py).
A validation pass reports the loss, and with class labels the leave-one-out k-NN accuracy
of the embedding. Torch is imported inside the run-time methods only.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from dlspec.errors import Diagnostic, TrainError, suggest
from dlspec.train.config_base import PositiveFloat
from dlspec.train.objectives.base import Objective, ObjectiveConfig, Roles, Update, model_role

if TYPE_CHECKING:
    import torch

    from dlspec.train.engine.batch import Tensors

KNN_NEIGHBOURS = 5
VIEW_SEED = 0  # the seed of the validation views, the same every epoch
AUGMENT_HINT = "add e.g. data.augment: {crop_padding: 1, rotate: 20, noise: 0.3}"

_MODEL = ("The model it trains, by name, in a spec with `models:`; default: the spec's "
          "(first) model.")
_EMBEDDING = ("The model output that is the learned representation (before the projection "
              "head): what a linear probe reads; validation reports the k-NN accuracy of "
              "the classes on it. Default: the projection output.")


class SimCLRConfig(ObjectiveConfig):
    """Self-supervised: NT-Xent between two augmented views of every sample."""

    op: Literal["simclr"] = Field(
        "simclr", description="SimCLR: two views of each sample made by data.augment, "
        "NT-Xent on the projection output. Uses no labels.")
    model: str | None = Field(None, description=_MODEL)
    projection: str = Field(description=(
        "The model output NT-Xent compares (the projection head's output, (N, D))."))
    embedding: str | None = Field(None, description=_EMBEDDING)
    temperature: PositiveFloat = Field(0.5, description=(
        "Softmax temperature of the cosine similarities (SimCLR: 0.1 to 0.5)."))


class TripletObjectiveConfig(ObjectiveConfig):
    """Supervised metric learning: batch-hard triplet loss on the data's class labels."""

    op: Literal["triplet"] = Field(
        "triplet", description="Triplet loss with batch-hard mining on the class labels: "
        "each anchor's farthest positive and nearest negative in the batch.")
    model: str | None = Field(None, description=_MODEL)
    projection: str = Field(description=(
        "The model output the distances are measured on (N, D)."))
    embedding: str | None = Field(None, description=_EMBEDDING)
    margin: PositiveFloat = Field(0.5, description=(
        "The gap required between an anchor's distance to its hardest negative and to its "
        "hardest positive."))
    normalize: bool = Field(True, strict=True, description=(
        "L2-normalize the projection first (distances in [0, 2]; FaceNet does)."))


def model_of(config: SimCLRConfig | TripletObjectiveConfig, spec: Any) -> str:
    """The model the objective trains: `model` (RoleError for one the spec lacks), else
    the spec's first."""
    return model_role(config, "model", spec) if config.model else spec.sections()[0].name


def contrastive_problems(config: SimCLRConfig | TripletObjectiveConfig, spec: Any
                         ) -> list[tuple[tuple, Diagnostic]]:
    """What keeps this objective from training `spec`, each with the spec key it is at
    (torch-free, for `dlspec validate`)."""
    name = model_of(config, spec)
    section = next(s for s in spec.sections() if s.name == name)
    outputs = tuple(section.outputs or ())
    problems = []
    for key in ("projection", "embedding"):
        output = getattr(config, key)
        if output is not None and output not in outputs:
            problems.append((("objective", key), Diagnostic(
                "DLS305", f"objective.{key}: '{output}' is not an output of model '{name}': "
                f"{suggest(output, outputs)}",
                hint="list the layer under the model's `outputs:`")))
    if len(section.inputs) != 1:
        problems.append((("objective", "op"), Diagnostic(
            "DLS402", f"{config.op} feeds the one input of model '{name}', which has "
            f"{len(section.inputs)}")))
    augment = spec.data.augment if spec.data is not None else None
    if augment is not None and augment.mixup:
        problems.append((("data", "augment", "mixup"), Diagnostic(
            "DLS402", f"data.augment.mixup blends samples, but {config.op} compares each "
            "sample with itself and with others", hint="remove data.augment.mixup")))
    if config.op == "simclr" and (augment is None or not augment.active()):
        problems.append((("objective", "op"), Diagnostic(
            "DLS402", "simclr compares two augmented views of each sample, but data.augment "
            "changes nothing: the views would be equal", hint=AUGMENT_HINT)))
    return problems


class _Contrastive(Objective):
    """What both objectives share: one model, its projection and embedding outputs, the
    validation numbers."""

    def __init__(self, config: SimCLRConfig | TripletObjectiveConfig, context):
        super().__init__(config, context)
        self.name = config.model or next(iter(self.models))
        self.model = self.models[self.name]
        outputs = tuple(context.output_names.get(self.name) or context.recipe.outputs)
        self.projection = outputs.index(config.projection) if len(outputs) > 1 else None
        embedding = config.embedding or config.projection
        self.embedding = outputs.index(embedding) if len(outputs) > 1 else None
        self.update = Update("loss", self.name)
        self.labelled = context.data.task == "classification"

    @classmethod
    def plan(cls, config: ObjectiveConfig, spec: Any) -> Roles:
        name = model_of(config, spec)
        return Roles(trained=(name,), data_model=name, reads_loss=False, models=(name,))

    @classmethod
    def problems(cls, config: ObjectiveConfig, spec: Any) -> list[tuple[tuple, Diagnostic]]:
        return contrastive_problems(config, spec)

    @classmethod
    def logged(cls, config: ObjectiveConfig, spec: Any
               ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        from dlspec.passes.check_data import task_of

        return ("loss",), ("knn_accuracy",) if task_of(spec) == "classification" else ()

    def updates(self) -> tuple[Update, ...]:
        return (self.update,)

    def metric_names(self) -> tuple[str, ...]:
        return ("knn_accuracy",) if self.labelled else ()

    def output(self, returned: Any, index: int | None) -> torch.Tensor:
        return (returned if index is None else returned[index]).flatten(1)

    @abstractmethod
    def batch_loss(self, batch: Tensors) -> torch.Tensor:
        """The loss of one batch (what the update minimizes, and evaluation averages)."""

    def evaluate(self, data: Tensors, prefix: str, batch_size: int) -> dict[str, float]:
        """The loss over the split in training-sized batches (in order; SimCLR's views drawn
        from a fixed seed, so epochs compare) and the k-NN accuracy of its embedding."""
        import torch

        from dlspec.train.scoring.probe import knn_accuracy

        if not len(data):
            return {}
        size, was_training = self.context.recipe.batch_size, self.model.training
        self.model.eval()
        total = 0.0
        devices = [data.device] if data.device.type == "cuda" else []
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            torch.manual_seed(VIEW_SEED)
            for start in range(0, len(data), size):
                rows = data.rows(slice(start, start + size))
                total += float(self.batch_loss(rows)) * len(rows)
            metrics = {f"{prefix}_loss": total / len(data)}
            if self.labelled:
                embedded = self.embed(data, batch_size)
                metrics[f"{prefix}_knn_accuracy"] = knn_accuracy(
                    embedded.cpu().numpy(), data.y.cpu().numpy(), KNN_NEIGHBOURS)
        self.model.train(was_training)
        return metrics

    def embed(self, data: Tensors, batch_size: int) -> torch.Tensor:
        """The embedding output of every row of `data` (the model as it is: call it in eval
        mode and without gradients)."""
        import torch

        from dlspec.train.engine.batch import forward

        return torch.cat([self.output(forward(self.model, data.rows(slice(i, i + batch_size))),
                                      self.embedding) for i in range(0, len(data), batch_size)])


class SimCLR(_Contrastive):
    """One update per step: NT-Xent between the projections of two views of the batch."""

    op = "simclr"
    Config = SimCLRConfig

    def prepare(self, train: Tensors) -> None:
        from dlspec.data.augment import Augmenter

        data = self.context.data
        if data.augment is None or not data.augment.active():
            raise TrainError(Diagnostic(
                "DLS402", "simclr needs data.augment to make two different views",
                hint=AUGMENT_HINT))
        self.augment = Augmenter(data.augment, data.task, data.num_classes)

    def views(self, batch: Tensors) -> Tensors:
        """The batch's two views, stacked: rows i and N + i are views of sample i."""
        import torch

        name, x = next(iter(batch.inputs.items()))
        first, _ = self.augment(x, batch.y)
        second, _ = self.augment(x, batch.y)
        return batch.replace({name: torch.cat([first, second])}, torch.cat([batch.y, batch.y]))

    def batch_loss(self, batch: Tensors) -> torch.Tensor:
        from dlspec.train.engine.batch import forward
        from dlspec.train.recipe.loss_functions import info_nce

        z = self.output(forward(self.model, self.views(batch)), self.projection)
        return info_nce(z[:len(batch)], z[len(batch):], temperature=self.config.temperature)

    def losses(self, update: Update, batch: Tensors) -> dict[str, torch.Tensor]:
        return {"loss": self.batch_loss(batch)}


class Triplet(_Contrastive):
    """One update per step: the batch-hard triplet loss of the (augmented) batch."""

    op = "triplet"
    Config = TripletObjectiveConfig

    def prepare(self, train: Tensors) -> None:
        from dlspec.data.augment import make_augmenter

        data = self.context.data
        if not self.labelled:
            raise TrainError(Diagnostic(
                "DLS402", f"triplet mines positives and negatives by class, but the task is "
                f"{data.task}", hint="train it on a classification dataset"))
        self.augment = make_augmenter(data.augment, data.task, data.num_classes)

    def batch_loss(self, batch: Tensors) -> torch.Tensor:
        import torch.nn.functional as F

        from dlspec.train.engine.batch import forward
        from dlspec.train.recipe.loss_functions import batch_hard_triplet

        z = self.output(forward(self.model, batch), self.projection)
        if self.config.normalize:
            z = F.normalize(z, dim=1)
        return batch_hard_triplet(z, batch.y, margin=self.config.margin)

    def losses(self, update: Update, batch: Tensors) -> dict[str, torch.Tensor]:
        if self.augment is not None:
            name, x = next(iter(batch.inputs.items()))
            batch = batch.replace({name: self.augment(x, batch.y)[0]})
        return {"loss": self.batch_loss(batch)}
