"""The console of a run: a per-step progress bar on a terminal only, one line per epoch, and
the learning rate the epoch used."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from torch.optim.optimizer import register_optimizer_step_pre_hook
from train_data_fixtures import classification_data, mlp

from dlspec.train.engine.loop import fit
from dlspec.train.engine.reporting import Reporter
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import AdamConfig, LinearWarmupSchedule, TrainConfig
from dlspec.train.run_folder.run_dir import RunFiles

EPOCH = re.compile(r"^epoch (\d)/3 .* lr (\S+) ")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def train(tmp_path, console: Console, schedule=None):
    """3 epochs of 7 steps (210 train samples, batches of 32)."""
    recipe = Recipe.from_sections("classification", optimizer=AdamConfig(lr=0.01),
                                  schedule=schedule, train=TrainConfig(epochs=3),
                                  batch_size=32)
    return fit(mlp(), classification_data(), recipe, tmp_path, device="cpu", seed=0,
               metadata={}, console=console)


def test_the_printed_lr_is_the_one_the_optimizer_used_in_the_epoch(tmp_path):
    used: list[float] = []  # the optimizer's lr at each step, as it steps

    def record(optimizer, args, kwargs):
        used.append(optimizer.param_groups[0]["lr"])

    hook = register_optimizer_step_pre_hook(record)
    buffer = io.StringIO()
    try:  # warmup over the first 10 steps: all of epoch 1, 3 steps of epoch 2
        result = train(tmp_path, Console(file=buffer, width=200),
                       schedule=LinearWarmupSchedule(steps=10))
    finally:
        hook.remove()
    assert len(used) == 21 and used[0] == 0.0 and used[-1] == pytest.approx(0.01)
    printed = [EPOCH.match(line) for line in buffer.getvalue().splitlines()]
    printed = {int(m[1]): float(m[2]) for m in printed if m}
    for epoch in (1, 2, 3):
        mean = sum(used[7 * (epoch - 1):7 * epoch]) / 7
        assert result.history[epoch - 1]["lr"] == pytest.approx(mean, rel=1e-12)
        assert printed[epoch] == float(f"{mean:.2e}")
    assert printed[1] == pytest.approx(0.01 * 3 / 10, rel=1e-2)  # not 0.00e+00
    assert printed[3] == 0.01


def test_the_progress_moves_every_step_on_a_terminal_only(tmp_path, monkeypatch):
    steps: list[tuple[int, int]] = []
    move = Reporter.step

    def spy(self, epoch, step, loss):
        steps.append((epoch, step))
        move(self, epoch, step, loss)

    monkeypatch.setattr(Reporter, "step", spy)
    terminal = io.StringIO()
    train(tmp_path / "a", Console(file=terminal, width=200, force_terminal=True))
    assert steps == [(1 + (s - 1) // 7, s) for s in range(1, 22)]
    shown = ANSI.sub("", terminal.getvalue())
    assert re.search(r"epoch 3/3 .* 21/21 steps [0-9.,]+ steps/s", shown), shown
    plain = io.StringIO()
    train(tmp_path / "b", Console(file=plain, width=200))
    lines = plain.getvalue().splitlines()
    assert "steps/s" not in plain.getvalue() and "\x1b" not in plain.getvalue()
    assert [line.split()[:2] for line in lines[:3]] == [["epoch", "1/3"], ["epoch", "2/3"],
                                                      ["epoch", "3/3"]]
    assert len(lines) == 4 and lines[3].startswith("test_loss")  # one line per epoch


def test_the_bar_shows_steps_done_speed_epoch_and_loss(tmp_path):
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, force_terminal=True)
    with Reporter(RunFiles(tmp_path), ["epoch"], epochs=3, console=console,
                  steps_per_epoch=4, resume_step=2) as reporter:
        task = reporter.progress.tasks[0]
        assert (task.completed, task.total) == (2, 12)  # resumed after 2 steps
        for step in range(3, 7):
            reporter.step(1 + (step - 1) // 4, step, 0.5 / step)
        reporter.progress.refresh()
        assert task.completed == 6 and task.fields["epoch"] == 2
    shown = ANSI.sub("", buffer.getvalue())
    assert re.search(r"epoch 2/3 .* 6/12 steps \S+ steps/s .* loss 0\.0833", shown), shown
    quiet = Reporter(RunFiles(tmp_path / "q"), ["epoch"], epochs=3,
                     console=Console(file=io.StringIO()), steps_per_epoch=4)
    assert quiet.progress is None  # not a terminal: no bar
    quiet.step(1, 1, 0.5)
    quiet.close()
