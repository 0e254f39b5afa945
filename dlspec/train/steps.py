"""One training epoch over in-memory tensors, and the checks around it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from dlspec.data.types import PreparedData
from dlspec.errors import Diagnostic, TrainError

if TYPE_CHECKING:
    from dlspec.train.reporting import Reporter


@dataclass(frozen=True)
class StepPlan:
    """The batches of one epoch as [start, stop) bounds into the (shuffled) train split.

    A last batch of a single sample is merged into the one before it (batch norm cannot
    train on one sample).
    """

    bounds: tuple[tuple[int, int], ...]
    sizes: torch.Tensor  # (steps_per_epoch,) float32 batch sizes, on the device
    samples: int
    epochs: int

    @classmethod
    def create(cls, samples: int, batch_size: int, epochs: int, device: str) -> StepPlan:
        """The plan for `epochs` epochs over `samples` train samples in batches."""
        bounds = [(s, min(s + batch_size, samples)) for s in range(0, samples, batch_size)]
        if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
            bounds[-2:] = [(bounds[-2][0], samples)]
        sizes = torch.tensor([stop - start for start, stop in bounds], dtype=torch.float32,
                             device=device)
        return cls(tuple(bounds), sizes, samples, epochs)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.bounds)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    def epoch_mean(self, losses: torch.Tensor) -> float:
        """The epoch's mean sample loss from its per-batch mean losses (one device read)."""
        return float((losses * self.sizes).sum() / self.samples)


def train_epoch(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                loss_fn: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler,
                plan: StepPlan, order: torch.Tensor | None, epoch: int, reporter: Reporter,
                grad_clip_norm: float | None, log_every: int) -> torch.Tensor:
    """Run one epoch of optimizer steps; returns the batch losses (steps_per_epoch,).

    `order` is the epoch's permutation of the train split (None: in order). The losses stay on
    the device; the only reads are the logged batch losses every `log_every` steps, and a
    non-finite one among them stops the epoch at once.
    """
    model.train()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    losses: list[torch.Tensor] = []
    first_step = (epoch - 1) * plan.steps_per_epoch
    for i, (start, stop) in enumerate(plan.bounds):
        index = slice(start, stop) if order is None else order[start:stop]
        loss = loss_fn(model(x[index]), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, grad_clip_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.detach())
        step = first_step + i + 1
        if log_every and step % log_every == 0:
            value = loss.item()
            reporter.step_loss(step, value)
            if not math.isfinite(value):
                losses += [loss.new_tensor(math.nan)] * (plan.steps_per_epoch - i - 1)
                break
    return torch.stack(losses)


def check_outputs(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                  data: PreparedData) -> int:
    """Run the model on two train samples and check its output fits the targets.

    Returns the number of classes (from the data, else from the output width; 0 for
    regression). Raises TrainError DLS402 when the output shape cannot feed the loss.
    """
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        out = model(x[:2])
    model.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise _mismatch(f"the model returns {type(out).__name__}, not one tensor of logits",
                        "training needs a single output; list one layer under `outputs`")
    got = "(N, " + ", ".join(str(d) for d in out.shape[1:]) + ")"
    if data.task == "classification":
        classes = data.num_classes or (out.shape[-1] if out.ndim == 2 else 0)
        if out.ndim != 2 or out.shape[1] != classes:
            raise _mismatch(f"the model outputs {got} but the data has {classes} classes",
                            f"end the model with a linear layer of out_features: {classes}")
        return classes
    want = tuple(y.shape[1:])
    if tuple(out.shape[1:]) != want:
        expected = "(N, " + ", ".join(str(d) for d in want) + ")"
        raise _mismatch(f"the model outputs {got} but the {data.task} targets are {expected}",
                        f"end the model with a linear layer of out_features: {want[-1]}"
                        if want else None)
    return 0


def _mismatch(message: str, hint: str | None) -> TrainError:
    return TrainError(Diagnostic("DLS402", message, hint=hint))


def nonfinite_loss_error(losses: torch.Tensor, plan: StepPlan, epoch: int, lr: float,
                         data: tuple[torch.Tensor, ...], last_checkpoint: Path) -> TrainError:
    """DLS403 naming the first non-finite batch loss and its likely causes."""
    bad = (~torch.isfinite(losses)).nonzero()
    batch = int(bad[0]) if len(bad) else plan.steps_per_epoch - 1
    step = (epoch - 1) * plan.steps_per_epoch + batch + 1
    value = float(losses[batch])
    bad_data = not all(bool(torch.isfinite(t.float()).all()) for t in data)
    causes = ("the train data holds NaN or inf values (check the data file and "
              "data.missing)" if bad_data else
              f"the learning rate may be too high (lr={lr:.3g}; try 10x lower), or the data "
              "has extreme values; gradient clipping (regularization.grad_clip_norm) can help")
    kept = (f"; the last good checkpoint is {last_checkpoint}" if last_checkpoint.exists()
            else "")
    return TrainError(Diagnostic(
        "DLS403", f"the training loss became {value} at epoch {epoch}, step {step} "
                  f"(batch {batch + 1} of {plan.steps_per_epoch})",
        hint=causes + kept))
