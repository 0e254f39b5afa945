"""Masked language modelling (Devlin et al. 2018, BERT): an encoder sees its token sequence
with some tokens hidden and predicts them from the context on both sides.

Each training step draws a fresh masking of the batch: every token is chosen with
probability `rate` (0.15), except the ids in `never` (padding); of the chosen tokens, the
fractions in `replace` (0.8, 0.1, 0.1) are replaced by the mask id, by a random vocabulary
id (never one of `never`, nor the mask id), or left unchanged. The loss is the cross-entropy
of the model's logits over the vocabulary at the chosen positions only, against the
original ids. The draws use torch's generator on the batch's device, which a run seeds and
resumes. Validation and test mask their split with a fixed seed (the same every epoch) and
report the masked loss, the accuracy of the masked-token predictions and the perplexity
(exp of the masked loss).

The mask id defaults to the vocabulary size (one past the last id), so the token embedding
needs vocab + 1 rows; the output gives vocab logits. `dlspec validate` checks both (see
masked_lm_checks.py). Torch is imported inside the run-time methods only.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from dlspec.data.tasks import PER_TOKEN
from dlspec.errors import Diagnostic, TrainError
from dlspec.train.objectives.base import Objective, ObjectiveConfig, Roles, Update, model_role

if TYPE_CHECKING:
    import torch

    from dlspec.train.engine.batch import Tensors

EVAL_MASK_SEED = 0  # validation and test mask their split the same way every epoch
METRICS = ("masked_accuracy", "perplexity")
IGNORED = -100  # the target of the positions that are not chosen (cross-entropy skips it)


class MaskedLMConfig(ObjectiveConfig):
    """Predict the hidden tokens of a token sequence from both sides (BERT's pre-training)."""

    op: Literal["masked_lm"] = Field(
        description="Masked language modelling: hide some tokens of the model's token-id "
        "input and train it to predict them (cross-entropy on the hidden positions only).")
    model: str | None = Field(None, description=(
        "The model it trains, by name, in a spec with `models:`; default: the spec's "
        "(first) model."))
    input: str | None = Field(None, description=(
        "The model input that holds the token ids (int64, (T,)), which are masked; "
        "default: the model's first input."))
    output: str | None = Field(None, description=(
        "The model output that gives the logits over the vocabulary, (T, vocab); default: "
        "the model's one output."))
    rate: float = Field(0.15, gt=0.0, lt=1.0, description=(
        "The probability that a token is chosen for prediction."))
    replace: tuple[float, float, float] = Field((0.8, 0.1, 0.1), description=(
        "How the chosen tokens are changed in the input: the fractions replaced by the mask "
        "id, by a random vocabulary id, and left unchanged; they sum to 1."))
    mask_id: int | None = Field(None, ge=0, strict=True, description=(
        "The id of the mask token; default: the data's vocabulary size (one past the last "
        "id), so the token embedding needs vocab + 1 rows."))
    never: tuple[int, ...] = Field((0,), description=(
        "Token ids that are never chosen nor drawn as random replacements (padding, 0)."))

    @model_validator(mode="after")
    def _fractions(self) -> MaskedLMConfig:
        if any(part < 0 for part in self.replace) or abs(sum(self.replace) - 1) > 1e-6:
            raise ValueError(f"`replace` gives the fractions of chosen tokens masked, "
                             f"randomized and kept; they must be >= 0 and sum to 1, got "
                             f"{list(self.replace)}")
        return self


def model_of(config: MaskedLMConfig, spec: Any) -> str:
    """The model it trains: `model` (RoleError for one the spec lacks), else the first."""
    return model_role(config, "model", spec) if config.model else spec.sections()[0].name


def mask_tokens(ids: torch.Tensor, config: MaskedLMConfig, mask_id: int,
                choices: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """A masking of `ids` (int64, any shape): (the model's input, the targets: the original
    id at the chosen positions, IGNORED elsewhere). `choices` holds the ids a random
    replacement is drawn from. Always draws the same number of random values for a shape."""
    import torch

    device = ids.device
    draw = torch.rand(ids.shape, device=device, generator=generator)
    kind = torch.rand(ids.shape, device=device, generator=generator)
    pick = torch.randint(len(choices), ids.shape, device=device, generator=generator)
    eligible = ~torch.isin(ids, torch.tensor(config.never, dtype=ids.dtype, device=device))
    chosen = (draw < config.rate) & eligible
    masked_share, random_share, _ = config.replace
    to_mask = chosen & (kind < masked_share)
    to_random = chosen & (kind >= masked_share) & (kind < masked_share + random_share)
    inputs = torch.where(to_mask, torch.full_like(ids, mask_id), ids)
    inputs = torch.where(to_random, choices.to(device)[pick], inputs)
    return inputs, torch.where(chosen, ids, torch.full_like(ids, IGNORED))


class MaskedLM(Objective):
    """One update per step: the cross-entropy at the positions of a fresh masking."""

    op = "masked_lm"
    Config = MaskedLMConfig

    @classmethod
    def plan(cls, config: MaskedLMConfig, spec: Any) -> Roles:
        name = model_of(config, spec)
        return Roles(trained=(name,), data_model=name, reads_loss=False, models=(name,))

    @classmethod
    def logged(cls, config: MaskedLMConfig, spec: Any
               ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return ("loss",), METRICS

    @classmethod
    def graph_problems(cls, config: MaskedLMConfig, checked: Any) -> list[tuple[tuple, Any]]:
        from dlspec.train.objectives.masked_lm_checks import masked_lm_problems

        return masked_lm_problems(config, checked)

    def __init__(self, config: MaskedLMConfig, context):
        super().__init__(config, context)
        name = config.model if config.model in self.models else next(iter(self.models))
        self.name, self.model = name, self.models[name]
        self.update = Update("loss", name)
        outputs = tuple(context.output_names.get(name) or context.recipe.outputs)
        self.output = (outputs.index(config.output or outputs[0]) if len(outputs) > 1
                       else None)
        self.input = config.input
        self.vocab = self.mask_id = 0
        self.choices = None

    def prepare(self, train: Tensors) -> None:
        """The vocabulary and the mask id, the ids random replacements are drawn from; and
        a check on two samples that the model takes the mask id and gives vocab logits per
        position (TrainError DLS402 when not)."""
        import torch

        self.input = self.input or next(iter(train.inputs))
        ids = train.inputs.get(self.input)
        if ids is None or ids.dtype != torch.int64 or ids.dim() != 2:
            got = "no such input" if ids is None else f"{ids.dtype} {tuple(ids.shape[1:])}"
            raise TrainError(Diagnostic(
                "DLS402", f"masked_lm masks the token ids of input '{self.input}', but the "
                f"data gives {got}", hint="feed it token sequences (int64 ids, (T,))"))
        data = self.context.data
        top = int(max(int(split.inputs[self.input].max(initial=0)) for split in
                      (data.train, data.val, data.test) if self.input in split.inputs))
        self.vocab = (len(data.class_names) if data.task in PER_TOKEN and data.class_names
                      else top + 1)
        self.mask_id = self.vocab if self.config.mask_id is None else self.config.mask_id
        excluded = {*self.config.never, self.mask_id}
        self.choices = torch.tensor([i for i in range(self.vocab) if i not in excluded],
                                    dtype=torch.int64, device=ids.device)
        if not len(self.choices):
            raise TrainError(Diagnostic(
                "DLS402", f"masked_lm: no vocabulary id is left to draw random replacements "
                f"from (vocabulary {self.vocab}, never {list(self.config.never)})",
                hint="list fewer ids under objective.never"))
        self._check_logits(train.rows(slice(0, 2)))

    def _check_logits(self, rows: Tensors) -> None:
        import torch

        ids = rows.inputs[self.input]
        was = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                logits = self.logits(rows.replace({self.input: torch.full_like(
                    ids, self.mask_id)}))
        except (IndexError, RuntimeError) as error:
            raise TrainError(Diagnostic(
                "DLS402", f"masked_lm: the model cannot take the mask id {self.mask_id} "
                f"({str(error).splitlines()[0]})",
                hint=f"give the token embedding num_embeddings: {self.mask_id + 1}")) from None
        finally:
            self.model.train(was)
        if tuple(logits.shape) != (*ids.shape, self.vocab):
            raise TrainError(Diagnostic(
                "DLS402", f"masked_lm: the model's logits have shape {tuple(logits.shape)}, "
                f"but the {tuple(ids.shape)} token ids need {(*ids.shape, self.vocab)}: "
                f"one score per vocabulary id at every position",
                hint=f"end the model with a linear layer of out_features: {self.vocab}"))

    def logits(self, batch: Tensors) -> torch.Tensor:
        """The model's logits over the vocabulary for the batch's inputs, (N, T, vocab)."""
        from dlspec.train.engine.batch import forward

        returned = forward(self.model, batch)
        return returned if self.output is None else returned[self.output]

    def masked(self, batch: Tensors, generator: torch.Generator | None = None
               ) -> tuple[Tensors, torch.Tensor]:
        """The batch with a masking of its token ids, and the targets (IGNORED where not
        chosen)."""
        inputs, targets = mask_tokens(batch.inputs[self.input], self.config, self.mask_id,
                                      self.choices, generator)
        return batch.replace({self.input: inputs}), targets

    def updates(self) -> tuple[Update, ...]:
        return (self.update,)

    def losses(self, update: Update, batch: Tensors) -> dict[str, torch.Tensor]:
        import torch.nn.functional as F

        masked, targets = self.masked(batch)
        logits = self.logits(masked).float()
        chosen = targets != IGNORED
        if not bool(chosen.any()):  # nothing drawn (a tiny batch): a zero loss, no NaN
            return {"loss": logits.sum() * 0.0}
        return {"loss": F.cross_entropy(logits[chosen], targets[chosen])}

    def metric_names(self) -> tuple[str, ...]:
        return METRICS

    def evaluate(self, data: Tensors, prefix: str, batch_size: int) -> dict[str, float]:
        """Over the split masked from a fixed seed (drawn for the whole split at once, so
        the batch size does not change it): the mean cross-entropy of the masked tokens, the
        accuracy of their predictions and the perplexity exp(loss)."""
        import torch
        import torch.nn.functional as F

        if not len(data):
            return {}
        draws = torch.Generator(device=data.device).manual_seed(EVAL_MASK_SEED)
        masked, targets = self.masked(data, draws)
        was = self.model.training
        self.model.eval()
        total, right, count = 0.0, 0, 0
        with torch.no_grad():
            for start in range(0, len(data), batch_size):
                rows = slice(start, start + batch_size)
                chosen = targets[rows] != IGNORED
                logits = self.logits(masked.rows(rows)).float()[chosen]
                wanted = targets[rows][chosen]
                total += float(F.cross_entropy(logits, wanted, reduction="sum"))
                right += int((logits.argmax(-1) == wanted).sum())
                count += int(chosen.sum())
        self.model.train(was)
        loss = total / max(count, 1)
        return {f"{prefix}_loss": loss, f"{prefix}_masked_accuracy": right / max(count, 1),
                f"{prefix}_perplexity": math.exp(min(loss, 700.0))}
