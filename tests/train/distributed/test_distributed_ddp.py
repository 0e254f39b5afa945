"""DDP on two processes (gloo, CPU) against one process: the same global sample order and
averaged gradients give the same weights, the same validation numbers, rank 0 alone writes,
a run resumes on another number of processes, and parameters a step leaves without a
gradient are named at the first step unless find_unused_parameters lets DDP skip them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from ranks_fixture import run_ranks
from safetensors.torch import load_file

from dlspec.api import train_spec

ROOT = Path(__file__).resolve().parents[3]
SPEC = ROOT / "specs" / "mlp-digits.yaml"
# no dropout: each rank draws its own masks, so only a model without randomness inside it
# can match one process weight for weight; global batch 64 (the spec's), 2 epochs
OVERRIDES = ["dropout=0", "train.epochs=2", "data.batch_size=64"]
pytestmark = [pytest.mark.slow, pytest.mark.cost(40)]  # six short runs, four of them on two processes


class FirstEpochDone(Exception):
    """Stops a run after its first epoch (its checkpoints kept, resumable)."""


def stop_after_first(epoch: int, record) -> None:
    raise FirstEpochDone


def first_epoch(out: Path, name: str) -> None:
    with pytest.raises(FirstEpochDone):
        train_spec(SPEC, OVERRIDES, out_root=out, run_name=name, quiet=True,
                   on_epoch=stop_after_first)


def weights(run: Path) -> dict:
    return {k: v for k, v in load_file(run / "checkpoints" / "last.safetensors").items()
            if not k.startswith("_dlspec.")}


def rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def files(run: Path) -> set[str]:
    return {str(p.relative_to(run)) for p in run.rglob("*") if not p.name.startswith(
        "events.out")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Epoch 1 of the same run on 1 and on 2 processes; then each resumed on the other
    number of processes to its end."""
    root = tmp_path_factory.mktemp("ddp")
    out = root / "runs"
    first_epoch(out, "one")
    codes = run_ranks(2, root / "logs-first", first_epoch, out, "two")
    assert codes == [0, 0], (root / "logs-first" / "rank0.err").read_text()
    seen = {"weights": {n: weights(out / n) for n in ("one", "two")},
            "rows": {n: rows(out / n) for n in ("one", "two")},
            "files": {n: files(out / n) for n in ("one", "two")},
            "logs": {p.name: p.read_text() for p in (root / "logs-first").iterdir()},
            "runs": sorted(p.name for p in out.iterdir())}
    codes = run_ranks(2, root / "logs-resume", train_spec, None, resume=out / "one",
                      quiet=True)
    assert codes == [0, 0], (root / "logs-resume" / "rank0.err").read_text()
    train_spec(None, resume=out / "two", quiet=True)
    seen["final"] = {n: weights(out / n) for n in ("one", "two")}
    seen["final_rows"] = {n: rows(out / n) for n in ("one", "two")}
    return seen


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_two_processes_train_the_weights_of_one(runs):
    one, two = runs["weights"]["one"], runs["weights"]["two"]
    assert max_difference(one, two) <= 1e-5
    assert max_difference(one, weights_at_start()) > 1e-2  # an epoch did move them


def weights_at_start() -> dict:
    from dlspec.api import compile_module
    from dlspec.compiler import check_spec

    return dict(compile_module(check_spec(SPEC, OVERRIDES)).state_dict())


def test_the_numbers_are_those_of_one_process(runs):
    (one,), (two,) = runs["rows"]["one"], runs["rows"]["two"]
    assert one["step"] == two["step"] == "23"  # ceil(1437 / 64) global steps, not half
    for key in ("train_loss", "val_loss", "val_accuracy", "lr"):
        assert float(two[key]) == pytest.approx(float(one[key]), rel=1e-5), key


def test_only_rank_0_writes(runs):
    assert runs["runs"] == ["one", "two"]  # one folder for the two processes
    assert runs["files"]["two"] == runs["files"]["one"]
    assert "resume.safetensors" in " ".join(runs["files"]["two"])
    assert runs["logs"]["rank1.out"] == "" and runs["logs"]["rank0.out"] == ""  # quiet
    assert "Traceback" not in runs["logs"]["rank1.err"] + runs["logs"]["rank0.err"]


def test_a_run_resumes_on_another_number_of_processes(runs):
    final = runs["final"]
    assert max_difference(final["one"], final["two"]) <= 1e-5
    assert max_difference(final["one"], runs["weights"]["one"]) > 1e-3  # epoch 2 ran
    for name in ("one", "two"):
        assert [r["epoch"] for r in runs["final_rows"][name]] == ["1", "2"]
    one, two = runs["final_rows"]["one"][1], runs["final_rows"]["two"][1]
    assert float(one["val_loss"]) == pytest.approx(float(two["val_loss"]), rel=1e-5)


# an output no loss reads: its layer's parameters get no gradient in a step
UNUSED_HEAD = """\
dlspec: 1
name: unused-head
inputs:
  pixels: {shape: [64]}
model:
  - {op: linear, name: fc1, out_features: 16}
  - {op: relu, name: hidden}
  - {op: linear, name: logits, out_features: 10}
  - {op: linear, name: aux, inputs: hidden, out_features: 3}
outputs: [logits, aux]
loss: {op: cross_entropy, output: logits}
optimizer: {op: adamw, lr: 3e-3}
data: {dataset: digits, split: [0.8, 0.1, 0.1], batch_size: 256, seed: 0}
train: {epochs: 1, seed: 0}
"""


def test_parameters_without_a_gradient_are_named_unless_ddp_may_skip_them(tmp_path):
    spec = tmp_path / "unused.yaml"
    spec.write_text(UNUSED_HEAD)
    out = tmp_path / "runs"
    codes = run_ranks(2, tmp_path / "logs", train_spec, spec, out_root=out, quiet=True)
    assert codes == [1, 1]
    err = (tmp_path / "logs" / "rank0.err").read_text()
    assert ("error DLS403: no loss depends on aux.weight, aux.bias: a step leaves them "
            "without a gradient, which DistributedDataParallel waits for\n  help: set "
            "train.distributed.find_unused_parameters: true, or leave out what no loss "
            "reads") in err
    assert "Expected to have finished reduction" not in err  # stopped before DDP's error
    assert not out.exists() or not any(out.iterdir())  # no half-made run folder
    codes = run_ranks(2, tmp_path / "logs-allowed", train_spec, spec,
                      ["train.distributed.find_unused_parameters=true"], out_root=out,
                      quiet=True)
    assert codes == [0, 0], (tmp_path / "logs-allowed" / "rank0.err").read_text()
