"""Optimizer steps over in-memory tensors: the epoch's plan, one step, one epoch.

A step runs its micro-batches forward (under autocast) and backward, each loss weighted by
its share of the step's samples, so that `accumulate` micro-batches give the gradient of
one big batch. Then the loss and the gradient norm are read from the device once: a step
whose loss or gradients are NaN/inf is skipped (no update) and counted by the guard; else
the gradients are clipped and the optimizer steps. The learning-rate schedule advances
every step, skipped or not.

A step runs each update of the objective that is due (objectives/base.py): a supervised
step has one; a GAN's has the discriminator's and, every k-th step, the generator's, each
with its model's optimizer and schedule while the other model's parameters are frozen.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from dlspec.train.diagnostics.grad_norms import group_norms, layer_groups
from dlspec.train.engine.batch import Tensors
from dlspec.train.engine.precision import Precision
from dlspec.train.engine.torch_compat import total_norm
from dlspec.train.objectives.base import Objective, Update
from dlspec.train.recipe.config import RegularizationConfig
from dlspec.train.recipe.penalties import Regularizer


def _chunks(start: int, stop: int, size: int) -> tuple[tuple[int, int], ...]:
    """[start, stop) in pieces of `size`; a last piece of one sample joins the one before
    (batch norm cannot train on one sample)."""
    bounds = [(s, min(s + size, stop)) for s in range(start, stop, size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], stop)]
    return tuple(bounds)


@dataclass(frozen=True)
class StepPlan:
    """The optimizer steps of one epoch as [start, stop) bounds into the (shuffled) train
    split, each split into micro-batches of `batch_size` samples (`accumulate` per step).
    In a distributed run (`world` processes) these are global, and rank `rank` reads its
    piece of each micro-batch (dlspec/train/distributed/sharding.py)."""

    bounds: tuple[tuple[int, int], ...]
    micro: tuple[tuple[tuple[int, int], ...], ...]
    samples: int
    epochs: int
    rank: int = 0
    world: int = 1

    @classmethod
    def create(cls, samples: int, batch_size: int, epochs: int, accumulate: int = 1,
               rank: int = 0, world: int = 1) -> StepPlan:
        """The plan for `epochs` epochs over `samples` train samples."""
        bounds = _chunks(0, samples, batch_size * accumulate)
        micro = tuple(_chunks(start, stop, batch_size) for start, stop in bounds)
        return cls(bounds, micro, samples, epochs, rank, world)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.bounds)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    def batches(self, step: int, order: torch.Tensor | None
                ) -> list[tuple[torch.Tensor | slice, int]]:
        """The micro-batches of the epoch's step `step` (0-based): (index, size) pairs;
        in a distributed run, this rank's pieces of them."""
        batches = [(slice(a, b) if order is None else order[a:b], b - a)
                   for a, b in self.micro[step]]
        if self.world == 1:
            return batches
        from dlspec.train.distributed.sharding import piece

        return [piece(index, size, self.rank, self.world) for index, size in batches]


@dataclass
class EpochState:
    """How far an epoch has come (what a checkpoint inside an epoch records)."""

    epoch: int
    order: torch.Tensor | None  # the epoch's permutation of the train split (None: in order)
    lr: float  # the learning rate at the start of the epoch
    batches_done: int = 0
    lr_sum: float = 0.0  # sum of the (first group's) learning rates of the steps done
    loss_sum: float = 0.0  # sum of the finite steps' losses, each times its sample count
    samples: int = 0  # samples in those steps
    skipped: int = 0  # steps skipped for a non-finite loss or gradient
    # each named loss (a term of the loss, or an update's loss) summed like loss_sum, on the
    # device, and the samples of the steps it was measured in (an update may skip steps)
    term_sums: dict[str, torch.Tensor] = field(default_factory=dict)
    term_samples: dict[str, int] = field(default_factory=dict)

    @property
    def mean_loss(self) -> float:
        """The epoch's mean sample loss over its finite steps (NaN when none was finite)."""
        return self.loss_sum / self.samples if self.samples else math.nan

    @property
    def mean_lr(self) -> float:
        """The learning rate the epoch's steps used, on average (under a warmup or a
        per-step schedule it changes every step); the start's before any step."""
        return self.lr_sum / self.batches_done if self.batches_done else self.lr

    def add_terms(self, terms: dict[str, torch.Tensor], samples: int) -> None:
        """Count one finite step's named losses (each its step mean) over `samples`."""
        for key, value in terms.items():
            total = value * samples
            self.term_sums[key] = self.term_sums[key] + total if key in self.term_sums \
                else total
            self.term_samples[key] = self.term_samples.get(key, 0) + samples

    def mean_terms(self) -> dict[str, float]:
        """Each named loss's mean like `mean_loss`, as train_<name>."""
        counts = {key: self.term_samples.get(key, self.samples) for key in self.term_sums}
        return {f"train_{key}": float(total) / counts[key] if counts[key] else math.nan
                for key, total in self.term_sums.items()}


