"""FSDP (fully_shard) on two processes (gloo, CPU): a small tied transformer follows DDP's loss
curve step for step, its checkpoints are whole single-process state dicts written by rank 0,
and a run stopped after its first epoch resumes to the same weights, bit for bit on the same
number of processes, and to within float rounding on one process."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from ranks_fixture import run_ranks
from safetensors.torch import load_file

from dlspec.api import train_spec

# a pre-LN transformer block without dropout (each rank draws its own masks) and a head tied
# to the embedding (the tied pair is sharded with the root: the root's parameters train); 200 train
# samples in global batches of 8: 25 steps an epoch, 50 in two epochs
SPEC = """\
dlspec: 1
name: tiny-gpt
params: {d: 16, context: 12}
inputs:
  chars: {shape: [seq], dtype: int64, dims: {seq: {max: "${context}"}}}
model:
  - {op: embedding, name: embed, num_embeddings: 49, embedding_dim: "${d}"}
  - {op: transformer_encoder_block, name: block1, heads: 2, causal: true, norm: pre,
     dropout: 0}
  - {op: layernorm, name: final_norm}
  - {op: linear, name: next_char, out_features: 49, bias: false, tie: embed}
loss: {op: cross_entropy}
optimizer: {op: adamw, lr: 3e-3, weight_decay: 0.01}
regularization: {grad_clip_norm: 1.0}
data: {dataset: chars, length: "${context}", samples: 250, batch_size: 8, seed: 0}
train: {epochs: 2, seed: 0, metrics: [accuracy]}
"""
pytestmark = [pytest.mark.slow, pytest.mark.cost(80)]


class FirstEpochDone(Exception):
    """Stops a run after its first epoch (its checkpoints kept, resumable)."""


def stop_after_first(epoch: int, record) -> None:
    raise FirstEpochDone


def train(spec: Path, out: Path, name: str, strategy: str, losses: Path | None = None,
          stop: bool = False, resume: Path | None = None) -> None:
    """One run (or its resume), each step's loss written to `losses` (JSON) when given."""
    from dlspec.train.engine import steps

    seen: list[float] = []
    step = steps.Stepper.step

    def recorded(self, *args, **kwargs):
        result = step(self, *args, **kwargs)
        seen.append(result.loss)
        return result

    steps.Stepper.step = recorded  # a forked rank's own copy of the class
    overrides = [f"train.distributed.strategy={strategy}"]
    try:
        if resume is not None:
            train_spec(None, [], out_root=out, quiet=True, resume=resume)
        elif stop:
            with pytest.raises(FirstEpochDone):
                train_spec(spec, overrides, out_root=out, run_name=name, quiet=True,
                           on_epoch=stop_after_first)
        else:
            train_spec(spec, overrides, out_root=out, run_name=name, quiet=True)
    finally:
        steps.Stepper.step = step
        if losses is not None:
            losses.write_text(json.dumps(seen))


def train_logged(spec: Path, out: Path, strategy: str, root: Path) -> None:
    """A run named after its strategy, each rank's step losses in root/<strategy>-<rank>.json."""
    train(spec, out, strategy, strategy, root / f"{strategy}-{os.environ['RANK']}.json")


def on_two(root: Path, label: str, work, *args, **kwargs) -> None:
    codes = run_ranks(2, root / f"logs-{label}", work, *args, **kwargs)
    errors = [(root / f"logs-{label}" / f"rank{r}.err").read_text() for r in range(2)]
    assert codes == [0, 0], errors


def weights(run: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(run / "checkpoints" / "last.safetensors").items()
            if not k.startswith("_dlspec.")}


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a)


def rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", encoding="utf-8") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"}
                for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """DDP and FSDP over 50 steps on two processes; FSDP stopped after its first epoch,
    then resumed on two processes, and a copy of it on one."""
    root = tmp_path_factory.mktemp("fsdp")
    spec = root / "tiny-gpt.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    out = root / "runs"
    for strategy in ("ddp", "fsdp"):
        on_two(root, strategy, train_logged, spec, out, strategy, root)
    on_two(root, "first", train, spec, out, "resumed", "fsdp", stop=True)
    shutil.copytree(out / "resumed", out / "resumed-one")
    on_two(root, "resume", train, spec, out, "", "fsdp", resume=out / "resumed")
    train(spec, out, "", "fsdp", resume=out / "resumed-one")
    return root, out


def test_fsdp_follows_ddp_loss_curve_over_50_steps(runs):
    root, out = runs
    ddp = json.loads((root / "ddp-0.json").read_text())
    fsdp = json.loads((root / "fsdp-0.json").read_text())
    assert len(ddp) == len(fsdp) == 50
    assert fsdp == json.loads((root / "fsdp-1.json").read_text())  # every rank's numbers
    assert max(abs(a - b) for a, b in zip(ddp, fsdp, strict=True)) <= 1e-4
    assert fsdp[-1] < fsdp[0] - 0.5  # it learned
    for (a, b) in zip(rows(out / "ddp"), rows(out / "fsdp"), strict=True):
        assert abs(float(a["val_loss"]) - float(b["val_loss"])) <= 1e-4


def test_fsdp_checkpoint_is_the_whole_state_dict_written_by_rank_0(runs):
    _, out = runs
    ddp, fsdp = weights(out / "ddp"), weights(out / "fsdp")
    assert set(fsdp) == set(ddp)
    for name, tensor in ddp.items():
        assert fsdp[name].shape == tensor.shape, name  # whole tensors, not shards
    # the losses agree within 1e-4; AdamW moves a weight whose gradient is near 0 by up to
    # lr (3e-3) a step whatever its size, so rounding shows a little more in the weights
    assert max_diff(ddp, fsdp) <= 5e-3
    assert not list(out.glob("*/checkpoints/*rank*"))


def test_fsdp_resume_continues_bit_for_bit(runs):
    _, out = runs
    whole, resumed = weights(out / "fsdp"), weights(out / "resumed")
    assert set(whole) == set(resumed)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    assert rows(out / "resumed") == rows(out / "fsdp")


def test_fsdp_run_resumes_on_another_number_of_processes(runs):
    _, out = runs
    whole, one = weights(out / "fsdp"), weights(out / "resumed-one")
    assert len(rows(out / "resumed-one")) == 2
    assert set(one) == set(whole)
    assert max_diff(one, whole) <= 5e-3
