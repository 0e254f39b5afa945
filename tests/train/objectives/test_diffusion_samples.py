"""The shipped DDPM trains to digits a classifier recognizes (slow: two training runs).

A digit classifier (tests/digit_judge.py, on the data's [-1, 1] scaling) is trained on real
digits; specs/ddpm-digits.yaml (shortened) is trained through `train_spec`; 1,000 samples
drawn with DDIM (50 steps, eta 0) from the run's denoiser (its EMA copy) over a TorchNetwork
must each look like one digit (mean top-class probability >= 0.9) and cover every class.
The Fréchet distance of the classifier's penultimate features, real vs generated and real vs
noise, is printed and recorded (junit property)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dlspec import api
from dlspec.generate.diffusion import diffusion_info, sample_diffusion
from dlspec.generate.network import TorchNetwork
from dlspec.train.engine.model_set import one_model
from dlspec.train.run_folder.checkpoint import apply_checkpoint, load_checkpoint
from dlspec.train.run_folder.run_dir import RunFiles

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests"))
from digit_judge import digit_classifier, verdict  # noqa: E402

DDPM = ROOT / "specs" / "ddpm-digits.yaml"
EPOCHS = "train.epochs=40"  # shortened: the shipped spec trains 60
SAMPLES = 1000


def denoiser_network(run_dir: Path, overrides: list[str]) -> tuple[TorchNetwork, dict]:
    """The run's denoiser (its EMA copy's last weights) as a Network, and its generation
    record."""
    checked = api.check_spec(DDPM, overrides, model="denoiser")
    module = api.compile_module(checked)
    apply_checkpoint(module, one_model(load_checkpoint(RunFiles(run_dir).last), "denoiser"))
    graph = checked.graph
    inputs = {name: (graph.node(name).type.sample_shape, graph.node(name).type.dtype)
              for name in graph.inputs}
    network = TorchNetwork(module, inputs, tuple(graph.outputs))
    return network, diffusion_info(checked.spec.objective, checked.spec)


@pytest.mark.slow
def test_ddpm_digits_samples_look_like_every_digit(tmp_path, record_property):
    torch.set_num_threads(1)
    checked = api.check_spec(DDPM)
    classifier = digit_classifier(tmp_path, tuple(checked.spec.data.rescale))
    run = api.train_spec(DDPM, [EPOCHS], out_root=tmp_path, run_name="ddpm", quiet=True)
    network, info = denoiser_network(Path(run.run_dir), [EPOCHS])
    assert info["clip"] == [-1.0, 1.0]
    samples = sample_diffusion(network, info, SAMPLES, np.random.default_rng(0),
                               sampler="ddim", steps=50)
    assert samples.shape == (SAMPLES, 1, 8, 8) and samples.min() >= -1.0 - 1e-5
    data = api.load_data(api.check_spec(DDPM, model="denoiser"))
    real = torch.from_numpy(data.train.inputs["image"])
    judged = verdict(classifier, torch.from_numpy(samples), real)
    judged.record(record_property)
    print("\n" + judged.line(SAMPLES))
    assert min(judged.class_counts) > 0
    assert judged.top_probability >= 0.9
    assert judged.fid_generated < judged.fid_noise / 10
