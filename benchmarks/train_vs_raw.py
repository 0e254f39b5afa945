"""`dlspec train` against a hand-written PyTorch loop doing the same work, in one process.

Both train specs/mlp-digits.yaml's network on the same prepared digits for the same epochs
(early stopping off), with the same optimizer, schedule, label smoothing, gradient clipping
and a validation pass per epoch. dlspec also writes metrics.csv, TensorBoard events and
safetensors checkpoints every epoch; the raw loop writes nothing. Runs alternate, and the
medians are compared. Target: ratio <= 1.10.

Run: python benchmarks/train_vs_raw.py [--repeats 5] [--epochs 30]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dlspec.api import check, compile_module, load_data, recipe_for
from dlspec.train.loop import fit

SPEC = Path(__file__).resolve().parents[1] / "specs" / "mlp-digits.yaml"


def dlspec_run(checked, data, epochs: int) -> tuple[float, float]:
    recipe = recipe_for(checked)
    model = compile_module(checked)
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        result = fit(model, data, recipe, Path(run_dir), device="cpu", seed=0, metadata={},
                     quiet=True)
        seconds = time.perf_counter() - start
    return seconds, result.val_metrics["val_accuracy"]


def raw_run(data, epochs: int, batch_size: int, fused: bool) -> tuple[float, float]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 128),
                          nn.ReLU(), nn.Linear(128, 10))
    x, y = torch.from_numpy(data.train.x), torch.from_numpy(data.train.y)
    vx, vy = torch.from_numpy(data.val.x), torch.from_numpy(data.val.y)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    total = steps_per_epoch * epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4,
                                  fused=fused or None)

    def factor(step: int) -> float:  # linear warmup for an epoch, then cosine to 1e-5
        if step < steps_per_epoch:
            return step / steps_per_epoch
        t = (step - steps_per_epoch) / max(1, total - steps_per_epoch)
        return (1e-5 + (3e-3 - 1e-5) * (1 + math.cos(math.pi * t)) / 2) / 3e-3

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        epoch_loss = torch.zeros(())
        for i in range(0, len(x), batch_size):
            batch = order[i:i + batch_size]
            loss = F.cross_entropy(model(x[batch]), y[batch], label_smoothing=0.05)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            scheduler.step()
            epoch_loss += loss.detach()
        model.eval()
        with torch.inference_mode():
            logits = model(vx)
            F.cross_entropy(logits, vy).item()
            accuracy = (logits.argmax(1) == vy).float().mean().item()
        float(epoch_loss)
    return time.perf_counter() - start, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    checked = check(SPEC, [f"train.epochs={args.epochs}", "regularization.early_stopping=null"])
    spec = checked.spec
    data = load_data(checked)
    dlspec_run(checked, data, args.epochs)  # warm up every path
    for fused in (False, True):
        raw_run(data, args.epochs, spec.data.batch_size, fused)
    ours, raw, raw_fused = [], [], []
    for _ in range(args.repeats):
        ours.append(dlspec_run(checked, data, args.epochs))
        raw.append(raw_run(data, args.epochs, spec.data.batch_size, fused=False))
        raw_fused.append(raw_run(data, args.epochs, spec.data.batch_size, fused=True))
    ours_s = statistics.median(s for s, _ in ours)
    print(f"mlp-digits, {args.epochs} epochs, {len(data.train)} train samples, "
          f"batch {spec.data.batch_size}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}")
    print(f"  dlspec fit (metrics, TensorBoard, CSV, checkpoints): {ours_s:.3f} s, "
          f"val accuracy {ours[-1][1]:.4f}")
    for label, runs in (("hand-written loop, default AdamW", raw),
                        ("hand-written loop, fused AdamW (as dlspec)", raw_fused)):
        seconds = statistics.median(s for s, _ in runs)
        print(f"  {label + ':':<44} {seconds:.3f} s, val accuracy {runs[-1][1]:.4f}, "
              f"ratio dlspec / raw {ours_s / seconds:.3f}")
    print("  target: ratio <= 1.10")


if __name__ == "__main__":
    main()
