"""The training objectives, one declaration each (see base.py), and the spec's
`objective:` section: a union of their configs, discriminated on `op`. Torch-free."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from dlspec.train.objectives.base import Objective, ObjectiveConfig
from dlspec.train.objectives.contrastive import SimCLR, Triplet
from dlspec.train.objectives.diffusion import Diffusion
from dlspec.train.objectives.gan import Gan
from dlspec.train.objectives.masked_lm import MaskedLM
from dlspec.train.objectives.supervised import Supervised

OBJECTIVES: dict[str, type[Objective]] = {cls.op: cls for cls in (Supervised, Gan, SimCLR,
                                                                    Triplet, Diffusion,
                                                                    MaskedLM)}

_CONFIGS = tuple(cls.Config for cls in OBJECTIVES.values())
ObjectiveSpec = (Annotated[Union[_CONFIGS], Field(discriminator="op")]  # noqa: UP007
                 if len(_CONFIGS) > 1 else _CONFIGS[0])


def objective_class(config: ObjectiveConfig) -> type[Objective]:
    """The objective a config declares."""
    return OBJECTIVES[config.op]
