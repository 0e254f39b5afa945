"""Judging generated digits the way a person would: with a classifier trained on real ones.

`digit_classifier` trains specs/cnn-digits.yaml on real digits scaled as the generator's data
is (`rescale`: the data.rescale range, or None for standardized pixels), with pixel noise
added so that it judges the digit a sample shows rather than its pixel noise; it comes back
behind that scaling, taking digits in pixel units (0..16) as `dlspec sample` writes them.
`judge_run` draws samples from a run as `dlspec sample` does (dlspec.api.sample) and
`verdict` has them judged beside real digits and uniform noise: mean top-class probability,
class counts and entropy, and the Fréchet distance of the classifier's penultimate features
(real vs generated beside real vs noise). Every generator's sample-quality test (GAN, VAE,
diffusion) shares it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dlspec import api
from dlspec.train.scoring.sample_quality import frechet_distance, judge

ROOT = Path(__file__).resolve().parents[1]
CLASSIFIER = ROOT / "specs" / "cnn-digits.yaml"
LAST_LAYER = "model.logits"  # behind the scaling (WithPreprocessing)


def classifier_overrides(rescale: tuple[float, float] | None) -> list[str]:
    scaling = [f"data.rescale=[{rescale[0]}, {rescale[1]}]"] if rescale else []
    return [*scaling, "data.augment={noise: 0.3}",
            "regularization.early_stopping.patience=100"]  # all its epochs: a sure judge


def digit_classifier(out_root: Path, rescale: tuple[float, float] | None) -> torch.nn.Module:
    """A trained digit classifier (its last weights) taking (n, 1, 8, 8) digits in pixel
    units."""
    from dlspec.train.run_folder.run_dir import RunFiles

    overrides = classifier_overrides(rescale)
    run = api.train_spec(CLASSIFIER, overrides, out_root=out_root, run_name="classifier",
                         quiet=True)
    module, _ = api.load_weights(api.compile_module(api.check_spec(CLASSIFIER, overrides)),
                                 RunFiles(Path(run.run_dir)).last)
    return module.eval()


def real_digits() -> np.ndarray:
    """scikit-learn's 1,797 digits, (n, 1, 8, 8) in pixel units."""
    from sklearn.datasets import load_digits

    return load_digits().data.astype(np.float32).reshape(-1, 1, 8, 8)


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


def verdict(classifier: torch.nn.Module, samples: np.ndarray, seed: int = 0) -> Verdict:
    """The classifier's view of `samples` (n, 64) or (n, 1, 8, 8), in pixel units, beside
    the real digits and as many samples of uniform noise over their range."""
    real = real_digits()
    samples = np.asarray(samples, np.float32).reshape(-1, 1, 8, 8)
    noise = np.random.default_rng(seed).uniform(real.min(), real.max(), samples.shape)
    generated, real_view, noise_view = (judge(classifier, torch.from_numpy(x).float(),
                                              LAST_LAYER) for x in (samples, real, noise))
    return Verdict(generated.top_probability, generated.entropy, generated.class_counts,
                   frechet_distance(real_view.features, generated.features),
                   frechet_distance(real_view.features, noise_view.features),
                   real_view.top_probability)


def judge_run(classifier: torch.nn.Module, run_dir: Path, samples: int, record_property,
              **options) -> Verdict:
    """Draw `samples` from the run as `dlspec sample RUN_DIR --seed 0 [options]` does, have
    them judged, record and print the verdict."""
    request = api.request_sample(Path(run_dir), Path("samples.npz"), **options)
    drawn = api.sample(request, samples, 0, **options).values
    judged = verdict(classifier, drawn)
    judged.record(record_property)
    print("\n" + judged.line(samples))
    return judged
