"""The shipped DCGAN trains to digits a classifier recognizes (slow: two training runs).

A digit classifier (tests/digit_judge.py, on the GAN's own data scaling) is trained on real
digits; the GAN (specs/dcgan-digits.yaml, shortened) is trained through `train_spec`; 1,000
samples drawn as `dlspec sample` draws them (from the generator's EMA copy, mapped back to
pixels) must each look like one digit (mean top-class probability >= 0.9) and cover every
class (entropy of the predicted classes >= 2.0 nats).
The Fréchet distance of the classifier's penultimate features, real vs generated and real vs
noise, is printed and recorded (junit property)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from dlspec import api

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests"))
from digit_judge import digit_classifier, judge_run  # noqa: E402

GAN = ROOT / "specs" / "dcgan-digits.yaml"
GAN_EPOCHS = "train.epochs=100"  # shortened: the shipped spec trains 150
SAMPLES = 1000


@pytest.mark.slow
@pytest.mark.cost(210)
def test_dcgan_digits_samples_look_like_every_digit(tmp_path, record_property):
    torch.set_num_threads(1)
    low, high = api.check_spec(GAN, model="discriminator").spec.data.rescale
    classifier = digit_classifier(tmp_path, (low, high))
    gan_run = api.train_spec(GAN, [GAN_EPOCHS], out_root=tmp_path, run_name="gan", quiet=True)
    judged = judge_run(classifier, gan_run.run_dir, SAMPLES, record_property)
    assert min(judged.class_counts) > 0
    assert judged.top_probability >= 0.9
    assert judged.entropy >= 2.0
    assert judged.fid_generated < judged.fid_noise / 3
