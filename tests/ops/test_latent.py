"""Reparameterize (the VAE sampling trick) against its formula: seeded draws equal
mean + exp(log_var / 2) * eps, samples have the predicted mean and spread, gradients are the
analytic ones, eval mode is the mean; and a spec using it compiles to standalone Python."""

from __future__ import annotations

import importlib.util
import textwrap

import pytest
import torch

from dlspec.api import compile_module, python_source
from dlspec.backends.torch_module import instantiate
from dlspec.compiler import check_spec
from dlspec.errors import RuleError, ShapeError
from dlspec.ir.types import TensorType
from dlspec.ops.latent import Reparameterize

SHAPES = [(4, 6), (3, 5, 4), (2, 3, 4, 5)]  # (N, D), (N, seq, D), (N, C, H, W)


def layer(shape: tuple[int, ...]) -> torch.nn.Module:
    t = TensorType(shape)
    return instantiate(Reparameterize().build(t, t))


def mean_and_log_var(shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    return torch.randn(shape, generator=generator), torch.randn(shape, generator=generator)


@pytest.mark.parametrize("shape", SHAPES)
def test_a_seeded_training_draw_is_the_formula_with_the_same_noise(shape):
    mean, log_var = mean_and_log_var(shape)
    torch.manual_seed(3)
    z = layer(shape).train()(mean, log_var)
    torch.manual_seed(3)
    eps = torch.randn(shape)
    assert torch.equal(z, mean + torch.exp(0.5 * log_var) * eps)
    assert not torch.equal(z, mean)
    torch.manual_seed(3)
    assert torch.equal(layer(shape).train()(mean, log_var), z)  # reproducible


def test_samples_have_the_predicted_mean_and_standard_deviation():
    count = 20_000
    mean = torch.tensor([[-2.0, 0.0, 0.5, 3.0]])
    log_var = torch.tensor([[0.0, -2.0, 1.0, 2.0]])
    std = torch.exp(0.5 * log_var)
    torch.manual_seed(0)
    z = layer((count, 4)).train()(mean.expand(count, 4), log_var.expand(count, 4))
    # 5 standard errors: the mean's is std / sqrt(n), the std's about std / sqrt(2n)
    torch.testing.assert_close(z.mean(0, keepdim=True), mean, rtol=0,
                               atol=(5 * std / count ** 0.5).max().item())
    torch.testing.assert_close(z.std(0, keepdim=True), std, rtol=5 / (2 * count) ** 0.5,
                               atol=0)


@pytest.mark.parametrize("shape", SHAPES)
def test_eval_mode_returns_the_mean_and_draws_nothing(shape):
    mean, log_var = mean_and_log_var(shape)
    torch.manual_seed(5)
    z = layer(shape).eval()(mean, log_var)
    assert torch.equal(z, mean)
    torch.manual_seed(5)
    after_eval = torch.randn(3)
    torch.manual_seed(5)
    assert torch.equal(torch.randn(3), after_eval)


def test_gradients_are_the_analytic_ones():
    shape = (5, 3, 4)
    mean, log_var = (t.requires_grad_() for t in mean_and_log_var(shape))
    weights = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(11)
    (layer(shape).train()(mean, log_var) * weights).sum().backward()
    torch.manual_seed(11)
    eps = torch.randn(shape)
    torch.testing.assert_close(mean.grad, weights, rtol=0, atol=0)  # dz/dmean = 1
    torch.testing.assert_close(log_var.grad,
                               weights * 0.5 * torch.exp(0.5 * log_var.detach()) * eps)


def test_a_shape_mismatch_names_both_shapes():
    with pytest.raises(RuleError) as info:
        Reparameterize().infer(TensorType(("N", "seq", 8)), TensorType(("N", "seq", 4)))
    assert info.value.code == "DLS201"
    assert "(N, seq, 8)" in info.value.message and "(N, seq, 4)" in info.value.message


TINY_VAE = """\
    dlspec: 1
    name: tiny-vae
    inputs: {x: {shape: [6]}}
    model:
      - {op: linear, name: h, out_features: 8}
      - {op: relu}
      - {op: linear, name: mu, inputs: relu, out_features: 3}
      - {op: linear, name: logvar, inputs: relu, out_features: 3}
      - {op: reparameterize, name: z, inputs: %s}
      - {op: linear, name: out, out_features: 6}
    outputs: [out, mu, logvar]
    """


def tiny_vae(tmp_path, inputs: str = "[mu, logvar]"):
    path = tmp_path / "tiny-vae.yaml"
    path.write_text(textwrap.dedent(TINY_VAE) % inputs)
    return check_spec(path)


@pytest.mark.parametrize("inputs", ["[mu]", "[mu, logvar, mu]"])
def test_one_or_three_inputs_are_refused(tmp_path, inputs):
    with pytest.raises(ShapeError) as info:
        tiny_vae(tmp_path, inputs)
    assert [(d.code, d.layer) for d in info.value.diagnostics] == [("DLS203", "z")]
    assert "takes 2 inputs" in info.value.diagnostics[0].message


def test_emitted_python_samples_and_evaluates_as_the_compiled_module(tmp_path):
    checked = tiny_vae(tmp_path)
    source = python_source(checked)
    assert "class Reparameterize(nn.Module):" in source
    assert "self.z = Reparameterize()" in source
    path = tmp_path / "emitted_vae.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    compiled, emitted = compile_module(checked, seed=0), module.TinyVae()
    emitted.load_state_dict(compiled.state_dict(), strict=True)
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(2))
    for mode in ("train", "eval"):
        outputs = []
        for model in (compiled, emitted):
            getattr(model, mode)()
            torch.manual_seed(9)
            outputs.append(model(x))
        for expected, got in zip(*outputs, strict=True):
            assert torch.equal(expected, got), mode
    with torch.no_grad():
        reconstruction, mu, _ = compiled.train()(x)
        assert not torch.equal(reconstruction, compiled.out(mu))  # training samples z
        reconstruction, mu, _ = compiled.eval()(x)
        assert torch.equal(reconstruction, compiled.out(mu))  # eval decodes z = mu
