"""The spec's `loss:` as pydantic models (no torch): one loss op, or a weighted sum of several.

Every loss term reads `output` (one or more model outputs, by name), compares it with
`target` (the data's targets, or a model input such as the image an autoencoder rebuilds)
and counts `weight` times in the total. `loss: {op: mse}` is a single term; a list of terms
is their weighted sum:

    loss:
      - {op: mse, output: recon, target: image}
      - {op: gaussian_kl, output: [mu, log_var], weight: 0.5}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from dlspec.train.config_base import PositiveFloat, StrictConfig, Task, op_names
from dlspec.train.scoring.output_space import Space

Reduction = Literal["mean", "batchmean"]
REDUCTION_TEXT = ("How element losses become one number: mean over every element, or "
                  "batchmean: summed over each sample, then averaged over the batch.")


def reduction_field(default: Reduction = "mean"):
    return Field(default, description=REDUCTION_TEXT)


def class_weights_field():
    return Field(None, min_length=2,
                 description="One weight > 0 per class, in class order, to rebalance rare "
                             "classes (the loss is their weighted mean over the samples).")


def ignore_index_field():
    return Field(None, description="A target class index that adds nothing to the loss and "
                                   "to its mean, e.g. the padding id of token sequences.")


class LossBase(StrictConfig):
    """What every loss term shares: the outputs it reads, what it compares them with, and
    its weight in the sum."""

    arity: ClassVar[int] = 1  # how many model outputs the op reads
    takes_target: ClassVar[bool] = True
    elementwise: ClassVar[bool] = False  # compares an output with a target of its own shape
    tasks: ClassVar[tuple[Task, ...]] = ()  # tasks its data targets fit (first: implied); () any
    # The space of the output it reads (see output_space.py): metrics and predictions read
    # the scored output in it.
    reads: ClassVar[Space] = "values"

    output: str | list[str] | None = Field(
        None, description="The model output(s) this loss reads, by layer name. Default: the "
                          "model's outputs, in order.")
    target: str | None = Field(
        None, description="What the output is compared with: the data's targets (default), "
                          "or the name of a model input (an autoencoder rebuilds its input).")
    weight: PositiveFloat = Field(1.0, description="Factor of this loss in the total.")

    @property
    def outputs(self) -> tuple[str, ...] | None:
        """The named outputs as a tuple, or None for the model's outputs in order."""
        if self.output is None:
            return None
        return (self.output,) if isinstance(self.output, str) else tuple(self.output)

    @property
    def output_space(self) -> Space:
        """The space of the output this term reads, relative to its targets."""
        return self.reads

    @model_validator(mode="after")
    def _fits_the_op(self) -> LossBase:
        op = getattr(self, "op", "")
        if self.outputs is not None and len(self.outputs) != self.arity:
            raise ValueError(f"{op} reads {self.arity} model output(s), but `output` names "
                             f"{len(self.outputs)}: {list(self.outputs)}")
        if self.target is not None and not self.takes_target:
            raise ValueError(f"{op} compares model outputs with each other and takes no "
                             "`target`; leave it out")
        return self


class MSEConfig(LossBase):
    """Mean squared error (L2) for regression."""

    elementwise: ClassVar[bool] = True
    tasks: ClassVar[tuple[Task, ...]] = ("regression",)
    op: Literal["mse"] = Field("mse", description="Mean squared error.")
    reduction: Reduction = reduction_field()


class MAEConfig(LossBase):
    """Mean absolute error (L1) for regression."""

    elementwise: ClassVar[bool] = True
    tasks: ClassVar[tuple[Task, ...]] = ("regression",)
    op: Literal["mae", "l1"] = Field("mae", description="Mean absolute error (L1 loss).")
    reduction: Reduction = reduction_field()


