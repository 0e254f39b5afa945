"""What every training objective declares, and the run-time context it is built with.

An objective is ONE declaration (a subclass of `Objective` in a file of its own):

- its `Config`, a pydantic model with `op: Literal[...]`: the spec's `objective:` section;
- its static side, read by `dlspec validate` without torch: `plan(config, spec)` says which
  of the spec's models it trains (`Roles.trained`), which model the data feeds
  (`Roles.data_model`: the objective feeds the others itself, e.g. a generator's noise;
  `Roles.data_inputs`: which of its inputs, when the objective feeds some, e.g. a
  denoiser's timestep), and whether it reads the spec's `loss:` section; `problems` and
  `graph_problems` what else keeps the spec from training, located at its keys;
- its steps: `updates()` lists the optimizer updates of a training step (which model each
  one updates, and how often), `losses(update, batch)` computes what an update minimizes;
- `evaluate(data, prefix)`: the numbers a validation or test pass reports.

The loop never branches on the objective: it runs the due updates of each step with their
model's optimizer, schedule, clipping and loss scaling, so precision, accumulation,
checkpoints and resume work for every objective at once. During an update the parameters of
the other models are frozen (no gradient), so an update may call any model: a generator's
output seen by the discriminator, or a discriminator judging the generator's samples.
Random draws use torch's generator on the batch's device, which runs seed and resumes.

An objective module imports torch only inside its run-time methods, so that the spec's
schema (and `dlspec validate`) stays torch-free.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from dlspec.errors import Diagnostic, TrainError
from dlspec.train.config_base import StrictConfig

if TYPE_CHECKING:
    import torch

    from dlspec.data.types import PreparedData
    from dlspec.train.engine.batch import Tensors
    from dlspec.train.recipe import Recipe


@dataclass(frozen=True)
class Update:
    """One optimizer update of a training step."""

    name: str  # names its losses in the logs (`loss_<name>`) when a step has several updates
    model: str  # the model it updates, with that model's optimizer and schedule
    every: int = 1  # it runs on every `every`-th step (a generator step per k critic steps)

    def due(self, step: int) -> bool:
        """Whether it runs on the (1-based, global) training step `step`."""
        return step % self.every == 0


@dataclass(frozen=True)
class Roles:
    """What an objective needs of a spec (its static side)."""

    trained: tuple[str, ...]  # the models it updates, in update order
    data_model: str  # the model the data feeds
    reads_loss: bool = True  # whether the spec's `loss:` section is what it minimizes
    models: tuple[str, ...] = ()  # every model it calls (the trained ones, and others frozen)
    # the inputs of data_model that the data feeds (None: every one); the objective feeds
    # the others itself (a diffusion denoiser's timestep)
    data_inputs: tuple[str, ...] | None = None


class RoleError(ValueError):
    """A model an objective's config names that the spec lacks; `key`: the config's key."""

    def __init__(self, message: str, key: str, hint: str | None = None):
        super().__init__(message)
        self.key, self.hint = key, hint


def model_role(config: ObjectiveConfig, key: str, spec: Any) -> str:
    """The model that the config's `key` names, checked against the spec's models."""
    from dlspec.errors import suggest

    name = getattr(config, key)
    models = [section.name for section in spec.sections()]
    if spec.models is None or name not in models:
        have = f"its models are {', '.join(models)}" if spec.models is not None else \
            "it has one model; give several under `models:`"
        raise RoleError(f"{config.op} objective: `{key}` names the model '{name}', but the "
                        f"spec has no model of that name ({have})", key,
                        hint=suggest(name, models) if spec.models is not None else None)
    return name


class ObjectiveConfig(StrictConfig):
    """The base of every objective's config."""

    op: str
    # True where a step alternates the updates of several models (a GAN's): several
    # processes cannot train it yet (check_processes)
    alternates: ClassVar[bool] = False


