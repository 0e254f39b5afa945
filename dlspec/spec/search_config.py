"""The `search:` section as pydantic models: what `dlspec search` optimizes and over which
values. Torch-free. The checks that need the rest of the spec (every path exists, every value
gives a valid spec, the metric is logged, ranges are well formed) are in dlspec/search/check.py.

    search:
      metric: val_accuracy          # default: the early-stopping monitor, else val_loss
      trials: 20
      sampler: tpe                  # grid | random | tpe
      pruner: median                # none | median | hyperband
      space:
        optimizer.lr: {float: [1.0e-4, 1.0e-1], log: true}
        params.hidden: {choice: [32, 64, 128]}
        model.3.repeat: {int: [1, 4]}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, StrictInt, Tag

SAMPLERS = ("grid", "random", "tpe")
PRUNERS = ("none", "median", "hyperband")
KINDS = ("float", "int", "choice")
Scalar = StrictBool | StrictInt | Annotated[float, Field(strict=True)] | str | None
Number = Annotated[float, Field(strict=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FloatSpace(_Strict):
    """A float between two bounds (both included)."""

    bounds: tuple[Number, Number] = Field(
        alias="float", description="[low, high]: the smallest and largest value.")
    log: StrictBool = Field(False, description="Sample on a log scale (low must be > 0).")
    step: Number | None = Field(
        None, description="Only values low + k * step (makes the dimension discrete: the "
                          "grid sampler needs it).")


class IntSpace(_Strict):
    """An integer between two bounds (both included)."""

    bounds: tuple[StrictInt, StrictInt] = Field(
        alias="int", description="[low, high]: the smallest and largest value.")
    log: StrictBool = Field(False, description="Sample on a log scale (low must be >= 1).")
    step: StrictInt = Field(1, description="Only values low + k * step.")


class ChoiceSpace(_Strict):
    """One of a list of values (numbers, strings, booleans or null)."""

    choice: list[Scalar] = Field(min_length=1, description="The values to choose from.")


def _kind(value: Any) -> str | None:
    if isinstance(value, FloatSpace | IntSpace | ChoiceSpace):
        return {FloatSpace: "float", IntSpace: "int", ChoiceSpace: "choice"}[type(value)]
    if not isinstance(value, dict):
        return None
    kinds = [kind for kind in KINDS if kind in value]
    return kinds[0] if len(kinds) == 1 else None


SpaceEntry = Annotated[
    Annotated[FloatSpace, Tag("float")] | Annotated[IntSpace, Tag("int")]
    | Annotated[ChoiceSpace, Tag("choice")],
    Discriminator(_kind, custom_error_type="search_space_entry",
                  custom_error_message="a space entry is one of {float: [low, high]}, "
                                       "{int: [low, high]} or {choice: [a, b, ...]}"),
]


class SearchConfig(_Strict):
    """What `dlspec search` optimizes: a metric over a space of spec values. `dlspec train`
    ignores this section (it trains the spec's own values)."""

    metric: str | None = Field(
        None, min_length=1, description="The logged metric to optimize (val_accuracy, "
        "val_loss, ...). Default: regularization.early_stopping.monitor, else val_loss.")
    direction: Literal["minimize", "maximize"] | None = Field(
        None, description="Default: the early-stopping mode for its monitor, else maximize "
                          "for accuracy, r2, f1, precision, recall or auroc, minimize for "
                          "the rest.")
    trials: int | None = Field(None, ge=1, strict=True, description=(
        "How many trials to run (default: the whole grid for the grid sampler, else 20 "
        "unless a timeout is given)."))
    timeout: float | None = Field(None, gt=0, description="Stop starting trials after this "
                                                          "many seconds.")
    sampler: Literal["grid", "random", "tpe"] = Field(
        "tpe", description="grid (every combination), random, or tpe (Bayesian).")
    seed: int | None = Field(None, strict=True, description="The sampler's seed (default: "
                                                           "train.seed).")
    pruner: Literal["none", "median", "hyperband"] = Field(
        "none", description="Stop unpromising trials early: median or hyperband.")
    space: dict[str, SpaceEntry] = Field(
        min_length=1, description="Spec path (as for --set: optimizer.lr, params.hidden, "
        "model.3.repeat, a block's param) -> {float: [low, high], log: true}, "
        "{int: [low, high], step: 2} or {choice: [a, b]}.")