@dataclass(frozen=True)
class StepResult:
    loss: float  # the step's mean sample loss
    finite: bool  # loss and gradients finite: the update was applied
    lr: float  # the (first group's) learning rate of the step
    norms: dict[str, float] | None  # gradient norm per layer group, when asked for
    terms: dict[str, torch.Tensor] = field(default_factory=dict)  # loss_<term>: step mean


def _read(loss: torch.Tensor, norm: torch.Tensor) -> tuple[float, float]:
    """The step's loss and gradient norm as numbers: one device read on an accelerator (two
    scalar reads are cheaper on the CPU)."""
    if loss.device.type == "cpu":
        return loss.item(), norm.item()
    pair = [loss.float(), norm.float().to(loss.device, non_blocking=True)]
    loss_value, norm_value = torch.stack(pair).tolist()
    return loss_value, norm_value


@dataclass
class Learner:
    """What one update of an objective steps: its model's optimizer, schedule, penalty and
    clipping (`regularization:`), and the parameters it trains."""

    update: Update
    optimizer: torch.optim.Optimizer
    scheduler: Any
    regularizer: Regularizer
    params: list[torch.nn.Parameter]

    @classmethod
    def create(cls, update: Update, optimizer: torch.optim.Optimizer, scheduler: Any,
               regularization: RegularizationConfig) -> Learner:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        return cls(update, optimizer, scheduler, Regularizer(regularization, optimizer), params)


