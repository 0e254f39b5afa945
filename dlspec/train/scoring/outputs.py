"""A model's outputs as training sees them: all of them go to the loss, and one of them, the
output that the loss compares with the data's targets, is what the metrics score.

A VAE returns (reconstruction, mean, log-variance); its loss compares the reconstruction with
the input and the mean and log-variance with the prior, so no output is scored and a run
reports losses only. A classifier with an auxiliary reconstruction head returns (logits,
reconstruction); the metrics score the logits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from dlspec.errors import Diagnostic, TrainError
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.loss_config import data_target_term, scored_output
from dlspec.train.scoring.output_space import Space

Returned = torch.Tensor | tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class ModelOutputs:
    """Where the scored output is among what the model returns, and the space it is in."""

    names: tuple[str, ...]  # the model's outputs in order; () or one name: it returns a tensor
    scored: int | None  # position of the scored output; None when the loss reads no targets
    space: Space = "logits"  # of the scored output, as the loss term reading it declares

    @classmethod
    def of(cls, recipe: Recipe) -> ModelOutputs:
        """The outputs of the model `recipe` trains (its `outputs` names, and its loss)."""
        names = recipe.outputs
        term = data_target_term(recipe.loss)
        if term is None:
            return cls(names, None)
        if len(names) <= 1:
            return cls(names, 0, term.output_space)
        scored = scored_output(recipe.loss, names)
        if scored not in names:
            raise TrainError(Diagnostic(
                "DLS402", f"the model returns {len(names)} outputs {list(names)}, and the "
                          "loss does not say which one it compares with the data's targets",
                hint=f"name it in the loss term: output: {names[0]}"))
        return cls(names, names.index(scored), term.output_space)

    def metadata(self) -> dict[str, str]:
        """What checkpoints record for `dlspec predict`: `scored_output`, the scored output's
        name as JSON (null when the loss reads no targets; nothing for one unnamed tensor),
        and `output_space`, the space it is in (logits, probabilities, ...)."""
        if self.scored is None:
            return {"scored_output": "null"}
        space = {"output_space": self.space}
        return {"scored_output": json.dumps(self.names[self.scored]), **space} if self.names \
            else space

    def scored_tensor(self, returned: Returned) -> torch.Tensor | None:
        """The scored output among those the model returned (None when none is scored)."""
        if self.scored is None:
            return None
        return returned if isinstance(returned, torch.Tensor) else returned[self.scored]

    def check_count(self, returned: Returned) -> None:
        """Raise TrainError DLS402 unless the model returned one tensor per output name."""
        count = 1 if isinstance(returned, torch.Tensor) else len(returned)
        if count != max(len(self.names), 1):
            raise TrainError(Diagnostic(
                "DLS402", f"the model returns {count} tensor(s), but the spec names "
                          f"{len(self.names)} outputs {list(self.names)}"))


SINGLE_OUTPUT = ModelOutputs((), 0)  # a model returning one tensor, which the targets score
