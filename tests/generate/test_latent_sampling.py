"""Latent sampling: a GAN's generator and a VAE's decoder fed codes from N(0, I) drawn with
numpy's generator, VAE reconstructions, and the VAE's decoder exported to ONNX (`from_layer`)
giving the same samples on ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dlspec import api
from dlspec.backends.torch_layers import Standardize, WithPreprocessing
from dlspec.errors import GenerateError
from dlspec.generate.latent import (
    decoder_network,
    latent_info,
    reconstruct,
    sample_latent,
    vae_info,
)
from dlspec.generate.network import OnnxNetwork, TorchNetwork

ROOT = Path(__file__).resolve().parents[2]
VAE = ROOT / "specs" / "vae-digits.yaml"
GAN = ROOT / "specs" / "dcgan-digits.yaml"
VAE_INFO = {"kind": "vae", "latent_layer": "z", "input": "image", "output": "recon",
            "latent_shape": [4]}


def whole_vae(seed: int = 0):
    checked = api.check_spec(VAE)
    module = api.compile_module(checked, seed=seed).eval()
    network = TorchNetwork(module, {"image": ((64,), "float32")}, ("recon", "mu", "logvar"))
    return checked, module, network


def test_latent_info_names_the_generators_code_and_output():
    checked = api.check_spec(GAN)
    expected = {"kind": "latent", "model": "generator", "input": "z", "shape": [32],
                "output": "image"}
    assert latent_info(checked.spec.objective, checked) == expected
    # from the spec alone, an output the spec does not declare is left to the network
    assert latent_info(checked.spec.objective, checked.spec) == {**expected, "output": None}


def test_vae_info_only_for_one_reparameterize_layer():
    assert vae_info(api.check_spec(VAE)) == VAE_INFO
    assert vae_info(api.check_spec(ROOT / "specs" / "mlp-digits.yaml")) is None
    assert vae_info(api.check_spec(GAN)) is None
    # a second reparameterize layer: which one is the code is not clear
    two = api.check_spec(VAE, ["model.5={op: reparameterize, name: z2, inputs: [z, logvar]}"])
    assert vae_info(two) is None


def test_gan_samples_are_the_generator_on_the_rngs_codes():
    checked = api.check_spec(GAN, model="generator")
    info = latent_info(api.check_spec(GAN).spec.objective, api.check_spec(GAN))
    module = api.compile_module(checked, seed=3)
    network = TorchNetwork(module, {"z": ((32,), "float32")}, ("image",))
    samples = sample_latent(network, info, 10, np.random.default_rng(5))
    codes = np.random.default_rng(5).standard_normal((10, 32), dtype=np.float32)
    with torch.no_grad():
        expected = module.eval()(torch.from_numpy(codes)).numpy()
    assert samples.shape == (10, 1, 8, 8)
    assert np.abs(samples - expected).max() == 0.0
    assert not np.allclose(samples[0], samples[1])  # each sample its own code
    batched = sample_latent(network, info, 10, np.random.default_rng(5), batch_size=4)
    np.testing.assert_allclose(batched, samples, rtol=0, atol=1e-6)  # the same codes


def test_vae_prior_samples_are_the_decoder_on_the_rngs_codes():
    checked, module, _ = whole_vae()
    network = decoder_network(checked, module, VAE_INFO)
    assert network.inputs == {"z": ((4,), "float32")} and network.outputs == ("recon",)
    samples = sample_latent(network, VAE_INFO, 6, np.random.default_rng(1))
    codes = torch.from_numpy(np.random.default_rng(1).standard_normal((6, 4),
                                                                       dtype=np.float32))
    handle = module.z.register_forward_hook(lambda *_: codes)
    with torch.no_grad():
        expected = module(torch.zeros(6, 64))[0].numpy()
    handle.remove()
    assert samples.shape == (6, 64)
    assert np.abs(samples - expected).max() == 0.0


def test_the_decoder_uses_the_trained_modules_own_weights_through_a_wrapper():
    checked, module, _ = whole_vae()
    wrapped = WithPreprocessing(Standardize(torch.zeros(64), torch.ones(64)),
                                module)  # as load_weights gives a standardized model
    network = decoder_network(checked, wrapped, VAE_INFO)
    before = sample_latent(network, VAE_INFO, 3, np.random.default_rng(0))
    with torch.no_grad():
        module.recon.bias += 1.0
    after = sample_latent(network, VAE_INFO, 3, np.random.default_rng(0))
    np.testing.assert_allclose(after - before, 1.0, atol=1e-5)


def test_reconstructions_decode_the_mean_of_q():
    checked, module, network = whole_vae()
    images = np.random.default_rng(0).standard_normal((5, 64)).astype(np.float32)
    got = reconstruct(network, VAE_INFO, images, batch_size=2)
    with torch.no_grad():
        mu = module.mu(module.h(module.enc(torch.from_numpy(images))))
        expected = module.recon(module.relu(module.dec(mu))).numpy()
    assert got.shape == (5, 64)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_bad_requests_are_refused():
    checked, module, whole = whole_vae()
    decoder = decoder_network(checked, module, VAE_INFO)
    rng = np.random.default_rng(0)
    with pytest.raises(GenerateError, match="asked for 0 samples") as err:
        sample_latent(decoder, VAE_INFO, 0, rng)
    assert err.value.codes == ["DLS601"]
    with pytest.raises(GenerateError) as err:  # the whole VAE takes images, not codes
        sample_latent(whole, VAE_INFO, 4, rng)
    assert "the network takes image, not the 'z' this vae model is fed" in str(err.value)
    assert "dlspec export RUN --from z" in str(err.value)
    with pytest.raises(GenerateError, match="reconstructions need a VAE"):
        reconstruct(whole, {"kind": "latent", "input": "z", "shape": [8]}, np.zeros((1, 64)))
    with pytest.raises(GenerateError, match="does not sample from codes"):
        sample_latent(whole, {"kind": "diffusion"}, 4, rng)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    return api.train_spec(VAE, ["train.epochs=2"], out_root=tmp_path_factory.mktemp("runs"),
                          run_name="vae", quiet=True).run_dir


def test_the_exported_decoder_samples_as_the_run_does(vae_run, tmp_path):
    path = tmp_path / "decoder.onnx"
    report = api.export_spec(vae_run, path, from_layer="z")  # checked on ONNX Runtime
    assert report.input_names == ("z",) and report.output_names == ("recon",)
    assert report.input_dims["z"] == ("batch", 4)
    onnx = OnnxNetwork(path)
    assert onnx.inputs == {"z": ((4,), "float32")}
    assert onnx.metadata["from_layer"] == "z" and onnx.metadata["preprocessing"] == "none"
    checked, weights = api.spec_or_run(vae_run, None)
    module, _ = api.load_weights(api.compile_module(checked), weights)
    torch_samples = sample_latent(decoder_network(checked, module, VAE_INFO), VAE_INFO, 50,
                                  np.random.default_rng(9))
    onnx_samples = sample_latent(onnx, VAE_INFO, 50, np.random.default_rng(9))
    np.testing.assert_allclose(onnx_samples, torch_samples, rtol=1e-5,
                               atol=report.tolerances["recon"])
    assert np.abs(torch_samples).max() > 0.1  # decoded codes, not zeros


def test_exporting_from_an_unknown_layer_writes_nothing(vae_run, tmp_path):
    with pytest.raises(GenerateError) as err:
        api.export_spec(vae_run, tmp_path / "d.onnx", from_layer="zz")
    assert err.value.codes == ["DLS601"] and "did you mean 'z'" in str(err.value)
    assert list(tmp_path.iterdir()) == []