def check_processes(config: ObjectiveConfig | None, span: Any = None) -> None:
    """TrainError DLS403 (at `span`, the spec's `objective:`) when several processes cannot
    train the objective: its step alternates updates, each freezing the other models in
    turn, which DistributedDataParallel cannot follow. `dlspec train --nproc` asks before
    starting any process, each process of a torchrun job again."""
    if config is not None and config.alternates:
        raise TrainError(Diagnostic(
            "DLS403", f"the {config.op} objective alternates the updates of its models in "
                      "each step, which several processes cannot train yet", span,
            hint="train it in one process: leave out --nproc (or run it without torchrun)"))


@dataclass
class Context:
    """What a run gives its objective: the models by name, the data, the recipe, the device,
    and the models' input shapes per sample ({model: {input: (shape, dtype)}})."""

    models: dict[str, torch.nn.Module]
    data: PreparedData
    recipe: Recipe
    device: torch.device | str
    input_types: dict[str, dict[str, tuple[tuple[int | str, ...], str]]]
    output_names: dict[str, tuple[str, ...]]  # each model's output names, in order
    ema: dict[str, torch.nn.Module]  # the EMA copies of models, by model name


class Objective(ABC):
    """The run-time side of an objective (see the module docstring)."""

    op: ClassVar[str]
    Config: ClassVar[type[ObjectiveConfig]]
    # whether a lower loss means better models, so that the best checkpoint is the epoch of
    # the lowest val_loss (without early stopping); else the best is the latest epoch
    loss_ranks: ClassVar[bool] = True
    # whether `evaluate` over each process's shard of a split gives the whole split's numbers
    # (its sums and metric states added up over the processes of a distributed run)
    shards_evaluation: ClassVar[bool] = False

    def __init__(self, config: ObjectiveConfig, context: Context):
        self.config, self.context = config, context
        self.models = context.models

    @classmethod
    @abstractmethod
    def plan(cls, config: ObjectiveConfig, spec: Any) -> Roles:
        """Which models of `spec` it trains and feeds (torch-free)."""

    @classmethod
    def logged(cls, config: ObjectiveConfig, spec: Any
               ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """What a run logs per split, without the split's prefix, known from the config
        and the spec (torch-free): (its losses: "loss", then `loss_<update>` with several
        updates, and their parts; its metrics). What early stopping may monitor."""
        return ("loss",), ()

    @classmethod
    def problems(cls, config: ObjectiveConfig, spec: Any) -> list[tuple[tuple, Any]]:
        """What else keeps `spec` from training with this objective (its roles being
        valid), torch-free: (the spec key it is at, an unlocated Diagnostic) each."""
        return []

    @classmethod
    def graph_problems(cls, config: ObjectiveConfig, checked: Any) -> list[tuple[tuple, Any]]:
        """As `problems`, for what needs the shape-checked models (`checked`: the
        CheckedSpec, its `graphs` by model name); a diagnostic may carry its own span
        (a layer's), which its key does not replace."""
        return []

    @classmethod
    def ema_of(cls, config: ObjectiveConfig) -> dict[str, float]:
        """The models it keeps an EMA copy of, with the decay of each."""
        return {}

    def prepare(self, train: Tensors) -> None:
        """Check on a few train samples that the models and the data fit, and build what
        depends on them (TrainError when they do not fit). Nothing to do by default."""
        return

    @abstractmethod
    def updates(self) -> tuple[Update, ...]:
        """The optimizer updates of a training step, in order."""

    @abstractmethod
    def losses(self, update: Update, batch: Tensors) -> dict[str, torch.Tensor]:
        """What `update` minimizes on `batch` as {"loss": ..., and named parts}."""

    def loss_keys(self, update: Update) -> tuple[str, ...]:
        """The names `losses(update, ...)` gives its values ("loss" first)."""
        return ("loss",)

    @abstractmethod
    def evaluate(self, data: Tensors, prefix: str, batch_size: int) -> dict[str, float]:
        """The numbers of a validation or test pass over `data`, as `<prefix>_<name>`."""

    def metric_names(self) -> tuple[str, ...]:
        """What `evaluate` reports besides the losses (without the prefix)."""
        return ()

    def after_test(self, run_dir: Any, data: Tensors) -> None:
        """Write what the finished run's test split shows beyond numbers (nothing by
        default)."""
        return

    def metadata(self) -> dict[str, str]:
        """What checkpoints record for `predict` about the model's outputs."""
        return {}
