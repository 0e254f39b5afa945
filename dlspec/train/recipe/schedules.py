"""Learning-rate schedules: ONE pure function, `lr_at`, defines every curve (no torch).

`LrScheduler` (lr_scheduler.py) applies it every optimizer step, so what a test checks
against the formulas is exactly what the optimizer sees. Composition: a leading linear warmup
multiplies the other schedule; decays (step, multi_step, exponential) count from the start of
the run, while the schedules shaped over the run (cosine, linear, one_cycle, cyclic) start
after the warmup.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

DECAYS = ("step", "multi_step", "exponential")


def warmup_length(schedules: Sequence, steps_per_epoch: int) -> int:
    """Warmup length in optimizer steps (0 without a warmup)."""
    for schedule in schedules:
        if schedule.op == "linear_warmup":
            return schedule.steps or schedule.epochs * steps_per_epoch
    return 0


def main_schedule(schedules: Sequence):
    """The schedule besides the warmup, or None."""
    return next((s for s in schedules if s.op != "linear_warmup"), None)


def lr_at(step: int, steps_per_epoch: int, total_steps: int, base_lr: float,
          schedules: Sequence) -> float:
    """The learning rate for optimizer step `step` (0-based) of a run of `total_steps` steps,
    before any reduce_on_plateau reduction (that curve is flat at base_lr).

    The clock: u = n // U intervals, with n = step (U = 1) for interval step, or n = step
    rounded down to its epoch's first step (U = steps_per_epoch) for interval epoch.
    step:        base_lr * gamma ** (u // step_size)
    multi_step:  base_lr * gamma ** (number of milestones <= u)
    exponential: base_lr * gamma ** u
    After a warmup of W steps, the others use t = clamp(n - W, 0, T) // U of T = total - W:
    cosine:      min_lr + (base_lr - min_lr) * (1 + cos(pi * t / (T // U))) / 2
    linear:      base_lr * (1 + (end_factor - 1) * t / (T // U))
    one_cycle:   torch's OneCycleLR over T // U intervals; cyclic: torch's CyclicLR at t
    warmup:      all times start_factor + (1 - start_factor) * step / W while step < W
    """
    warmup = warmup_length(schedules, steps_per_epoch)
    main = main_schedule(schedules)
    lr = base_lr if main is None else _curve(main, step, steps_per_epoch, total_steps, warmup,
                                             base_lr)
    if step < warmup:
        start = schedules[0].start_factor
        lr *= start + (1.0 - start) * step / warmup
    return lr


def _curve(main, step: int, steps_per_epoch: int, total_steps: int, warmup: int,
           base_lr: float) -> float:
    unit = steps_per_epoch if getattr(main, "interval", "step") == "epoch" else 1
    n = step - step % unit
    if main.op in DECAYS:
        u = n // unit
        if main.op == "step":
            return base_lr * main.gamma ** (u // main.step_size)
        if main.op == "multi_step":
            return base_lr * main.gamma ** bisect_right(main.milestones, u)
        return base_lr * main.gamma ** u
    span = max(total_steps - warmup, 1)
    t = min(max(n - warmup, 0), span) // unit
    intervals = max(span // unit, 1)
    if main.op == "cosine":
        return main.min_lr + (base_lr - main.min_lr) * (1 + math.cos(math.pi * t / intervals)) / 2
    if main.op == "linear":
        return base_lr * (1 + (main.end_factor - 1) * t / intervals)
    if main.op == "one_cycle":
        return _one_cycle(main, min(t, intervals - 1), intervals, base_lr)
    if main.op == "cyclic":
        return _cyclic(main, t, base_lr)
    return base_lr  # constant, reduce_on_plateau


def _one_cycle(c, t: int, total: int, peak: float) -> float:
    """torch.optim.lr_scheduler.OneCycleLR's rate at step t of `total`."""
    start = peak / c.div_factor
    end = start / c.final_div_factor
    if c.three_phase:
        phases = [(c.pct_start * total - 1, start, peak),
                  (2 * c.pct_start * total - 2, peak, start), (total - 1, start, end)]
    else:
        phases = [(c.pct_start * total - 1, start, peak), (total - 1, peak, end)]
    begin = 0.0
    for i, (stop, low, high) in enumerate(phases):
        if t <= stop or i == len(phases) - 1:
            pct = (t - begin) / (stop - begin) if stop > begin else 1.0
            if c.anneal == "cos":
                return high + (low - high) / 2 * (1 + math.cos(math.pi * pct))
            return (high - low) * pct + low
        begin = stop
    raise AssertionError("unreachable: the last phase always answers")


def _cyclic(c, t: int, top: float) -> float:
    """torch.optim.lr_scheduler.CyclicLR's rate at step t (between c.min_lr and top)."""
    up = c.step_size_up
    size = up + (c.step_size_down or up)
    cycle = math.floor(1 + t / size)
    x = 1.0 + t / size - cycle
    ratio = up / size
    scale = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    height = (top - c.min_lr) * scale
    if c.mode == "triangular2":
        height /= 2 ** (cycle - 1)
    elif c.mode == "exp_range":
        height *= c.gamma ** t
    return c.min_lr + height
