"""The training loop: `fit` trains a model on prepared in-memory data with a recipe.

Whole splits live on the device as tensors; each epoch shuffles with a seeded generator and
slices batches by index (no DataLoader). Validation runs once per epoch under inference
mode; checkpoints are written by a background thread while training goes on. A run can be
resumed exactly from its last resume checkpoint (see resume.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from dlspec.data.types import PreparedData
from dlspec.files import atomic_write_text
from dlspec.train.diagnostics.anomaly import NonFiniteOpFound, anomaly_error, detect_anomalies
from dlspec.train.diagnostics.grad_norms import NormWatch
from dlspec.train.distributed.evaluation import after_test, evaluate_split
from dlspec.train.distributed.quiet import NullWriter, SilentReporter
from dlspec.train.distributed.strategy import parallel_of
from dlspec.train.engine.extend import extension_notes
from dlspec.train.engine.interrupt import RunInterrupted, Stopped, StopRequest, stop_requests
from dlspec.train.engine.reporting import Reporter
from dlspec.train.engine.setup import FitOptions, Run, setup_run
from dlspec.train.engine.steps import EpochState, StepResult
from dlspec.train.recipe import Recipe
from dlspec.train.run_folder.checkpoint import CheckpointWriter, apply_checkpoint, load_checkpoint
from dlspec.train.run_folder.resume import (
    Progress,
    capture,
    checkpoint_step,
    read_state,
    restore,
    write_state,
)
from dlspec.train.run_folder.run_dir import RunFiles, json_text, write_result
from dlspec.train.run_folder.run_spec import record_epochs
from dlspec.train.run_folder.state_codec import pack


@dataclass(frozen=True)
class FitResult:
    """What a finished run achieved and where its files are."""

    run_dir: Path
    monitor: str
    mode: str
    best_epoch: int  # 0 when no epoch had a finite monitored value
    best_value: float | None
    epochs_run: int
    stopped_early: bool
    restored_best: bool
    val_metrics: dict[str, float]  # of the returned weights
    test_metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    best_checkpoint: Path | None = None
    last_checkpoint: Path | None = None
    skipped_steps: int = 0  # steps skipped for a non-finite loss or gradient
    warnings: list[str] = field(default_factory=list)  # e.g. vanishing gradients

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data (what result.json holds)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


def fit(model: torch.nn.Module, data: PreparedData, recipe: Recipe, run_dir: Path, *,
        device: str, seed: int, metadata: dict[str, str], console: Console | None = None,
        quiet: bool = False, options: FitOptions | None = None) -> FitResult:
    """Train `model` (called as `model(x)`, returning its outputs: one tensor, or a tuple in
    the order of `recipe.outputs`) on `data` with `recipe`.

    Writes metrics.csv, grad_norms.csv, TensorBoard events, checkpoints/{best,last}
    .safetensors, the resume checkpoint and result.json under `run_dir`. `metadata` (e.g.
    spec_name, spec_sha256) goes into every checkpoint with the epoch, step, task, class
    names and metrics. With early stopping and restore_best, the best epoch's weights are
    loaded at the end; the test metrics measure the weights the model is left with. Steps
    with a non-finite loss or gradient are skipped; too many in a row raise TrainError
    DLS403 and leave the last good checkpoint in place. Seeds torch's global generator with
    `seed` (dropout) and shuffles with a generator of its own, so equal seeds give equal
    weights; `options.resume` continues the run in `run_dir` bit for bit.
    """
    options = options or FitOptions()
    torch.manual_seed(seed)
    files = RunFiles(Path(run_dir))
    saved = (read_state(files, finished=options.extend_from is not None)
             if options.resume else None)  # before anything is loaded
    run = setup_run(model, data, recipe, files, device, metadata, options)
    generator = torch.Generator().manual_seed(seed)  # the global sample order: every rank's
    progress = Progress() if saved is None else restore(run, saved, generator)
    main = run.ranks.is_main  # only rank 0 of a distributed run writes and prints
    if not main:  # dropout and augmentation: each rank draws its own
        torch.manual_seed(run.ranks.seed(seed, progress.step))
    if options.extend_from is not None:
        run.notes[:0] = extension_notes(run, progress.epoch, progress.step,
                                        options.extend_from)
    try:  # the run folder appears only once the run is known to be able to start
        if main and options.new_run is not None:
            options.new_run.create()
        elif main:
            files.create()
        if main and data.tokenizer and not files.tokenizer.exists():  # text: how to read it
            atomic_write_text(files.tokenizer, data.tokenizer)
        if main and options.extend_from is not None:
            record_epochs(files.root, recipe.train.epochs)
        with stop_requests() as stop:
            result = _train(run, progress, generator, console, quiet or not main, options,
                            stop)
    except (Stopped, KeyboardInterrupt):
        removed = options.new_run is not None and options.new_run.discard_unless_kept()
        partial = progress.partial
        raise RunInterrupted(files.root, partial.epoch if partial else progress.epoch,
                             recipe.train.epochs, progress.step, checkpoint_step(files),
                             removed) from None
    except BaseException:
        if options.new_run is not None:
            options.new_run.discard_unless_kept()
        raise
    if main:
        write_result(files.result_json, result.to_json())
    model.train()
    return result


def _train(run: Run, progress: Progress, generator: torch.Generator, console: Console | None,
           quiet: bool, options: FitOptions, stop: StopRequest) -> FitResult:
    """The epochs, the best weights restored and the test split measured: the result."""
    recipe, files = run.recipe, run.files
    keys = run.loss_keys()
    val_keys = [f"val_{k}" for k in (*keys, *run.objective.metric_names())] \
        if run.has_val else []
    columns = ["epoch", "step", "lr", *(f"train_{k}" for k in keys), *val_keys,
               "skipped_steps", "seconds"]
    groups = list(run.stepper.groups) if recipe.train.log_every else None
    main = run.ranks.is_main
    with (Reporter if main else SilentReporter)(
            files, columns, recipe.train.epochs, console, quiet, groups,
            progress.step if options.resume else None,
            steps_per_epoch=run.plan.steps_per_epoch) as reporter, \
            (CheckpointWriter() if main else NullWriter()) as writer, \
            contextlib.ExitStack() as stack:
        if options.detect_anomaly:
            run.stepper.checked = stack.enter_context(detect_anomalies(run.model))
        for note in run.notes:
            reporter.note(note)
        _Training(run, progress, generator, reporter, writer, stop,
                  options.on_epoch).epochs()
        writer.wait()
        restored = _restore_best(run)
        test_metrics = _test(run, reporter, progress.step)
    history = progress.history
    final = history[run.monitor.best_epoch - 1] if restored else history[-1]
    return FitResult(
        run_dir=files.root, monitor=run.monitor.name, mode=run.monitor.mode,
        best_epoch=run.monitor.best_epoch, best_value=run.monitor.best,
        epochs_run=len(history), stopped_early=len(history) < recipe.train.epochs,
        restored_best=restored,
        val_metrics={k: v for k, v in final.items() if k.startswith("val_")},
        test_metrics=test_metrics, history=history,
        best_checkpoint=files.best if run.monitor.best_epoch else None,
        last_checkpoint=files.last, skipped_steps=run.guard.total,
        warnings=reporter.warnings)


class _Training:
    """The epochs of one run, with what happens after each step and each epoch."""

    def __init__(self, run: Run, progress: Progress, generator: torch.Generator,
                 reporter: Reporter, writer: CheckpointWriter, stop: StopRequest,
                 on_epoch: Callable[[int, Mapping[str, float]], None] | None = None):
        self.run, self.progress, self.generator = run, progress, generator
        self.reporter, self.writer, self.stop = reporter, writer, stop
        self.on_epoch = on_epoch
        self.watch = NormWatch()

    def epochs(self) -> None:
        run = self.run
        if run.monitor.should_stop:  # resumed from the checkpoint where early stopping stopped
            return
        for epoch in range(self.progress.epoch + 1, run.recipe.train.epochs + 1):
            record = self.epoch(epoch)
            for learner in run.learners:  # reduce_on_plateau reads the epoch's metrics
                if learner.scheduler is not None:
                    learner.scheduler.epoch_end(record)
            improved = run.monitor.update(epoch, record[run.monitor.name])
            self.progress.history.append(record)
            self.progress.epoch = epoch
            saved = self.save_epoch(record, improved)
            self.reporter.epoch(record, improved)
            if self.on_epoch is not None:
                self.after_epoch(epoch, record, saved)
            if run.monitor.should_stop:
                break
            if self.stop_requested():  # Ctrl-C: keep this epoch's state, then stop
                if not saved:
                    self.save_state()
                self.writer.wait()
                raise Stopped

    def after_epoch(self, epoch: int, record: dict[str, Any], saved: bool) -> None:
        """Call `on_epoch`; when it raises (a search pruning the run), the epoch's state is
        kept and every file written before the exception goes on."""
        try:
            self.on_epoch(epoch, record)
        except BaseException:
            if not saved:
                self.save_state()
            self.writer.wait()
            raise

    def epoch(self, epoch: int) -> dict[str, Any]:
        """Train one epoch (or its rest, when resumed inside it), then validate."""
        started = time.perf_counter()
        run = self.run
        data = run.splits["train"]
        state = self.progress.partial or EpochState(
            epoch, self._order(len(data), data.device), run.optimizer.param_groups[0]["lr"])
        self.progress.partial = state
        first_step = (epoch - 1) * run.plan.steps_per_epoch + 1
        try:
            run.stepper.train_epoch(data, run.plan, state, first_step,
                                    run.recipe.train.log_every, self.after_step)
        except (NonFiniteOpFound, RuntimeError) as error:
            found = anomaly_error(error, epoch, self.progress.step + 1,
                                  run.guard.data_is_finite)
            if found is None:
                raise
            raise found from None
        self.progress.partial = None
        record = {"epoch": epoch, "step": epoch * run.plan.steps_per_epoch, "lr": state.mean_lr,
                  "train_loss": state.mean_loss, **state.mean_terms()}
        if run.has_val:
            record |= evaluate_split(run, "val", _eval_batch(run.recipe))
        record["skipped_steps"] = state.skipped
        record["seconds"] = time.perf_counter() - started
        return record

    def _order(self, samples: int, device: torch.device) -> torch.Tensor | None:
        """The epoch's global order (sampling.py): a permutation, a class-balanced draw, or
        None (in order); `samples`, the train split's size, when the run has no sampler."""
        if self.run.sampler is None:
            return (torch.randperm(samples, generator=self.generator).to(device)
                    if self.run.recipe.shuffle else None)
        return self.run.sampler.order(self.generator, device)

    def after_step(self, step: int, result: StepResult) -> None:
        """Count a non-finite step (the guard stops the run after too many), log the loss
        and the gradient norms every log_every steps, checkpoint every N steps."""
        run, state = self.run, self.progress.partial
        self.progress.step = step
        if not result.finite:
            self.writer.wait()  # so that the error can name the last good checkpoint
        run.guard.observe(result.loss, result.finite, state.epoch, step, result.lr)
        self.reporter.step(state.epoch, step, result.loss)
        log_every = run.recipe.train.log_every
        if log_every and step % log_every == 0:
            self.reporter.step_loss(step, result.loss)
            if result.norms:
                self.reporter.step_norms(state.epoch, step, result.norms)
                for warning in self.watch.check(result.norms, state.epoch, step):
                    self.reporter.warn(warning)
        every = run.recipe.train.checkpoint_every_steps
        inside = state.batches_done < run.plan.steps_per_epoch  # else the epoch's end saves
        stop = inside and self.stop_requested()
        if inside and ((every and step % every == 0) or stop):
            self.save_state()
        if stop:  # Ctrl-C: stop here, resumable from this step
            self.writer.wait()
            raise Stopped

    def stop_requested(self) -> bool:
        """Whether Ctrl-C asked the run to stop (in any process of a distributed run)."""
        return self.run.ranks.any(self.stop.requested)

    def save_epoch(self, record: dict[str, Any], improved: bool) -> bool:
        """last.safetensors and the resume state every checkpoint_every epochs, at the end
        and where a step checkpoint falls; best.safetensors when improved. Whether it saved
        the resume state."""
        run, files = self.run, self.run.files
        epoch, train = record["epoch"], run.recipe.train
        last_epoch = run.monitor.should_stop or epoch == train.epochs
        every = train.checkpoint_every_steps
        metadata = {**run.metadata, "epoch": str(epoch), "step": str(record["step"]),
                    "metrics": json_text(record)}
        if (last_epoch or epoch % train.checkpoint_every == 0
                or (every and record["step"] % every == 0)):
            with self.writer.together():
                self.writer.save(files.last, parallel_of(run).model_state(run.model), metadata,
                                run.extras)
                if improved:
                    self.writer.copy(files.last, files.best)
                self.save_state(weights=files.last)
            return True
        if improved:
            self.writer.save(files.best, parallel_of(run).model_state(run.model), metadata,
                            run.extras)
        return False

    def save_state(self, weights: Path | None = None) -> None:
        """The resume checkpoint; `weights`: a checkpoint of the current weights, just
        queued, which it links instead of writing them again."""
        if not self.run.ranks.is_main:  # rank 0 writes the state every rank holds
            if parallel_of(self.run).gathers:  # fsdp: every rank takes part in the gather
                capture(self.run, self.progress, self.generator, weights is None)
            return
        self.reporter.flush()  # the events up to the checkpoint, on disk before it
        state, tensors = capture(self.run, self.progress, self.generator, weights is None)
        self.writer.save_with(write_state, tensors, self.run.files, state, weights,
                              snapshot=pack)


def _eval_batch(recipe: Recipe) -> int:
    return max(recipe.batch_size, 1024)


def _restore_best(run: Run) -> bool:
    """Load best.safetensors when early stopping asks for it; whether it did."""
    stopping = run.recipe.regularization.early_stopping
    if stopping is None or not stopping.restore_best or not run.monitor.best_epoch:
        return False
    if parallel_of(run).gathers:  # fsdp: every rank loads its shard of the whole state
        run.ranks.any(False)  # once rank 0 has written it (the writer waited for)
        parallel_of(run).load_model_state(run.model, load_checkpoint(run.files.best).state_dict)
        return True
    if run.ranks.is_main:
        apply_checkpoint(run.model, load_checkpoint(run.files.best))
    run.ranks.broadcast_state(run.model)  # rank 0 read the file; every rank has it
    return True


def _test(run: Run, reporter: Reporter, step: int) -> dict[str, float]:
    """Metrics of the final weights on the test split ({} when it is empty)."""
    test = run.splits["test"]
    if len(test) == 0:
        return {}
    metrics = evaluate_split(run, "test", _eval_batch(run.recipe))
    after_test(run)
    reporter.final(metrics, step)
    return metrics