class Stepper:
    """Runs optimizer steps (see the module docstring): each step, every update of the
    objective that is due, with its own learner. `checked`, a reusable context manager,
    wraps each forward and backward pass (--detect-anomaly sets it). `parallel` (a
    distributed run's, dlspec/train/distributed/strategy.py) weights each process's piece
    so that the averaged gradient is the global batch's, and adds up the step's losses."""

    def __init__(self, model: torch.nn.Module, objective: Objective, learners: list[Learner],
                 precision: Precision, parallel: Any = None):
        self.model, self.objective, self.learners = model, objective, learners
        self.precision = precision
        self.parallel = parallel
        self.world = parallel.ranks.world if parallel is not None else 1
        self.checked: contextlib.AbstractContextManager = contextlib.nullcontext()
        self.groups = layer_groups(model)
        self.several = len(learners) > 1
        # the EMA copies a ModelSet keeps, by model name (updated after each of its updates)
        self.averages = dict(getattr(model, "averages", {}))

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The first learner's optimizer (whose learning rate the logs report)."""
        return self.learners[0].optimizer

    def step(self, data: Tensors, micro: list[tuple[torch.Tensor | slice, int]],
             norms: bool = False, step: int = 1, total: int | None = None) -> StepResult:
        """One training step (the global step number `step`, 1-based) over the
        micro-batches `micro`: (index into `data`, size) pairs, of `total` samples over
        every process (default: their sizes' sum). Every due update runs."""
        lr = self.optimizer.param_groups[0]["lr"]
        loss, finite, terms, group = 0.0, True, {}, {} if norms else None
        for learner in self.learners:
            if not learner.update.due(step):
                continue
            with self._frozen_others(learner):
                value, ok, means = self._update(learner, data, micro, total)
            loss += value
            finite = finite and ok
            prefix = f"loss_{learner.update.name}" if self.several else "loss"
            if self.several:
                terms[prefix] = means.pop("loss")
            terms |= {key.replace("loss", prefix, 1): v for key, v in means.items()}
            if group is not None and ok:
                group |= group_norms(self.groups)
            average = self.averages.get(learner.update.model)
            if average is not None and ok:
                average.update_parameters(self.objective.models[learner.update.model])
        self.precision.update()
        for learner in self.learners:
            if learner.scheduler is not None and learner.update.due(step):
                learner.scheduler.step()
        return StepResult(loss, finite, lr, group or None, terms)

    def _update(self, learner: Learner, data: Tensors,
                micro: list[tuple[torch.Tensor | slice, int]], total: int | None = None
                ) -> tuple[float, bool, dict[str, torch.Tensor]]:
        """Forward and backward over the micro-batches, then the learner's optimizer step
        unless the loss or the gradients are not finite: (loss, finite, each loss's mean
        over the step, "loss" excluded)."""
        optimizer = learner.optimizer
        optimizer.zero_grad(set_to_none=True)
        total = total or sum(size for _, size in micro)
        means: dict[str, torch.Tensor] = {}  # each loss's mean over the step's samples
        for i, (index, size) in enumerate(micro):
            # averaged over `world` processes, each piece's gradient counts size / total
            scale = size * self.world / total
            with self.checked, self._accumulating(i == len(micro) - 1):
                with self.precision.autocast():  # a target may be an input: it goes along
                    losses = self.objective.losses(learner.update, data.rows(index))
                objective = learner.regularizer.with_penalty(losses["loss"])
                self.precision.backward(objective if scale == 1 else objective * scale)
            for key, value in losses.items():
                part = value.detach() if size == total else value.detach() * (size / total)
                means[key] = means[key] + part if key in means else part
        if self.world > 1:  # each process holds its pieces' share: add them up
            means = dict(zip(means, self.parallel.ranks.sum_(list(means.values())),
                             strict=True))
        step_loss = means.pop("loss")
        self.precision.unscale(optimizer)
        grads = [p.grad for p in learner.params if p.grad is not None]
        norm = total_norm(grads)  # on the CPU when there is no gradient
        loss_value, norm_value = _read(step_loss, norm)
        finite_grads = math.isfinite(norm_value)
        # fp16: overflowing gradients are the loss scaler's business (it skips and rescales)
        finite = math.isfinite(loss_value) and (finite_grads or self.precision.scaler is not None)
        if finite:
            if finite_grads:
                learner.regularizer.clip_gradients(norm)
            self.precision.step(optimizer)
        return loss_value, finite, {"loss": step_loss, **means} if self.several else means

    def _accumulating(self, last: bool) -> contextlib.AbstractContextManager:
        """Gradients averaged over the processes at a step's last micro-batch only."""
        return self.parallel.accumulating(last) if self.world > 1 else contextlib.nullcontext()

    @contextlib.contextmanager
    def _frozen_others(self, learner: Learner):
        """The other learners' parameters without gradients during `learner`'s update."""
        if not self.several:
            yield
            return
        own = {id(p) for p in learner.params}
        frozen = [p for other in self.learners if other is not learner for p in other.params
                  if p.requires_grad and id(p) not in own]
        for p in frozen:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in frozen:
                p.requires_grad_(True)

    def train_epoch(self, data: Tensors, plan: StepPlan, state: EpochState,
                    first_step: int, log_every: int,
                    after_step: Callable[[int, StepResult], None]) -> None:
        """Run the epoch's remaining steps from `state.batches_done`, updating `state`.

        `first_step` is the global number of the epoch's first step; `after_step(step,
        result)` is called after each (group norms are measured every `log_every` steps).
        """
        self.model.train()
        first = state.batches_done
        batches = [plan.batches(i, state.order) for i in range(first, plan.steps_per_epoch)]
        data.stream([index for micro in batches for index, _ in micro])  # read in this order
        while state.batches_done < plan.steps_per_epoch:
            i = state.batches_done
            step = first_step + i
            start, stop = plan.bounds[i]
            result = self.step(data, batches[i - first],
                               norms=bool(log_every) and step % log_every == 0, step=step,
                               total=stop - start)
            state.batches_done += 1
            state.lr_sum += result.lr
            if result.finite:
                state.loss_sum += result.loss * (stop - start)
                state.samples += stop - start
                state.add_terms(result.terms, stop - start)
            else:
                state.skipped += 1
            after_step(step, result)