class HuberConfig(LossBase):
    """Huber loss: squared below `delta`, linear above it (robust regression)."""

    elementwise: ClassVar[bool] = True
    tasks: ClassVar[tuple[Task, ...]] = ("regression",)
    op: Literal["huber"] = Field("huber", description="Huber loss.")
    delta: PositiveFloat = Field(1.0, description="Error size where squared turns linear.")
    reduction: Reduction = reduction_field()


class SmoothL1Config(LossBase):
    """Smooth L1: Huber divided by `beta` (0.5 e^2 / beta below beta, |e| - beta/2 above)."""

    elementwise: ClassVar[bool] = True
    tasks: ClassVar[tuple[Task, ...]] = ("regression",)
    op: Literal["smooth_l1"] = Field("smooth_l1", description="Smooth L1 loss.")
    beta: float = Field(1.0, ge=0.0, description="Error size where squared turns linear "
                                                 "(0 is plain L1).")
    reduction: Reduction = reduction_field()


class BCEConfig(LossBase):
    """Binary cross-entropy on probabilities in [0, 1] (the model ends in a sigmoid)."""

    elementwise: ClassVar[bool] = True
    tasks: ClassVar[tuple[Task, ...]] = ("binary", "multilabel")
    reads: ClassVar[Space] = "probabilities"
    op: Literal["bce"] = Field("bce", description="Binary cross-entropy on probabilities.")
    reduction: Reduction = reduction_field()


class BCEWithLogitsConfig(LossBase):
    """Sigmoid binary cross-entropy on logits (n, k) against 0/1 targets (n, k)."""

    elementwise: ClassVar[bool] = True
    tasks: ClassVar[tuple[Task, ...]] = ("binary", "multilabel")
    reads: ClassVar[Space] = "logits"
    op: Literal["bce_with_logits"] = Field(
        "bce_with_logits", description="Binary cross-entropy on logits.")
    pos_weight: PositiveFloat | list[PositiveFloat] | None = Field(
        None, description="Weight of positive targets, e.g. #negatives / #positives for "
                          "imbalanced data; a list gives one per output column.")
    reduction: Reduction = reduction_field()


class CrossEntropyConfig(LossBase):
    """Softmax cross-entropy on logits (n, C) or (n, T, C) against class indices (n,) or
    (n, T), or against probabilities of the logits' shape (one-hot or soft targets)."""

    tasks: ClassVar[tuple[Task, ...]] = ("classification", "tagging", "language_model")
    reads: ClassVar[Space] = "logits"
    op: Literal["cross_entropy"] = Field(
        "cross_entropy", description="Multi-class cross-entropy on logits.")
    label_smoothing: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Mix the target with a uniform distribution: 0 is off, 0.1 is a common "
                    "choice.")
    class_weights: list[PositiveFloat] | None = class_weights_field()
    ignore_index: int | None = ignore_index_field()


class NLLConfig(LossBase):
    """Negative log-likelihood on log-probabilities (the model ends in a log_softmax)."""

    tasks: ClassVar[tuple[Task, ...]] = ("classification", "tagging", "language_model")
    reads: ClassVar[Space] = "log_probabilities"
    op: Literal["nll"] = Field("nll", description="Negative log-likelihood.")
    class_weights: list[PositiveFloat] | None = class_weights_field()
    ignore_index: int | None = ignore_index_field()


class FocalConfig(LossBase):
    """Focal loss (Lin et al., 2017): cross-entropy times (1 - p_t) ** gamma, so easy
    samples count less. Sigmoid per logit for binary and multilabel tasks, else softmax."""

    tasks: ClassVar[tuple[Task, ...]] = (
        "classification", "binary", "multilabel", "tagging", "language_model")
    reads: ClassVar[Space] = "logits"
    op: Literal["focal"] = Field("focal", description="Focal loss on logits.")
    gamma: float = Field(2.0, ge=0.0, description="Focusing power; 0 is cross-entropy.")
    alpha: Annotated[float, Field(ge=0.0, le=1.0)] | list[PositiveFloat] | None = Field(
        None, description="Binary: weight of positive targets in [0, 1], negatives get "
                          "1 - alpha (RetinaNet uses 0.25). Multi-class: one weight per "
                          "class. Default: unweighted.")


