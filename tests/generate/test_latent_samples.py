"""The shipped VAE's prior samples look like digits (slow: two training runs).

A digit classifier (tests/digit_judge.py) is trained on real digits standardized as the VAE's
data is; the VAE (specs/vae-digits.yaml, as shipped) is trained through `train_spec`; 1,000
samples are drawn as `dlspec sample` draws them (codes from N(0, I) through its decoder,
mapped back to pixels). They must each look like one digit (mean top-class probability >=
0.8) and cover every class, and its reconstructions of test digits must be nearer to them
than the test digits are to each other. The Fréchet distance of the classifier's penultimate features, real vs
generated beside real vs noise, is printed and recorded (junit property)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dlspec import api

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from digit_judge import digit_classifier, judge_run  # noqa: E402

VAE = ROOT / "specs" / "vae-digits.yaml"
SAMPLES = 1000


@pytest.mark.slow
@pytest.mark.cost(30)
def test_vae_digits_prior_samples_look_like_every_digit(tmp_path, record_property):
    torch.set_num_threads(1)
    classifier = digit_classifier(tmp_path, None)  # standardized pixels, as the VAE's
    run = api.train_spec(VAE, [], out_root=tmp_path, run_name="vae", quiet=True)
    judged = judge_run(classifier, run.run_dir, SAMPLES, record_property)
    assert min(judged.class_counts) > 0
    assert judged.top_probability >= 0.8
    assert judged.fid_generated < judged.fid_noise / 100
    pairs = api.sample(api.request_sample(Path(run.run_dir), Path("pairs.png"),
                                          reconstruct=True), 100, reconstruct=True).values
    originals, rebuilt = pairs[0::2], pairs[1::2]
    error = np.abs(rebuilt - originals).mean()
    apart = np.abs(np.roll(originals, 1, axis=0) - originals).mean()  # another digit
    print(f"reconstruction error {error:.2f}, another test digit {apart:.2f} (pixels 0..16)")
    assert error < apart / 2
