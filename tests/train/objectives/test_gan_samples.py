"""The shipped DCGAN trains to digits a classifier recognizes (slow: two training runs).

A digit classifier (specs/cnn-digits.yaml on the GAN's own data scaling) is trained on real
digits; the GAN (specs/dcgan-digits.yaml, shortened) is trained through `train_spec`; 1,000
samples of its generator (the EMA copy) must each look like one digit (mean top-class
probability >= 0.9) and cover every class (entropy of the predicted classes >= 2.0 nats).
The Fréchet distance of the classifier's penultimate features, real vs generated and real vs
noise, is printed and recorded (junit property)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dlspec import api
from dlspec.train.engine.model_set import one_model
from dlspec.train.run_folder.checkpoint import apply_checkpoint, load_checkpoint
from dlspec.train.run_folder.run_dir import RunFiles
from dlspec.train.scoring.sample_quality import frechet_distance, judge

ROOT = Path(__file__).resolve().parents[3]
GAN = ROOT / "specs" / "dcgan-digits.yaml"
CLASSIFIER = ROOT / "specs" / "cnn-digits.yaml"
GAN_EPOCHS = "train.epochs=100"  # shortened: the shipped spec trains 150
SAMPLES = 1000


def generator_of(run_dir: Path) -> torch.nn.Module:
    """The run's generator with its last weights (its EMA copy's, when kept)."""
    module = api.compile_module(api.check_spec(GAN, model="generator"))
    apply_checkpoint(module, one_model(load_checkpoint(RunFiles(run_dir).last), "generator"))
    return module.eval()


def classifier_overrides() -> list[str]:
    """The classifier sees digits scaled as the GAN's data is, and learns with pixel noise
    added (so that it judges the digit a sample shows, not its pixel noise)."""
    low, high = api.check_spec(GAN, model="discriminator").spec.data.rescale
    return [f"data.rescale=[{low}, {high}]", "data.augment={noise: 0.3}",
            "regularization.early_stopping.patience=100"]  # all its epochs: a sure judge


def classifier_of(run_dir: Path) -> torch.nn.Module:
    """The run's last classifier, taking rescaled digits (no preprocessing wrapper)."""
    module = api.compile_module(api.check_spec(CLASSIFIER, classifier_overrides()))
    apply_checkpoint(module, load_checkpoint(RunFiles(run_dir).last))
    return module.eval()


@pytest.mark.slow
def test_dcgan_digits_samples_look_like_every_digit(tmp_path, record_property):
    torch.set_num_threads(1)
    clf_run = api.train_spec(CLASSIFIER, classifier_overrides(), out_root=tmp_path,
                             run_name="classifier", quiet=True)
    classifier = classifier_of(Path(clf_run.run_dir))
    gan_run = api.train_spec(GAN, [GAN_EPOCHS], out_root=tmp_path, run_name="gan", quiet=True)
    generator = generator_of(Path(gan_run.run_dir))
    torch.manual_seed(123)
    with torch.no_grad():
        samples = generator(torch.randn(SAMPLES, *generator_input_shape()))
    data = api.load_data(api.check_spec(GAN, model="discriminator"))
    real = torch.from_numpy(next(iter(data.train.inputs.values())))
    low, high = float(real.min()), float(real.max())
    noise = torch.rand((SAMPLES, *real.shape[1:])) * (high - low) + low

    generated = judge(classifier, samples, "logits")
    real_view, noise_view = (judge(classifier, x, "logits") for x in (real, noise))
    fid_generated = frechet_distance(real_view.features, generated.features)
    fid_noise = frechet_distance(real_view.features, noise_view.features)
    for key, value in (("top_probability", generated.top_probability),
                       ("class_entropy", generated.entropy), ("fid_real_generated", fid_generated),
                       ("fid_real_noise", fid_noise),
                       ("real_top_probability", real_view.top_probability)):
        record_property(key, value)
    print(f"\n{SAMPLES} samples: mean top-class probability {generated.top_probability:.3f}, "
          f"class entropy {generated.entropy:.3f} nats, counts {generated.class_counts}; "
          f"Fréchet distance real-generated {fid_generated:.2f}, real-noise {fid_noise:.2f} "
          f"(real digits' top-class probability {real_view.top_probability:.3f})")
    assert min(generated.class_counts) > 0
    assert generated.top_probability >= 0.9
    assert generated.entropy >= 2.0
    assert fid_generated < fid_noise / 3


def generator_input_shape() -> tuple[int, ...]:
    checked = api.check_spec(GAN, model="generator")
    (latent,) = checked.spec.models["generator"].inputs.values()
    return tuple(int(size) for size in latent.shape)