class KLDivConfig(LossBase):
    """KL divergence KL(target || model) from log-probabilities to target probabilities."""

    elementwise: ClassVar[bool] = True
    tasks: ClassVar[tuple[Task, ...]] = ("regression",)
    reads: ClassVar[Space] = "log_probabilities"
    op: Literal["kl_div"] = Field("kl_div", description="Kullback-Leibler divergence.")
    log_target: bool = Field(False, strict=True,
                             description="The targets are log-probabilities too.")
    reduction: Reduction = reduction_field("batchmean")

    @property
    def output_space(self) -> Space:
        """Log-probabilities against target probabilities; against log-probability targets
        (log_target) the output is in the targets' own units."""
        return "values" if self.log_target else self.reads


class GaussianKLConfig(LossBase):
    """KL(N(mean, exp(log_var)) || N(0, 1)) of a VAE's latent code, from its two outputs."""

    arity: ClassVar[int] = 2
    takes_target: ClassVar[bool] = False
    op: Literal["gaussian_kl"] = Field(
        "gaussian_kl", description="KL divergence of a diagonal Gaussian from N(0, I); "
                                   "output: [mean, log_var].")
    reduction: Reduction = reduction_field("batchmean")


class TripletConfig(LossBase):
    """Triplet margin loss max(d(a, p) - d(a, n) + margin, 0) on three embeddings."""

    arity: ClassVar[int] = 3
    takes_target: ClassVar[bool] = False
    op: Literal["triplet"] = Field(
        "triplet", description="Triplet margin loss; output: [anchor, positive, negative].")
    margin: float = Field(1.0, ge=0.0, description="Required gap between the distances.")
    p: PositiveFloat = Field(2.0, description="Norm degree of the distance.")
    swap: bool = Field(False, strict=True,
                       description="Use d(p, n) when it is smaller than d(a, n).")


class InfoNCEConfig(LossBase):
    """InfoNCE / NT-Xent (SimCLR): each embedding must pick its other view among the 2N - 1
    others of the batch, by cosine similarity / temperature."""

    arity: ClassVar[int] = 2
    takes_target: ClassVar[bool] = False
    op: Literal["info_nce", "nt_xent"] = Field(
        "info_nce", description="Contrastive loss over two views; output: [view1, view2].")
    temperature: PositiveFloat = Field(0.5, description="Softmax temperature (SimCLR: 0.5).")


class CosineEmbeddingConfig(LossBase):
    """1 - cos(x1, x2) for similar pairs (target 1), max(0, cos - margin) for dissimilar
    ones (any target <= 0)."""

    arity: ClassVar[int] = 2
    op: Literal["cosine_embedding"] = Field(
        "cosine_embedding", description="Cosine embedding loss; output: [x1, x2].")
    margin: float = Field(0.0, ge=-1.0, le=1.0,
                          description="Cosine below which dissimilar pairs cost nothing.")


LOSS_CLASSES: tuple[type[LossBase], ...] = (
    MSEConfig, MAEConfig, HuberConfig, SmoothL1Config, BCEConfig, BCEWithLogitsConfig,
    CrossEntropyConfig, NLLConfig, FocalConfig, KLDivConfig, GaussianKLConfig, TripletConfig,
    InfoNCEConfig, CosineEmbeddingConfig,
)
LossConfig = Annotated[
    MSEConfig | MAEConfig | HuberConfig | SmoothL1Config | BCEConfig | BCEWithLogitsConfig
    | CrossEntropyConfig | NLLConfig | FocalConfig | KLDivConfig | GaussianKLConfig
    | TripletConfig | InfoNCEConfig | CosineEmbeddingConfig,
    Field(discriminator="op"),
]
# What a spec's `loss:` holds: one loss, or a list of weighted loss terms that are summed.
# A list is the list form and anything else the single form, so a mistake is reported once,
# against the form that was written.
LossSpec = Annotated[
    Annotated[LossConfig, Tag("one")] |
    Annotated[list[LossConfig], Field(min_length=1), Tag("terms")],
    Discriminator(lambda value: "terms" if isinstance(value, list) else "one"),
]


