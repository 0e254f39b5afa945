"""The training recipe: the spec's loss, optimizer, schedule, regularization and train sections
bundled with the batch settings, defaults resolved (no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dlspec.data.tasks import TARGET_KIND
from dlspec.train.config_base import Task
from dlspec.train.objectives.base import ObjectiveConfig
from dlspec.train.objectives.supervised import SupervisedConfig
from dlspec.train.recipe.config import (
    DEFAULT_METRICS,
    METRICS,
    AdamConfig,
    BCEWithLogitsConfig,
    CrossEntropyConfig,
    LossConfig,
    MSEConfig,
    OptimizerConfig,
    RegularizationConfig,
    TrainConfig,
)
from dlspec.train.recipe.schedule_config import ScheduleConfig, check_schedule_list


def default_loss(task: Task) -> LossConfig:
    """The loss used when a spec gives none: the canonical one for the task."""
    by_kind = {"indices": CrossEntropyConfig, "zero_one": BCEWithLogitsConfig,
               "values": MSEConfig}
    return by_kind[TARGET_KIND[task]]()


class MetricChoiceError(ValueError):
    """`train.metrics` that a run cannot report; `hint` says what to do instead."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def metric_names(task: Task, metrics: list[str] | None, scored: bool = True
                 ) -> tuple[str, ...]:
    """The metrics a run reports for `task`: `metrics`, else the task's; none when no loss
    term scores an output against the data's targets (`scored` false). Raises
    MetricChoiceError for a metric the task lacks, or for metrics with nothing to score."""
    if not scored:
        if metrics:
            raise MetricChoiceError(
                f"train.metrics asks for {metrics}, but no loss term compares a model output "
                "with the data's targets, so there is nothing to score",
                hint="leave train.metrics out: the run reports its losses")
        return ()
    if metrics is None:
        return DEFAULT_METRICS[task]
    for name in metrics:
        if name not in METRICS[task]:
            raise MetricChoiceError(f"metric '{name}' does not apply to a {task} task; "
                                    f"choose {', '.join(METRICS[task])}")
    return tuple(metrics)


@dataclass(frozen=True)
class Recipe:
    """Everything `fit` needs besides the model and the data."""

    loss: LossConfig | list[LossConfig]  # one loss, or weighted terms to sum
    # one optimizer (and schedule), or one per trained model by name (a `models:` spec)
    optimizer: OptimizerConfig | dict[str, OptimizerConfig] = field(default_factory=AdamConfig)
    schedule: tuple[ScheduleConfig, ...] | dict[str, tuple[ScheduleConfig, ...]] = ()
    regularization: RegularizationConfig = field(default_factory=RegularizationConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    batch_size: int = 64
    shuffle: bool = True
    outputs: tuple[str, ...] = ()  # the model's output names, in order (() for one tensor)
    inputs: tuple[str, ...] = ()  # its input names, which `target:` of a loss term may name
    objective: ObjectiveConfig = field(default_factory=SupervisedConfig)

    def __post_init__(self) -> None:
        schedules = self.schedule.values() if isinstance(self.schedule, dict) else [
            self.schedule]
        for schedule in schedules:
            if schedule:
                check_schedule_list(schedule)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    def optimizer_for(self, model: str) -> OptimizerConfig:
        """The optimizer of `model` (Adam when a per-model mapping leaves it out)."""
        if isinstance(self.optimizer, dict):
            return self.optimizer.get(model) or AdamConfig()
        return self.optimizer

    def schedule_for(self, model: str) -> tuple[ScheduleConfig, ...]:
        """The schedule of `model` (a constant rate when a mapping leaves it out)."""
        if isinstance(self.schedule, dict):
            return self.schedule.get(model, ())
        return self.schedule

    @classmethod
    def from_sections(cls, task: Task, *, loss: LossConfig | list[LossConfig] | None = None,
                      optimizer: OptimizerConfig | None = None,
                      schedule: ScheduleConfig | list[ScheduleConfig] | None = None,
                      regularization: RegularizationConfig | None = None,
                      train: TrainConfig | None = None, batch_size: int = 64,
                      shuffle: bool = True, outputs: tuple[str, ...] = (),
                      inputs: tuple[str, ...] = (),
                      objective: ObjectiveConfig | None = None) -> Recipe:
        """A recipe from a spec's optional sections; a missing one takes its defaults
        (the task's canonical loss, Adam, a constant learning rate)."""
        schedules = ({name: _schedules(s) for name, s in schedule.items()}
                     if isinstance(schedule, dict) else _schedules(schedule))
        return cls(
            loss=loss or default_loss(task),
            optimizer=optimizer or AdamConfig(),
            schedule=schedules,
            regularization=regularization or RegularizationConfig(),
            train=train or TrainConfig(),
            batch_size=batch_size,
            shuffle=shuffle,
            outputs=outputs,
            inputs=inputs,
            objective=objective or SupervisedConfig(),
        )


def _schedules(schedule: ScheduleConfig | list[ScheduleConfig] | None
               ) -> tuple[ScheduleConfig, ...]:
    if schedule is None:
        return ()
    return tuple(schedule) if isinstance(schedule, list) else (schedule,)
