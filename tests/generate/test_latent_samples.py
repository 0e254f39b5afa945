"""The shipped VAE's prior samples look like digits (slow: two training runs).

A digit classifier (tests/digit_judge.py) is trained on real digits standardized as the VAE's
data is (the same split, so the same per-pixel mean and std: checked below); the VAE
(specs/vae-digits.yaml, as shipped) is trained through `train_spec`; 1,000 codes drawn from
N(0, I) go through its decoder (`decoder_network` + `sample_latent`, the path `dlspec sample`
takes). The samples must each look like one digit (mean top-class probability >= 0.8) and
cover every class. The Fréchet distance of the classifier's penultimate features, real vs
generated beside real vs noise, is printed and recorded (junit property)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dlspec import api
from dlspec.generate.latent import decoder_network, sample_latent, vae_info

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from digit_judge import CLASSIFIER, classifier_overrides, digit_classifier, verdict  # noqa: E402

VAE = ROOT / "specs" / "vae-digits.yaml"
SAMPLES = 1000


@pytest.mark.slow
def test_vae_digits_prior_samples_look_like_every_digit(tmp_path, record_property):
    torch.set_num_threads(1)
    data = api.load_data(api.check_spec(VAE))
    judged_data = api.load_data(api.check_spec(CLASSIFIER, classifier_overrides(None)))
    np.testing.assert_array_equal(data.mean.reshape(-1), judged_data.mean.reshape(-1))
    np.testing.assert_array_equal(data.std.reshape(-1), judged_data.std.reshape(-1))
    classifier = digit_classifier(tmp_path, None)  # standardized pixels, as the VAE's
    run = api.train_spec(VAE, [], out_root=tmp_path, run_name="vae", quiet=True)
    checked, weights = api.spec_or_run(run.run_dir, None)
    module, _ = api.load_weights(api.compile_module(checked), weights)
    info = vae_info(checked)
    samples = sample_latent(decoder_network(checked, module, info), info, SAMPLES,
                            np.random.default_rng(0))
    real = torch.from_numpy(data.train.inputs["image"])
    judged = verdict(classifier, torch.from_numpy(samples), real)
    judged.record(record_property)
    print("\n" + judged.line(SAMPLES))
    assert min(judged.class_counts) > 0
    assert judged.top_probability >= 0.8
    assert judged.fid_generated < judged.fid_noise / 100