# For each loss op: the data tasks its targets fit; the first is the task it implies.
LOSS_TASKS: dict[str, tuple[Task, ...]] = {
    op: cls.tasks for cls in LOSS_CLASSES for op in op_names(cls)}


def task_problem(term: LossBase, task: Task) -> tuple[str, str] | None:
    """(message, hint) when `term` compares with the data's targets but the task's targets
    are not the kind it reads (bce on class indices, mse on labels); else None."""
    expected = term.tasks
    if not (term.takes_target and term.target is None and expected) or task in expected:
        return None
    fitting = " or ".join(op for op, tasks in LOSS_TASKS.items() if tasks and tasks[0] == task)
    return (f"loss '{term.op}' is for {' or '.join(expected)} targets, but the data is a "
            f"{task} task", f"use the loss {fitting}, or set data.task to {expected[0]}")


def loss_terms(loss: LossConfig | list[LossConfig] | tuple) -> tuple[LossConfig, ...]:
    """The terms of a loss section (a single loss is one term)."""
    return tuple(loss) if isinstance(loss, list | tuple) else (loss,)


def term_labels(terms: Sequence[Any]) -> tuple[str, ...]:
    """A name per loss term (a config, or the built term: its `op` and `outputs`): its op, with the outputs it reads when two terms share an op,
    and its position when that is not enough (mse, gaussian_kl; cross_entropy_logits)."""
    ops = [term.op for term in terms]
    labels = [op if ops.count(op) == 1 else "_".join((op, *(term.outputs or ())))
              for op, term in zip(ops, terms, strict=True)]
    return tuple(label if labels.count(label) == 1 else f"{label}_{i + 1}"
                 for i, label in enumerate(labels))


def loss_keys(loss: LossConfig | list[LossConfig]) -> tuple[str, ...]:
    """The names a loss's values are logged under (after train_ and val_): 'loss', then
    'loss_<term>' per term when there are several (loss_mse, loss_gaussian_kl)."""
    terms = loss_terms(loss)
    return ("loss", *(f"loss_{label}" for label in (term_labels(terms) if len(terms) > 1
                                                     else ())))


def implied_task(loss: LossConfig | list[LossConfig] | None) -> Task | None:
    """The task the loss implies: that of the first term reading the data's targets."""
    for term in loss_terms(loss) if loss is not None else ():
        if term.takes_target and term.target is None and term.tasks:
            return term.tasks[0]
    return None


def data_target_term(loss: LossConfig | list[LossConfig] | None) -> LossConfig | None:
    """The first term comparing one model output with the data's targets: the output the
    task's metrics score. None when no term reads the targets (an autoencoder's loss
    compares with its input)."""
    for term in loss_terms(loss) if loss is not None else ():
        if term.takes_target and term.target is None and term.arity == 1:
            return term
    return None


def scored_space(loss: LossConfig | list[LossConfig] | None) -> Space | None:
    """The space of the output the data's targets score (see `data_target_term`); None when
    no term reads the targets."""
    term = data_target_term(loss)
    return None if term is None else term.output_space


def scored_output(loss: LossConfig | list[LossConfig] | None,
                  outputs: Sequence[str]) -> str | None:
    """The name of the model output that the data's targets score (see `data_target_term`),
    among the model's `outputs`; None when no term reads the targets, or when the model has
    several outputs and the term does not name one (the loss check reports that). Without a
    loss section the task's default loss reads the targets from the model's one output."""
    term = data_target_term(loss)
    if term is None and loss is not None:
        return None
    if term is not None and term.outputs:
        return term.outputs[0]
    return outputs[0] if len(outputs) == 1 else None
