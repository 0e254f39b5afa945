"""`dlspec sample` and `dlspec generate` on real runs and their exported files: what they
write, that an exported file samples as its run does, and every refusal (located, coded,
before torch, nothing written)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_run import run_cli
from spec_runs import one_epoch_run
from test_cli_early import dlspec as dlspec_subprocess

from dlspec import api
from dlspec.errors import GenerateError


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory) -> Path:
    return one_epoch_run(tmp_path_factory, "dcgan-digits", "params.hidden=64")


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory) -> Path:
    return one_epoch_run(tmp_path_factory, "mlp-digits")


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    return one_epoch_run(tmp_path_factory, "gpt-chars", "data.samples=200", "params.d=16")


def test_a_gan_run_samples_digits_in_the_data_units(gan_run, tmp_path, monkeypatch, capsys):
    out = tmp_path / "samples.npz"
    code, stdout, err = run_cli(monkeypatch, capsys, "sample", str(gan_run), "-n", "10",
                                "-o", str(out))
    assert code == 0, err
    assert stdout.startswith(f"wrote 10 samples of the latent model (run {gan_run}, "
                             "best.safetensors, epoch ")
    samples = np.load(out)["samples"]
    assert samples.shape == (10, 1, 8, 8)
    # the generator ends in hardtanh: [-1, 1], the rescaled range of the digits' 0..16
    assert samples.min() >= -1e-4 and samples.max() <= 16 + 1e-4
    assert samples.max() - samples.min() > 1  # not a constant


def test_a_grid_is_a_png_of_the_samples(gan_run, tmp_path, monkeypatch, capsys):
    from matplotlib.image import imread

    out = tmp_path / "grid.png"
    code, _, err = run_cli(monkeypatch, capsys, "sample", str(gan_run), "-n", "16",
                           "-o", str(out))
    assert code == 0, err
    image = imread(out)
    assert image.shape[0] >= 4 * 8 and image.shape[1] >= 4 * 8  # 4 x 4 digits of 8 x 8


def test_the_same_seed_draws_the_same_samples_and_another_seed_others(gan_run, tmp_path):
    request = api.request_sample(gan_run, tmp_path / "x.npz")
    first, again, other = (api.sample(request, 8, seed).values for seed in (1, 1, 2))
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 0.1


def test_an_exported_generator_samples_as_its_run(gan_run, tmp_path):
    onnx = tmp_path / "generator.onnx"
    api.export_spec(gan_run, onnx, model="generator")
    from_run = api.sample(api.request_sample(gan_run, tmp_path / "a.npz"), 32, 7).values
    from_file = api.sample(api.request_sample(onnx, tmp_path / "b.npz"), 32, 7).values
    assert from_file.shape == from_run.shape
    np.testing.assert_allclose(from_file, from_run, atol=1e-3)


def test_a_language_model_run_continues_a_prompt(lm_run, monkeypatch, capsys):
    code, stdout, err = run_cli(monkeypatch, capsys, "generate", str(lm_run), "--prompt",
                                "The ", "--max-tokens", "20", "--temperature", "0.8")
    assert code == 0, err
    assert stdout.startswith("The ") and len(stdout.rstrip("\n")) == 24
    assert err == "decoding: KV cache\n"  # which decoding ran, on stderr (docs/generate.md)
    code, _, err = run_cli(monkeypatch, capsys, "generate", str(lm_run), "--prompt", "The ",
                           "--max-tokens", "3", "--no-cache")
    assert code == 0 and err == "decoding: full recompute (the cache is turned off)\n"


def test_greedy_text_from_an_exported_language_model_equals_its_run(lm_run, tmp_path):
    onnx = tmp_path / "lm.onnx"
    api.export_spec(lm_run, onnx)
    texts = [api.generate(api.request_generate(source, prompt="the "), max_tokens=12,
                          temperature=0.0).text for source in (lm_run, onnx)]
    assert texts[0] == texts[1] and len(texts[0]) == 12


# refusals: before torch, with the fix named, nothing written

def test_a_classifier_run_does_not_sample(classifier_run, tmp_path):
    code, err = dlspec_subprocess(tmp_path, "sample", str(classifier_run), "-o", "s.png")
    assert code == 1
    assert "error DLS601: the run" in err and "does not generate" in err
    assert err.splitlines()[-1] == "torch not imported"
    assert not (tmp_path / "s.png").exists()


def test_a_gan_run_is_sampled_not_generated(gan_run, tmp_path):
    code, err = dlspec_subprocess(tmp_path, "generate", str(gan_run), "--prompt", "hi")
    assert code == 1
    assert "is a latent model" in err and "use `dlspec sample` for it" in err
    assert err.splitlines()[-1] == "torch not imported"


@pytest.mark.parametrize(("args", "message"), [
    (["-o", "s.jpg"], "its suffix is neither .png (a grid of images) nor .npz"),
    (["-o", "s.png", "--steps", "0"], "--steps 0: a sampler needs at least one step"),
    (["-o", "s.png", "--steps", "10"], "--steps set(s) a diffusion sampler, but"),
    (["-o", "s.png", "--reconstruct"], "--reconstruct shows a VAE's reconstructions"),
    (["-o", "s.png", "--model", "discriminator"], "does not generate"),
])
def test_bad_sample_requests_are_refused_before_torch(gan_run, tmp_path, args, message):
    code, err = dlspec_subprocess(tmp_path, "sample", str(gan_run), *args)
    assert code == 1
    assert message in err, err
    assert err.splitlines()[-1] == "torch not imported"
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("args", "message"), [
    (["--prompt", "caf\u00e9 \u2603"], "DLS602"),
    (["--prompt", "x" * 65], "DLS602"),
    (["--prompt", ""], "no --prompt was given"),
    (["--input", "1 2 3"], "it continues a --prompt"),
    (["--prompt", "the", "--beam", "3"], "with sampling, not beam search"),
    (["--prompt", "the", "--top-p", "0"], "--top-p 0.0 cannot be sampled with"),
])
def test_bad_generate_requests_are_refused_before_torch(lm_run, tmp_path, args, message):
    code, err = dlspec_subprocess(tmp_path, "generate", str(lm_run), *args)
    assert code == 1
    assert message in err, err
    assert err.splitlines()[-1] == "torch not imported"


def test_an_onnx_file_without_a_generation_record_is_refused(classifier_run, tmp_path):
    onnx = tmp_path / "classifier.onnx"
    api.export_spec(classifier_run, onnx)
    with pytest.raises(GenerateError) as caught:
        api.request_sample(onnx, tmp_path / "s.png")
    assert "holds no generation record" in str(caught.value.diagnostics[0].message)
