"""`dlspec train` against a hand-written PyTorch loop doing the same work, in one process.

For specs/mlp-digits.yaml and specs/cnn-digits.yaml (a small residual CNN), both train the
same network on the same prepared digits for the spec's epochs (early stopping off), with the
same optimizer, schedule, loss, gradient clipping and a validation pass (loss and accuracy)
per epoch. dlspec does what a real run does: it checks every step for NaN/inf, logs the
batch loss and per-layer gradient norms, writes metrics.csv, TensorBoard events, safetensors
checkpoints and the resume state (optimizer, RNG states) every epoch. The hand-written loop
runs twice: recording what a careful script records (TensorBoard scalars, a CSV row, the
weights and the optimizer state as safetensors, every epoch), and writing nothing. Runs
alternate, and the medians are compared: wall-clock seconds, and CPU seconds of the whole
process (every thread; steadier than wall time on a shared machine). Target: ratio <= 1.10
against the loop that records the same.

Run: python benchmarks/train_vs_raw.py [--repeats 5] [--epochs N] [--threads 1]
     [--spec mlp-digits]
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from dlspec.api import check, compile_module, load_data, recipe_for
from dlspec.train.engine.loop import fit

SPECS = Path(__file__).resolve().parents[1] / "specs"


class RawCNN(nn.Module):
    """specs/cnn-digits.yaml written by hand."""

    def __init__(self, width: int = 32, classes: int = 10):
        super().__init__()

        def conv(inputs: int, outputs: int) -> nn.Conv2d:
            return nn.Conv2d(inputs, outputs, 3, padding=1, bias=False)

        self.stem, self.stem_bn = conv(1, width), nn.BatchNorm2d(width)
        self.conv1, self.bn1 = conv(width, width), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = conv(width, width), nn.BatchNorm2d(width)
        self.widen, self.widen_bn = conv(width, 2 * width), nn.BatchNorm2d(2 * width)
        self.dropout, self.logits = nn.Dropout(0.1), nn.Linear(2 * width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.stem_bn(self.stem(x)))
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        x = F.max_pool2d(F.relu(x + out), 2)
        x = F.relu(self.widen_bn(self.widen(x))).mean((2, 3))
        return self.logits(self.dropout(x))


def raw_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 128),
                         nn.ReLU(), nn.Linear(128, 10))


@dataclass(frozen=True)
class Case:
    spec: str
    model: Callable[[], nn.Module]
    warmup_epochs: int  # linear warmup from 0, then cosine to 1e-5
    label_smoothing: float
    clip: float | None


CASES = (Case("mlp-digits", raw_mlp, 1, 0.05, 5.0), Case("cnn-digits", RawCNN, 0, 0.0, None))


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float
    accuracy: float


class Clock:
    """Wall-clock and process CPU seconds since it was made."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def timing(self, accuracy: float) -> Timing:
        return Timing(time.perf_counter() - self.wall, time.process_time() - self.cpu,
                      accuracy)


def dlspec_run(checked, data) -> Timing:
    recipe = recipe_for(checked)
    model = compile_module(checked)
    with tempfile.TemporaryDirectory() as run_dir:
        clock = Clock()
        result = fit(model, data, recipe, Path(run_dir), device="cpu", seed=0, metadata={},
                     quiet=True)
        timing = clock.timing(result.val_metrics["val_accuracy"])
    return timing


