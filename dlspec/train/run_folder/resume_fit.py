"""Does a resume checkpoint fit the run set up to continue it? Checked before any of it is
loaded: its epochs and steps agree with the run's plan, the model's weights and each
optimizer's moments have the shapes of the model's parameters, the schedulers and loss
scaler hold the fields the run's own have, and the data order fits the train split. Loading
is then guarded too (`loading`): whatever torch still refuses is DLS404 naming the field.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from dlspec.train.run_folder.resume_header import damaged

MODEL = "model."  # the prefix of the model's weights among a resume checkpoint's tensors


@contextlib.contextmanager
def loading(root: Path, field: str) -> Iterator[None]:
    """Turn a failure to load `field` of the resume checkpoint into DLS404."""
    try:
        yield
    except (ValueError, KeyError, TypeError, RuntimeError, IndexError, AttributeError,
            OverflowError) as error:
        raise damaged(root, field, f"does not load ({type(error).__name__}: {error})") \
            from None


def check_fits(run: Any, saved: Any) -> None:
    """DLS404 naming the first field of `saved` (a SavedState) that does not fit `run`."""
    root, data = run.files.root, saved.data
    with loading(root, "partial"):
        partial = saved.decoded("partial")
    sampler = getattr(run, "sampler", None)
    drawn = sampler is not None and sampler.method != "none"
    _check_progress(root, data, run.plan.steps_per_epoch, len(run.splits["train"]), partial,
                    run.plan.samples if drawn else None)
    _check_weights(root, saved, run.model.state_dict(), data.get("weights"))
    if "optimizers" in data:
        for field, learners in (("optimizers", run.learners), ("schedulers", [
                learner for learner in run.learners if learner.scheduler is not None])):
            names = sorted(learner.update.name for learner in learners)
            if sorted(data[field]) != names:
                raise damaged(root, field, f"holds the updates {sorted(data[field])}, the run "
                                           f"has {names}")
    prefix = "optimizers" if "optimizers" in data else "optimizer"
    for learner in run.learners:
        where = f"{prefix}.{learner.update.name}" if prefix == "optimizers" else prefix
        with loading(root, where):
            optimizer, scheduler = saved.learner_state(learner.update.name)
        _check_optimizer(root, where, optimizer, learner.optimizer)
        if learner.scheduler is not None:
            where = where.replace("optimizer", "scheduler")
            if scheduler is None:
                raise damaged(root, where, "missing: the run has a schedule")
            same_structure(root, where, scheduler, learner.scheduler.state_dict())
    with loading(root, "scaler"):
        scaler, fresh = saved.decoded("scaler"), run.precision.state_dict()
    if not isinstance(scaler, Mapping):
        raise damaged(root, "scaler", f"{_kind(scaler)}, expected an object")
    if scaler and fresh:
        same_structure(root, "scaler", scaler, fresh)


def _check_progress(root: Path, data: Mapping[str, Any], per_epoch: int, samples: int,
                    partial: Mapping[str, Any] | None, drawn: int | None = None) -> None:
    """`drawn`: the length of a sampled order (data.sampling: indices into the `samples`
    train samples, with repeats), None when the order is a permutation."""
    epoch, step = data["epoch"], data["step"]
    done = 0
    if partial is not None:
        if partial["epoch"] != epoch + 1:
            raise damaged(root, "partial.epoch", f"{partial['epoch']}, but the epoch under "
                                                 f"way after {epoch} done is {epoch + 1}")
        done = partial["batches_done"]
        if done >= per_epoch:
            raise damaged(root, "partial.batches_done",
                          f"{done}, but an epoch of this run has {per_epoch} steps")
        order = partial["order"]
        if order is not None and drawn is not None:
            if order.dtype != torch.int64 or tuple(order.shape) != (drawn,) or (
                    drawn and not 0 <= int(order.min()) <= int(order.max()) < samples):
                raise damaged(root, "partial.order",
                              f"a {order.dtype} tensor of shape {list(order.shape)}, not "
                              f"{drawn} draws from the {samples} train samples")
        elif order is not None and (order.dtype != torch.int64 or tuple(order.shape)
                                  != (samples,) or not torch.equal(
                                      order.sort().values, torch.arange(samples))):
            raise damaged(root, "partial.order",
                          f"a {order.dtype} tensor of shape {list(order.shape)}, not an "
                          f"order of the {samples} train samples")
        for key, total in partial["term_sums"].items():
            if total.dim() != 0 or not total.is_floating_point():
                raise damaged(root, f"partial.term_sums.{key}",
                              f"a {total.dtype} tensor of shape {list(total.shape)}, not a "
                              "float scalar")
    if step != epoch * per_epoch + done:
        raise damaged(root, "step", f"{step}, but {epoch} epochs of {per_epoch} steps"
                                    f"{f' and {done} steps' if done else ''} make "
                                    f"{epoch * per_epoch + done}")
    monitor = data["monitor"]
    if monitor["best_epoch"] > epoch:
        raise damaged(root, "monitor.best_epoch",
                      f"{monitor['best_epoch']}, after the {epoch} epochs done")


def _check_weights(root: Path, saved: Any, own: Mapping[str, torch.Tensor],
                   weights_file: str | None) -> None:
    weights = {k[len(MODEL):]: v for k, v in saved.tensors.items() if k.startswith(MODEL)}
    where = "weights" if weights_file else "layout"
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    if missing or unexpected:
        what = (f"lacks the model's {', '.join(missing[:3])}" if missing
                else f"holds {', '.join(unexpected[:3])}, which the model does not have")
        raise damaged(root, where, f"the weights {what}")
    for key, tensor in weights.items():
        if tuple(tensor.shape) != tuple(own[key].shape):
            raise damaged(root, where if weights_file else f"layout.{MODEL}{key}",
                          f"{key} has shape {list(tensor.shape)}, the model's "
                          f"{list(own[key].shape)}")


def _check_optimizer(root: Path, where: str, state: Mapping[str, Any],
                     optimizer: torch.optim.Optimizer) -> None:
    groups, saved_groups = optimizer.param_groups, state["param_groups"]
    if len(saved_groups) != len(groups):
        raise damaged(root, f"{where}.param_groups",
                      f"{len(saved_groups)} groups, the run's optimizer has {len(groups)}")
    params: dict[int, tuple[str, torch.Tensor]] = {}
    fresh = optimizer.state_dict()["param_groups"]
    for i, (saved_group, group, own) in enumerate(zip(saved_groups, groups, fresh,
                                                      strict=True)):
        if len(saved_group["params"]) != len(group["params"]):
            raise damaged(root, f"{where}.param_groups.{i}.params",
                          f"{len(saved_group['params'])} parameters, the run's group has "
                          f"{len(group['params'])}")
        names = group.get("param_names") or [str(p) for p in saved_group["params"]]
        params |= {index: (name, param) for index, name, param
                   in zip(saved_group["params"], names, group["params"], strict=False)}
        same_structure(root, f"{where}.param_groups.{i}",
                       {k: v for k, v in saved_group.items() if k != "params"},
                       {k: v for k, v in own.items() if k != "params"})
    for index, values in state["state"].items():
        if index not in params:
            raise damaged(root, f"{where}.state.{index}", "no parameter has this index")
        name, param = params[index]
        if not isinstance(values, dict):
            raise damaged(root, f"{where}.state.{index}", "not a parameter's state")
        for key, value in values.items():
            field = f"{where}.state.{index}.{key}"
            if key == "step":  # the one scalar of torch's optimizers; the rest are moments
                if isinstance(value, torch.Tensor) and (value.dim() != 0
                                                        or not value.is_floating_point()):
                    raise damaged(root, field, f"a {value.dtype} tensor of shape "
                                               f"{list(value.shape)}, not a float scalar")
                if not isinstance(value, torch.Tensor | int | float) or isinstance(value, bool):
                    raise damaged(root, field, f"{_kind(value)}, not a number")
            elif value is None and key == "momentum_buffer":  # SGD before its first step
                continue
            elif not isinstance(value, torch.Tensor):
                raise damaged(root, field, f"{_kind(value)}, expected a tensor of shape "
                                           f"{list(param.shape)}")
            elif tuple(value.shape) != tuple(param.shape):
                raise damaged(root, field,
                              f"shape {list(value.shape)}, but its parameter {name} has "
                              f"{list(param.shape)}")


def same_structure(root: Path, where: str, saved: Any, fresh: Any) -> None:
    """DLS404 unless `saved` has the fields and kinds of value of `fresh`, the state a
    freshly built object gives (ints and floats match; a fresh None takes any plain value;
    the settings that follow the device may differ; a flag must be the same)."""
    if isinstance(fresh, Mapping):
        if not isinstance(saved, Mapping):
            raise damaged(root, where, f"{_kind(saved)}, expected an object")
        if set(saved) != set(fresh):
            extra, lacking = sorted(set(saved) - set(fresh), key=str), \
                sorted(set(fresh) - set(saved), key=str)
            raise damaged(root, where, f"has the fields {sorted(saved, key=str)}"
                                       f"{f', not {lacking}' if lacking else ''}"
                                       f"{f', and {extra} too many' if extra else ''}")
        for key in fresh:
            same_structure(root, f"{where}.{key}", saved[key], fresh[key])
    elif isinstance(fresh, list | tuple):
        if not isinstance(saved, list | tuple) or len(saved) != len(fresh):
            raise damaged(root, where, f"{_kind(saved)}, expected a list of {len(fresh)}")
        for i, (a, b) in enumerate(zip(saved, fresh, strict=True)):
            same_structure(root, f"{where}.{i}", a, b)
    elif where.rpartition(".")[2] in BY_DEVICE:
        if not (saved is None or isinstance(saved, bool)):
            raise damaged(root, where, f"{_kind(saved)}, expected true, false or null")
    elif not _same_kind(saved, fresh):
        raise damaged(root, where, f"{_kind(saved)}, expected {_kind(fresh)}")
    elif isinstance(fresh, bool) and saved != fresh:  # e.g. amsgrad: set by the spec alone
        raise damaged(root, where, f"{saved}, but the run's is {fresh}")


BY_DEVICE = ("fused", "foreach", "capturable")  # optimizer settings that follow the device


def _same_kind(a: Any, b: Any) -> bool:
    if b is None:  # a fresh object has no value yet (e.g. the best metric so far)
        return a is None or isinstance(a, bool | int | float | str)

    def kind(value: Any) -> str:
        if isinstance(value, bool):
            return "bool"
        if isinstance(value, int | float):
            return "number"
        if isinstance(value, torch.Tensor):
            return f"tensor{tuple(value.shape)}"
        return type(value).__name__
    return kind(a) == kind(b)


def _kind(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {list(value.shape)}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"
