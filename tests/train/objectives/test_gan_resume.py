"""A GAN run killed mid-epoch (SIGKILL, mid-way between two generator updates) and resumed
ends with the very same weights of both models, their EMA copy and the same metrics as an
uninterrupted run."""

from __future__ import annotations

from run_fixtures import kill_after, rows, same, weights

from dlspec.api import train_spec

STEPS_PER_EPOCH = 23  # 1437 train digits in batches of 64

SPEC = """\
dlspec: 1
name: tiny-gan
params: {nz: 8}
models:
  generator:
    inputs: {z: {shape: ["${nz}"]}}
    layers:
      - {op: linear, name: fc1, out_features: 32}
      - {op: batchnorm1d, name: bn}
      - {op: leaky_relu, negative_slope: 0.2}
      - {op: linear, name: fc2, out_features: 64}
      - {op: sigmoid}
  discriminator:
    inputs: {pixels: {shape: [64]}}
    layers:
      - {op: linear, name: fc1, out_features: 32}
      - {op: leaky_relu, negative_slope: 0.2}
      - {op: dropout, p: 0.3}
      - {op: linear, name: score, out_features: 1}
objective: {op: gan, loss: hinge, d_steps: 2, gradient_penalty: 0.5, ema: 0.9}
optimizer:
  generator: {op: adam, lr: 1.0e-3, betas: [0.5, 0.999]}
  discriminator: {op: adamw, lr: 2.0e-3}
schedule:
  discriminator: {op: cosine, min_lr: 1.0e-5}
data: {dataset: digits, standardize: false, split: [0.8, 0.1, 0.1], batch_size: 64}
train: {epochs: 2, seed: 5, checkpoint_every_steps: 7}
"""


def test_a_killed_gan_run_resumes_bit_for_bit(tmp_path):
    # conftest.py runs this test on one thread, like the subprocesses (OMP_NUM_THREADS=1)
    spec = tmp_path / "gan.yaml"
    spec.write_text(SPEC)
    reference = train_spec(spec, out_root=tmp_path, run_name="reference", quiet=True).run_dir

    run_dir = tmp_path / "killed"
    first = kill_after(["train", str(spec), "--out", str(tmp_path), "--name", "killed"],
                       run_dir, 7)
    second = kill_after(["train", "--resume", str(run_dir)], run_dir, first + 7)
    # checkpoints every 7 steps: odd ones fall between two generator updates (every 2nd step)
    assert 7 <= first < second < 2 * STEPS_PER_EPOCH
    assert first % STEPS_PER_EPOCH != 0  # killed mid-epoch
    resumed = train_spec(None, resume=run_dir, quiet=True)
    assert resumed.epochs_run == 2
    last, expected = weights(run_dir, "last"), weights(reference, "last")
    for prefix in ("generator.", "discriminator.", "ema.generator.module."):
        assert any(key.startswith(prefix) for key in expected), prefix
    assert same(last, expected)
    assert same(weights(run_dir, "best"), weights(reference, "best"))
    assert rows(run_dir) == rows(reference)  # metrics.csv continued, no row twice
    assert "train_loss_g" in rows(reference)[0] and "val_d_accuracy" in rows(reference)[0]
