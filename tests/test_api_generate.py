"""Every generative kind through dlspec.api's sample and generate, from a run and from its
exported file: with a deterministic sampler (DDIM eta 0, greedy decoding, a fixed seed) the
file gives the run's samples within the export tolerance. Runs are one epoch of shrunk
shipped specs: these tests are about the plumbing, the sample-quality tests about quality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from spec_runs import SPECS, one_epoch_run

from dlspec import api
from dlspec.errors import GenerateError


@pytest.fixture(scope="module")
def ddpm_run(tmp_path_factory) -> Path:
    return one_epoch_run(tmp_path_factory, "ddpm-digits", "params.width=8", "params.temb=16")


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory) -> Path:
    return one_epoch_run(tmp_path_factory, "vae-digits")


@pytest.fixture(scope="module")
def seq2seq_run(tmp_path_factory) -> Path:
    return one_epoch_run(tmp_path_factory, "reverse-transformer", "data.samples=500", "params.d=16",
                   "params.ffn=32", "params.layers=1")


def draw(source: Path, n: int, seed: int, **options) -> np.ndarray:
    request = api.request_sample(source, Path("never-written.npz"), **options)
    return api.sample(request, n, seed, **options).values


def test_ddim_with_eta_0_from_an_exported_denoiser_equals_its_run(ddpm_run, tmp_path):
    onnx = tmp_path / "denoiser.onnx"
    api.export_spec(ddpm_run, onnx)
    from_run = draw(ddpm_run, 6, 3, steps=10, eta=0.0)
    from_file = draw(onnx, 6, 3, steps=10, eta=0.0)
    assert from_run.shape == (6, 1, 8, 8)
    np.testing.assert_allclose(from_file, from_run, atol=1e-3)
    # x0 is clipped to the data's [-1, 1], which is the digits' 0..16
    assert from_run.min() >= -1e-4 and from_run.max() <= 16 + 1e-4


def test_ddpm_draws_other_samples_than_ddim_from_the_same_seed(ddpm_run):
    ddim = draw(ddpm_run, 4, 0, steps=10)
    ddpm = draw(ddpm_run, 4, 0, sampler="ddpm", steps=10)
    assert ddim.shape == ddpm.shape and np.abs(ddim - ddpm).max() > 0.1


def test_a_vae_run_samples_its_prior_and_reconstructs(vae_run, tmp_path):
    prior = draw(vae_run, 5, 0)
    assert prior.shape == (5, 64)
    origin = api.sample(api.request_sample(vae_run, tmp_path / "p.png"), 1).origin
    assert origin == f"run {vae_run}, best.safetensors, epoch 1"
    rebuilt = api.sample(api.request_sample(vae_run, tmp_path / "r.png", reconstruct=True), 3,
                         reconstruct=True)
    assert rebuilt.values.shape == (6, 64) and rebuilt.image_shape == (1, 8, 8)
    data = api.load_data(api.check_spec(SPECS / "vae-digits.yaml"))
    raw = data.test.inputs["image"][:3] * data.std + data.mean  # the test digits, in pixels
    np.testing.assert_allclose(rebuilt.values[0::2], raw, atol=1e-4)  # originals first


def test_an_exported_vae_decoder_samples_as_its_run(vae_run, tmp_path):
    decoder = tmp_path / "decoder.onnx"
    api.export_spec(vae_run, decoder, from_layer="z")
    np.testing.assert_allclose(draw(decoder, 20, 5), draw(vae_run, 20, 5), atol=1e-3)


def test_a_whole_exported_vae_does_not_sample_its_prior(vae_run, tmp_path):
    whole = tmp_path / "vae.onnx"
    api.export_spec(vae_run, whole)
    with pytest.raises(GenerateError) as caught:
        api.request_sample(whole, tmp_path / "s.png")
    (diagnostic,) = caught.value.diagnostics
    assert "sampling from the prior needs its decoder" in diagnostic.message
    assert "--from z" in diagnostic.hint


def test_greedy_and_beam_decoding_from_an_exported_seq2seq_model_equal_its_run(seq2seq_run,
                                                                                tmp_path):
    onnx = tmp_path / "reverse.onnx"
    api.export_spec(seq2seq_run, onnx)
    for beam in (1, 3):
        texts = [api.generate(api.request_generate(source, source_text="3 1 4 1 5 9"),
                              beam=beam).text for source in (seq2seq_run, onnx)]
        assert texts[0] == texts[1], beam
        assert all(word.isdigit() for word in texts[0].split()) or texts[0] == ""


def test_a_seq2seq_source_outside_the_vocabulary_is_refused(seq2seq_run):
    with pytest.raises(GenerateError) as caught:
        api.request_generate(seq2seq_run, source_text="3 1 42")
    assert caught.value.diagnostics[0].code == "DLS602"


def test_a_run_without_best_weights_samples_its_last_and_says_so(vae_run, tmp_path):
    import shutil

    run = shutil.copytree(vae_run, tmp_path / "run", copy_function=shutil.copy)
    (run / "checkpoints" / "best.safetensors").unlink()
    samples = api.sample(api.request_sample(run, tmp_path / "p.png"), 2)
    assert samples.origin.startswith(f"run {run}, last.safetensors, epoch 1; warning: ")
    assert "best.safetensors is missing" in samples.origin
    np.testing.assert_array_equal(samples.values, draw(vae_run, 2, 0))  # one epoch: same weights
