"""The diffusion samplers' maths over a Network: with a denoiser that knows the clean sample
(it returns the true eps or v of x_t), DDIM with eta = 0 and DDPM end on it; DDPM's posterior
is Ho et al.'s equation (7); DDIM with eta = 1 is DDPM; DDIM with eta = 0 depends on the
initial noise only; bad requests are refused; the generation record of the shipped spec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlspec.compiler import check_spec
from dlspec.errors import GenerateError
from dlspec.generate.diffusion import diffusion_info, posterior, sample_diffusion, timesteps
from dlspec.generate.network import Network
from dlspec.generate.noise_schedule import noise_schedule

SPEC = Path(__file__).resolve().parents[2] / "specs" / "ddpm-digits.yaml"
X0 = np.array([0.5, -0.25, 0.9], dtype=np.float64)


def info(prediction="epsilon", schedule="cosine", steps=100, clip=None) -> dict:
    return {"kind": "diffusion", "model": "m", "sample": "x", "timestep": "t", "output": None,
            "steps": steps, "schedule": schedule, "beta_start": 1e-4, "beta_end": 0.02,
            "prediction": prediction, "clip": clip}


class Oracle(Network):
    """A denoiser that knows x_0: it returns the eps (or v) that makes x_t from X0."""

    def __init__(self, record: dict, x0: np.ndarray = X0):
        super().__init__({"x": ((len(x0),), "float32"), "t": ((1,), "int64")}, ("out",), {})
        self.alphas = noise_schedule(record["schedule"], record["steps"]).alphas_cumprod
        self.prediction, self.x0 = record["prediction"], x0
        self.seen: list[int] = []

    def __call__(self, feeds):
        x, t = feeds["x"].astype(np.float64), feeds["t"]
        assert t.shape == (len(x), 1) and t.dtype == np.int64
        self.seen.append(int(t[0, 0]))
        a = self.alphas[t[:, 0]][:, None]
        eps = (x - np.sqrt(a) * self.x0) / np.sqrt(1 - a)
        out = eps if self.prediction == "epsilon" else np.sqrt(a) * eps - np.sqrt(1 - a) * self.x0
        return {"out": out.astype(np.float32)}


class Linear(Network):
    """A denoiser that is not an oracle: out = 0.3 x + t / T."""

    def __init__(self, steps: int):
        super().__init__({"x": ((3,), "float32"), "t": ((1,), "int64")}, ("out",), {})
        self.steps = steps

    def __call__(self, feeds):
        return {"out": 0.3 * feeds["x"] + feeds["t"].astype(np.float32) / self.steps}


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
@pytest.mark.parametrize("sampler,steps", [("ddim", 10), ("ddim", 100), ("ddpm", 100),
                                           ("ddpm", 7)])
def test_a_denoiser_that_knows_x0_samples_x0(prediction, sampler, steps):
    record = info(prediction)
    oracle = Oracle(record)
    samples = sample_diffusion(oracle, record, 5, np.random.default_rng(0), sampler=sampler,
                               steps=steps, batch_size=2)
    assert samples.shape == (5, 3) and samples.dtype == np.float32
    np.testing.assert_allclose(samples, np.broadcast_to(X0, (5, 3)), atol=2e-4)
    assert oracle.seen[:steps] == list(timesteps(100, steps))  # the first batch's steps
    assert oracle.seen[0] == 99 and oracle.seen[steps - 1] == 0


def test_the_visited_steps_are_evenly_spaced_and_decreasing():
    assert timesteps(1000, 5).tolist() == [999, 749, 500, 250, 0]
    assert timesteps(10, 10).tolist() == list(range(9, -1, -1))
    assert len(timesteps(1000, 50)) == 50


def test_ddpm_posterior_is_ho_et_als_equation_7():
    schedule = noise_schedule("linear", 1000)
    betas, a = schedule.betas, schedule.alphas_cumprod
    t = 500  # step t -> t - 1, alpha_t = 1 - beta_t
    x0, xt = np.array([0.3, -1.0]), np.array([1.5, 0.2])
    mean, variance = posterior(x0, xt, a[t], a[t - 1])
    expected = (np.sqrt(a[t - 1]) * betas[t] / (1 - a[t]) * x0
                + np.sqrt(1 - betas[t]) * (1 - a[t - 1]) / (1 - a[t]) * xt)
    np.testing.assert_allclose(mean, expected, rtol=1e-12)
    assert variance == pytest.approx((1 - a[t - 1]) / (1 - a[t]) * betas[t], rel=1e-12)
    assert variance < betas[t]  # beta-tilde <= beta


@pytest.mark.parametrize("steps", [100, 12])
def test_ddim_with_eta_1_is_ddpm(steps):
    record = info(schedule="linear")
    ddpm = sample_diffusion(Linear(100), record, 4, np.random.default_rng(3), sampler="ddpm",
                            steps=steps)
    ddim = sample_diffusion(Linear(100), record, 4, np.random.default_rng(3), sampler="ddim",
                            steps=steps, eta=1.0)
    np.testing.assert_allclose(ddim, ddpm, rtol=1e-5, atol=1e-5)
    half = sample_diffusion(Linear(100), record, 4, np.random.default_rng(3), steps=steps,
                            eta=0.5)
    assert np.abs(half - ddpm).max() > 1e-2


class FirstDraw:
    """A random source whose first draw is fixed and whose later draws come from `seed`."""

    def __init__(self, first: np.ndarray, seed: int):
        self.first, self.rest = first, np.random.default_rng(seed)

    def standard_normal(self, shape):
        if self.first is not None:
            first, self.first = self.first, None
            assert first.shape == tuple(shape)
            return first
        return self.rest.standard_normal(shape)


def test_ddim_with_eta_0_depends_on_the_initial_noise_only():
    record, start = info(), np.random.default_rng(0).standard_normal((4, 3))
    runs = [sample_diffusion(Linear(100), record, 4, FirstDraw(start, seed), eta=eta)
            for eta in (0.0, 0.8) for seed in (1, 2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert np.abs(runs[2] - runs[3]).max() > 1e-2  # eta > 0 draws noise every step
    other = sample_diffusion(Linear(100), record, 4, np.random.default_rng(1))
    assert np.abs(other - runs[0]).max() > 1e-2


def test_x0_is_clipped_to_the_data_range():
    """A denoiser predicting x_0 = 3 everywhere, for data in [-1, 1], ends at 1."""
    x0 = np.array([3.0, 3.0, -3.0])
    record = info(clip=[-1.0, 1.0])
    samples = sample_diffusion(Oracle(record, x0), record, 2, np.random.default_rng(0),
                               steps=20)
    np.testing.assert_allclose(samples, [[1.0, 1.0, -1.0]] * 2, atol=1e-5)
    unclipped = sample_diffusion(Oracle(info(), x0), info(), 2, np.random.default_rng(0),
                                 steps=20)
    np.testing.assert_allclose(unclipped, [[3.0, 3.0, -3.0]] * 2, atol=1e-3)


@pytest.mark.parametrize("options,message", [
    ({"steps": 0}, "--steps 0: the model was trained on 100 noise steps"),
    ({"steps": 101}, "can take 1 to 100 of them"),
    ({"sampler": "euler"}, "unknown sampler 'euler'"),
    ({"eta": -1.0}, "eta -1.0 is negative"),
])
def test_bad_requests_are_refused(options, message):
    with pytest.raises(GenerateError) as caught:
        sample_diffusion(Linear(100), info(), 2, np.random.default_rng(0), **options)
    assert caught.value.codes == ["DLS601"]
    assert message in str(caught.value)


def test_the_default_steps():
    record = info(steps=1000)
    oracle = Oracle(record)
    sample_diffusion(oracle, record, 1, np.random.default_rng(0))
    assert len(oracle.seen) == 50
    oracle = Oracle(info(steps=30))
    sample_diffusion(oracle, info(steps=30), 1, np.random.default_rng(0), sampler="ddpm")
    assert oracle.seen == list(range(29, -1, -1))


def test_the_generation_record_of_the_shipped_spec():
    spec = check_spec(SPEC).spec
    assert diffusion_info(spec.objective, spec) == {
        "kind": "diffusion", "model": "denoiser", "sample": "image", "timestep": "t",
        "output": None, "steps": 1000, "schedule": "cosine", "beta_start": 1e-4,
        "beta_end": 0.02, "prediction": "v", "clip": [-1.0, 1.0]}


@pytest.mark.slow
def test_ddim_samples_of_the_onnx_file_equal_the_modules(tmp_path):
    """The same loop over ONNX Runtime: DDIM (eta 0) samples of the shipped denoiser's export
    equal those of its torch module from the same seed, within float32 noise."""
    from dlspec import api
    from dlspec.generate.network import OnnxNetwork, TorchNetwork

    checked = check_spec(SPEC, model="denoiser")
    path = tmp_path / "denoiser.onnx"
    api.export_spec(SPEC, path, untrained=True, model="denoiser")
    graph = checked.graph
    inputs = {n: (graph.node(n).type.sample_shape, graph.node(n).type.dtype)
              for n in graph.inputs}
    torch_net = TorchNetwork(api.compile_module(checked), inputs, tuple(graph.outputs))
    record = diffusion_info(checked.spec.objective, checked.spec)
    runs = [sample_diffusion(net, record, 6, np.random.default_rng(0), steps=10, batch_size=4)
            for net in (torch_net, OnnxNetwork(path))]
    assert runs[0].shape == (6, 1, 8, 8)
    np.testing.assert_allclose(runs[1], runs[0], atol=1e-4)
