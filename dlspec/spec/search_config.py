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

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    Tag,
    field_validator,
)

SAMPLERS = ("grid", "random", "tpe")
PRUNERS = ("none", "median", "hyperband")
KINDS = ("float", "int", "choice")
MAX_SEED = 2**32 - 1  # Optuna's samplers seed numpy's RandomState
Scalar = StrictBool | StrictInt | Annotated[float, Field(strict=True)] | str | None
Number = Annotated[float, Field(strict=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _bounds(value: Any, integers: bool) -> Any:
    """[low, high]: two numbers (two integers for an int range), said plainly."""
    what = "two integers" if integers else "two numbers"
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"write the range as [low, high], {what}; got {value!r}")
    for bound in value:
        if isinstance(bound, bool) or not isinstance(bound, int if integers else int | float):
            raise ValueError(f"the bounds are {what}, not {bound!r}" + (
                " (a range of floats is {float: [low, high]})" if integers
                and isinstance(bound, float) else ""))
    return value


class FloatSpace(_Strict):
    """A float between two bounds (both included)."""

    bounds: tuple[Number, Number] = Field(
        alias="float", description="[low, high]: the smallest and largest value.")
    log: StrictBool = Field(False, description="Sample on a log scale (low must be > 0).")
    step: Number | None = Field(
        None, description="Only values low + k * step (makes the dimension discrete: the "
                          "grid sampler needs it).")

    @field_validator("bounds", mode="before")
    @classmethod
    def _two_numbers(cls, value: Any) -> Any:
        return _bounds(value, integers=False)


class IntSpace(_Strict):
    """An integer between two bounds (both included)."""

    bounds: tuple[StrictInt, StrictInt] = Field(
        alias="int", description="[low, high]: the smallest and largest value.")
    log: StrictBool = Field(False, description="Sample on a log scale (low must be >= 1).")
    step: StrictInt = Field(1, description="Only values low + k * step.")

    @field_validator("bounds", mode="before")
    @classmethod
    def _two_integers(cls, value: Any) -> Any:
        return _bounds(value, integers=True)


class ChoiceSpace(_Strict):
    """One of a list of values (numbers, strings, booleans or null)."""

    choice: list[Scalar] = Field(min_length=1, description="The values to choose from.")

    @field_validator("choice", mode="before")
    @classmethod
    def _scalars(cls, value: Any) -> Any:
        for item in value if isinstance(value, list) else ():
            if isinstance(item, dict | list):
                raise ValueError("a choice is a number, a string, a boolean or null, not "
                                 f"{'a list' if isinstance(item, list) else 'a mapping'} "
                                 f"({item!r}); search a section's keys one by one")
        return value


def _kind(value: Any) -> str | None:
    """The entry's kind, as a tag that is not one of its keys (an error's location then
    leads to the key, not to the tag)."""
    if isinstance(value, FloatSpace | IntSpace | ChoiceSpace):
        return {FloatSpace: "float_range", IntSpace: "int_range",
                ChoiceSpace: "choices"}[type(value)]
    if not isinstance(value, dict):
        return None
    kinds = [kind for kind in KINDS if kind in value]
    return TAGS[kinds[0]] if len(kinds) == 1 else None


TAGS = {"float": "float_range", "int": "int_range", "choice": "choices"}
SpaceEntry = Annotated[
    Annotated[FloatSpace, Tag("float_range")] | Annotated[IntSpace, Tag("int_range")]
    | Annotated[ChoiceSpace, Tag("choices")],
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
    seed: int | None = Field(None, ge=0, le=MAX_SEED, strict=True, description=(
        "The sampler's seed (default: train.seed)."))
    pruner: Literal["none", "median", "hyperband"] = Field(
        "none", description="Stop unpromising trials early: median or hyperband.")
    space: dict[str, SpaceEntry] = Field(
        min_length=1, description="Spec path (as for --set: optimizer.lr, params.hidden, "
        "model.3.repeat, a block's param) -> {float: [low, high], log: true}, "
        "{int: [low, high], step: 2} or {choice: [a, b]}.")