class RawRecorder:
    """What a careful hand-written loop records: the batch loss every 50 steps and per-epoch
    scalars in TensorBoard, a CSV row per epoch, and the weights and the optimizer state as
    safetensors files every epoch."""

    def __init__(self, folder: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.folder = folder
        self.tensorboard = SummaryWriter(str(folder / "tb"))
        self.csv = open(folder / "metrics.csv", "w", newline="")  # noqa: SIM115
        self.rows = csv.writer(self.csv)
        self.rows.writerow(["epoch", "train_loss", "val_loss", "val_accuracy", "lr"])

    def step(self, step: int, loss: torch.Tensor) -> None:
        if step % 50 == 0:
            self.tensorboard.add_scalar("train/loss_step", loss.item(), step)

    def epoch(self, epoch: int, step: int, values: dict[str, float], model: nn.Module,
              optimizer: torch.optim.Optimizer) -> None:
        for tag, value in values.items():
            self.tensorboard.add_scalar(tag, value, step)
        self.rows.writerow([epoch, *values.values()])
        self.csv.flush()
        save_file({k: v.contiguous() for k, v in model.state_dict().items()},
                  str(self.folder / "last.safetensors"))
        moments = {f"{index}.{name}": value for index, slots in
                   optimizer.state_dict()["state"].items() for name, value in slots.items()}
        save_file(moments, str(self.folder / "optimizer.safetensors"))

    def close(self) -> None:
        self.tensorboard.close()
        self.csv.close()


def raw_run(case: Case, data, epochs: int, batch_size: int, fused: bool,
            record: bool) -> Timing:
    torch.manual_seed(0)
    model = case.model()
    x, y = torch.from_numpy(data.train.x), torch.from_numpy(data.train.y)
    vx, vy = torch.from_numpy(data.val.x), torch.from_numpy(data.val.y)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    total, warmup = steps_per_epoch * epochs, steps_per_epoch * case.warmup_epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4,
                                  fused=fused or None)

    def factor(step: int) -> float:  # linear warmup, then cosine from 3e-3 to 1e-5
        t = min(max(step - warmup, 0) / max(1, total - warmup), 1.0)
        cosine = (1e-5 + (3e-3 - 1e-5) * (1 + math.cos(math.pi * t)) / 2) / 3e-3
        return cosine * (step / warmup if step < warmup else 1.0)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    generator = torch.Generator().manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        clock = Clock()
        recorder = RawRecorder(Path(folder)) if record else None
        step = 0
        for epoch in range(1, epochs + 1):
            model.train()
            lr = optimizer.param_groups[0]["lr"]
            order = torch.randperm(len(x), generator=generator)
            epoch_loss = torch.zeros(())
            for i in range(0, len(x), batch_size):
                batch = order[i:i + batch_size]
                loss = F.cross_entropy(model(x[batch]), y[batch],
                                       label_smoothing=case.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if case.clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), case.clip)
                optimizer.step()
                scheduler.step()
                epoch_loss += loss.detach() * len(batch)
                step += 1
                if recorder is not None:
                    recorder.step(step, loss)
            model.eval()
            with torch.inference_mode():
                logits = model(vx)
                val_loss = F.cross_entropy(logits, vy, label_smoothing=case.label_smoothing)
                accuracy = (logits.argmax(1) == vy).float().mean().item()
            values = {"train/loss": float(epoch_loss) / len(x), "val/loss": val_loss.item(),
                      "val/accuracy": accuracy, "train/lr": lr}
            if recorder is not None:
                recorder.epoch(epoch, step, values, model, optimizer)
        if recorder is not None:
            recorder.close()
        timing = clock.timing(accuracy)
    return timing


def compare(case: Case, repeats: int, epochs: int | None) -> None:
    overrides = ["regularization.early_stopping=null"]
    if epochs is not None:
        overrides.append(f"train.epochs={epochs}")
    checked = check(SPECS / f"{case.spec}.yaml", overrides)
    spec, data = checked.spec, load_data(checked)
    epochs, batch = spec.train.epochs, spec.data.batch_size
    loops = {"hand-written loop, same logging and checkpoints": (True, True),
             "hand-written loop, writing nothing": (True, False),
             "hand-written loop, writing nothing, default AdamW": (False, False)}
    dlspec_run(checked, data)  # warm up every path
    for fused, record in loops.values():
        raw_run(case, data, epochs, batch, fused, record)
    ours: list[Timing] = []
    raw: dict[str, list[Timing]] = {label: [] for label in loops}
    for _ in range(repeats):
        ours.append(dlspec_run(checked, data))
        for label, (fused, record) in loops.items():
            raw[label].append(raw_run(case, data, epochs, batch, fused, record))
    wall = statistics.median(t.wall for t in ours)
    cpu = statistics.median(t.cpu for t in ours)
    print(f"{case.spec}, {epochs} epochs, {len(data.train)} train samples, batch {batch}, "
          f"{torch.get_num_threads()} threads, median of {repeats} (wall s / CPU s)")
    print(f"  {'dlspec fit (checks, metrics, TensorBoard, CSV, checkpoints):':<60} {wall:.3f} / "
          f"{cpu:.3f}, val accuracy {ours[-1].accuracy:.4f}")
    for label, runs in raw.items():
        raw_wall = statistics.median(t.wall for t in runs)
        raw_cpu = statistics.median(t.cpu for t in runs)
        print(f"  {label + ':':<60} {raw_wall:.3f} / {raw_cpu:.3f}, val accuracy "
              f"{runs[-1].accuracy:.4f}, ratio dlspec / raw {wall / raw_wall:.3f} / "
              f"{cpu / raw_cpu:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of every run (default: each spec's)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--spec", choices=[case.spec for case in CASES], action="append",
                        help="compare only this spec (may be repeated; default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for case in CASES:
        if args.spec is None or case.spec in args.spec:
            compare(case, args.repeats, args.epochs)
    print("target: ratio <= 1.10")


if __name__ == "__main__":
    main()
