"""The shipped DCGAN trains to digits a classifier recognizes (slow: two training runs).

A digit classifier (tests/digit_judge.py, on the GAN's own data scaling) is trained on real
digits; the GAN (specs/dcgan-digits.yaml, shortened) is trained through `train_spec`; 1,000
samples of its generator (the EMA copy) must each look like one digit (mean top-class
probability >= 0.9) and cover every class (entropy of the predicted classes >= 2.0 nats).
The Fréchet distance of the classifier's penultimate features, real vs generated and real vs
noise, is printed and recorded (junit property)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from dlspec import api
from dlspec.train.engine.model_set import one_model
from dlspec.train.run_folder.checkpoint import apply_checkpoint, load_checkpoint
from dlspec.train.run_folder.run_dir import RunFiles

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests"))
from digit_judge import digit_classifier, verdict  # noqa: E402

GAN = ROOT / "specs" / "dcgan-digits.yaml"
GAN_EPOCHS = "train.epochs=100"  # shortened: the shipped spec trains 150
SAMPLES = 1000


def generator_of(run_dir: Path) -> torch.nn.Module:
    """The run's generator with its last weights (its EMA copy's, when kept)."""
    module = api.compile_module(api.check_spec(GAN, model="generator"))
    apply_checkpoint(module, one_model(load_checkpoint(RunFiles(run_dir).last), "generator"))
    return module.eval()


@pytest.mark.slow
def test_dcgan_digits_samples_look_like_every_digit(tmp_path, record_property):
    torch.set_num_threads(1)
    low, high = api.check_spec(GAN, model="discriminator").spec.data.rescale
    classifier = digit_classifier(tmp_path, (low, high))
    gan_run = api.train_spec(GAN, [GAN_EPOCHS], out_root=tmp_path, run_name="gan", quiet=True)
    generator = generator_of(Path(gan_run.run_dir))
    torch.manual_seed(123)
    with torch.no_grad():
        samples = generator(torch.randn(SAMPLES, *generator_input_shape()))
    data = api.load_data(api.check_spec(GAN, model="discriminator"))
    real = torch.from_numpy(next(iter(data.train.inputs.values())))
    judged = verdict(classifier, samples, real)
    judged.record(record_property)
    print("\n" + judged.line(SAMPLES))
    assert min(judged.class_counts) > 0
    assert judged.top_probability >= 0.9
    assert judged.entropy >= 2.0
    assert judged.fid_generated < judged.fid_noise / 3


def generator_input_shape() -> tuple[int, ...]:
    checked = api.check_spec(GAN, model="generator")
    (latent,) = checked.spec.models["generator"].inputs.values()
    return tuple(int(size) for size in latent.shape)
