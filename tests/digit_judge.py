"""Judging generated digits the way a person would: with a classifier trained on real ones.

`digit_classifier` trains specs/cnn-digits.yaml on real digits scaled as the generator's data
is (`rescale`: the data.rescale range, or None for standardized pixels), with pixel noise
added so that it judges the digit a sample shows rather than its pixel noise. `verdict` runs
it over samples, real digits and uniform noise: mean top-class probability, class counts and
entropy, and the Fréchet distance of its penultimate features (real vs generated beside
real vs noise). The sample-quality tests of every generator (GAN, VAE, diffusion) share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from dlspec import api
from dlspec.train.run_folder.checkpoint import apply_checkpoint, load_checkpoint
from dlspec.train.run_folder.run_dir import RunFiles
from dlspec.train.scoring.sample_quality import frechet_distance, judge

ROOT = Path(__file__).resolve().parents[1]
CLASSIFIER = ROOT / "specs" / "cnn-digits.yaml"


def classifier_overrides(rescale: tuple[float, float] | None) -> list[str]:
    scaling = [f"data.rescale=[{rescale[0]}, {rescale[1]}]"] if rescale else []
    return [*scaling, "data.augment={noise: 0.3}",
            "regularization.early_stopping.patience=100"]  # all its epochs: a sure judge


def digit_classifier(out_root: Path, rescale: tuple[float, float] | None) -> torch.nn.Module:
    """A trained digit classifier taking (n, 1, 8, 8) digits in the generator's scaling (no
    preprocessing wrapper): its last weights."""
    overrides = classifier_overrides(rescale)
    run = api.train_spec(CLASSIFIER, overrides, out_root=out_root, run_name="classifier",
                         quiet=True)
    module = api.compile_module(api.check_spec(CLASSIFIER, overrides))
    apply_checkpoint(module, load_checkpoint(RunFiles(Path(run.run_dir)).last))
    return module.eval()


@dataclass(frozen=True)
class Verdict:
    top_probability: float  # of the samples
    entropy: float  # of the samples' predicted classes, nats
    class_counts: tuple[int, ...]
    fid_generated: float  # Fréchet distance real vs generated
    fid_noise: float  # real vs uniform noise over the real range
    real_top_probability: float

    def record(self, record_property) -> None:
        for key, value in vars(self).items():
            record_property(key, value)

    def line(self, samples: int) -> str:
        return (f"{samples} samples: mean top-class probability {self.top_probability:.3f}, "
                f"class entropy {self.entropy:.3f} nats, counts {self.class_counts}; "
                f"Fréchet distance real-generated {self.fid_generated:.2f}, real-noise "
                f"{self.fid_noise:.2f} (real digits' top-class probability "
                f"{self.real_top_probability:.3f})")


def verdict(classifier: torch.nn.Module, samples: torch.Tensor, real: torch.Tensor,
            seed: int = 0) -> Verdict:
    """The classifier's view of `samples` (n, 1, 8, 8) beside `real` digits of one scaling."""
    samples, real = samples.reshape(-1, 1, 8, 8).float(), real.reshape(-1, 1, 8, 8).float()
    low, high = float(real.min()), float(real.max())
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand((len(samples), 1, 8, 8), generator=generator) * (high - low) + low
    generated, real_view, noise_view = (judge(classifier, x, "logits")
                                        for x in (samples, real, noise))
    return Verdict(generated.top_probability, generated.entropy, generated.class_counts,
                   frechet_distance(real_view.features, generated.features),
                   frechet_distance(real_view.features, noise_view.features),
                   real_view.top_probability)
