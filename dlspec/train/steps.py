"""Optimizer steps over in-memory tensors: the epoch's plan, one step, one epoch.

A step runs its micro-batches forward (under autocast) and backward, each loss weighted by
its share of the step's samples, so that `accumulate` micro-batches give the gradient of
one big batch. Then the loss and the gradient norm are read from the device once: a step
whose loss or gradients are NaN/inf is skipped (no update) and counted by the guard; else
the gradients are clipped and the optimizer steps. The learning-rate schedule advances
every step, skipped or not.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from dlspec.train.config import RegularizationConfig
from dlspec.train.grad_norms import group_norms, layer_groups
from dlspec.train.penalties import Regularizer
from dlspec.train.precision import Precision
from dlspec.train.torch_compat import total_norm


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
    split, each split into micro-batches of `batch_size` samples (`accumulate` per step)."""

    bounds: tuple[tuple[int, int], ...]
    micro: tuple[tuple[tuple[int, int], ...], ...]
    samples: int
    epochs: int

    @classmethod
    def create(cls, samples: int, batch_size: int, epochs: int, accumulate: int = 1) -> StepPlan:
        """The plan for `epochs` epochs over `samples` train samples."""
        bounds = _chunks(0, samples, batch_size * accumulate)
        micro = tuple(_chunks(start, stop, batch_size) for start, stop in bounds)
        return cls(bounds, micro, samples, epochs)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.bounds)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    def batches(self, step: int, order: torch.Tensor | None
                ) -> list[tuple[torch.Tensor | slice, int]]:
        """The micro-batches of the epoch's step `step` (0-based): (index, size) pairs."""
        return [(slice(a, b) if order is None else order[a:b], b - a)
                for a, b in self.micro[step]]


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
    # with several loss terms: each term's sum like loss_sum, kept on the device
    term_sums: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def mean_loss(self) -> float:
        """The epoch's mean sample loss over its finite steps (NaN when none was finite)."""
        return self.loss_sum / self.samples if self.samples else math.nan

    @property
    def mean_lr(self) -> float:
        """The learning rate the epoch's steps used, on average (under a warmup or a
        per-step schedule it changes every step); the start's before any step."""
        return self.lr_sum / self.batches_done if self.batches_done else self.lr

    def mean_terms(self) -> dict[str, float]:
        """Each loss term's mean like `mean_loss`, as train_loss_<term>."""
        return {f"train_{key}": float(total) / self.samples if self.samples else math.nan
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


class Stepper:
    """Runs optimizer steps (see the module docstring). `checked`, a reusable context
    manager, wraps each forward and backward pass (--detect-anomaly sets it)."""

    def __init__(self, model: torch.nn.Module, loss_fn: torch.nn.Module,
                 optimizer: torch.optim.Optimizer, scheduler, precision: Precision,
                 regularization: RegularizationConfig):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.scheduler, self.precision = scheduler, precision
        self.regularizer = Regularizer(regularization, optimizer)  # l1/l2 and clipping
        self.checked: contextlib.AbstractContextManager = contextlib.nullcontext()
        # data.augment (dlspec.data.augment.Augmenter), applied to training batches only
        self.augment: Callable[[torch.Tensor, torch.Tensor], tuple] | None = None
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self.groups = layer_groups(model)

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The mean loss of one micro-batch (under autocast), and with several loss terms
        each term's, named as `SpecLoss.parts` names them."""
        with self.precision.autocast():  # x also goes to the loss: a target may be the input
            return self.loss_fn.parts(self.model(x), y, x)

    def step(self, x: torch.Tensor, y: torch.Tensor,
             micro: list[tuple[torch.Tensor | slice, int]], norms: bool = False) -> StepResult:
        """One optimizer step over the micro-batches `micro`: (index into x and y, size)."""
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.zero_grad(set_to_none=True)
        total = sum(size for _, size in micro)
        means: dict[str, torch.Tensor] = {}  # each loss's mean over the step's samples
        for index, size in micro:
            with self.checked:
                batch = x[index], y[index]
                losses = self.losses(*(self.augment(*batch) if self.augment else batch))
                objective = self.regularizer.with_penalty(losses["loss"])
                self.precision.backward(objective if size == total
                                        else objective * (size / total))
            for key, value in losses.items():
                part = value.detach() if size == total else value.detach() * (size / total)
                means[key] = means[key] + part if key in means else part
        step_loss = means.pop("loss")
        self.precision.unscale(self.optimizer)
        grads = [p.grad for p in self.params if p.grad is not None]
        norm = total_norm(grads)  # on the CPU when there is no gradient
        loss_value, norm_value = _read(step_loss, norm)
        finite_grads = math.isfinite(norm_value)
        # fp16: overflowing gradients are the loss scaler's business (it skips and rescales)
        finite = math.isfinite(loss_value) and (finite_grads or self.precision.scaler is not None)
        group = group_norms(self.groups) if norms and finite else None
        if finite:
            if finite_grads:
                self.regularizer.clip_gradients(norm)
            self.precision.step(self.optimizer)
        self.precision.update()
        if self.scheduler is not None:
            self.scheduler.step()
        return StepResult(loss_value, finite, lr, group, means)

    def train_epoch(self, x: torch.Tensor, y: torch.Tensor, plan: StepPlan, state: EpochState,
                    first_step: int, log_every: int,
                    after_step: Callable[[int, StepResult], None]) -> None:
        """Run the epoch's remaining steps from `state.batches_done`, updating `state`.

        `first_step` is the global number of the epoch's first step; `after_step(step,
        result)` is called after each (group norms are measured every `log_every` steps).
        """
        self.model.train()
        while state.batches_done < plan.steps_per_epoch:
            i = state.batches_done
            step = first_step + i
            result = self.step(x, y, plan.batches(i, state.order),
                               norms=bool(log_every) and step % log_every == 0)
            start, stop = plan.bounds[i]
            state.batches_done += 1
            state.lr_sum += result.lr
            if result.finite:
                state.loss_sum += result.loss * (stop - start)
                state.samples += stop - start
                for key, value in result.terms.items():
                    total = value * (stop - start)
                    state.term_sums[key] = state.term_sums[key] + total \
                        if key in state.term_sums else total
            else:
                state.skipped += 1
            after_step(step, result)
