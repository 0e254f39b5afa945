"""The diffusion objective: its loss against a hand-computed MSE (epsilon and v targets, the
min-SNR-gamma weights), what it feeds the denoiser, its seeded evaluation, and the located
errors of a spec it cannot train."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dlspec.api import check
from dlspec.errors import DlspecError, TrainError
from dlspec.generate.noise_schedule import noise_schedule
from dlspec.train.engine.batch import Tensors
from dlspec.train.objectives.base import Context
from dlspec.train.objectives.diffusion import Diffusion, DiffusionConfig, min_snr_weights, v_target

SPEC = Path(__file__).resolve().parents[3] / "specs" / "ddpm-digits.yaml"


class Denoiser(nn.Module):
    """out = w * x_t + t / 100 (t: (N, 1) int64), positional (x, t) as a compiled spec."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.5))
        self.seen: list[torch.Tensor] = []

    def forward(self, x, t):
        self.seen.append(t)
        return self.w * x + t.reshape(-1, 1).float() / 100


def diffusion(**options) -> Diffusion:
    config = DiffusionConfig(op="diffusion", model="m", sample="x", timestep="t", steps=100,
                             **options)
    context = Context({"m": Denoiser()}, None, None, "cpu",
                      {"m": {"x": ((2,), "float32"), "t": ((1,), "int64")}}, {"m": ("out",)},
                      {})
    return Diffusion(config, context)


X0 = torch.tensor([[1.0, -1.0], [0.5, 0.0], [-0.2, 0.8]])
EPS = torch.tensor([[0.3, -0.7], [1.2, 0.1], [-0.4, -1.5]])
T = torch.tensor([0, 42, 99])


def by_hand(schedule: str, prediction: str, weights=(1.0, 1.0, 1.0)) -> float:
    """The loss of Denoiser on X0, EPS, T in plain Python floats."""
    a = noise_schedule(schedule, 100).alphas_cumprod
    total = 0.0
    for x0, eps, t, w in zip(X0.tolist(), EPS.tolist(), T.tolist(), weights, strict=True):
        errors = []
        for x, e in zip(x0, eps, strict=True):
            x_t = math.sqrt(a[t]) * x + math.sqrt(1 - a[t]) * e
            out = 0.5 * x_t + t / 100
            target = e if prediction == "epsilon" else \
                math.sqrt(a[t]) * e - math.sqrt(1 - a[t]) * x
            errors.append((out - target) ** 2)
        total += w * sum(errors) / len(errors)
    return total / len(T)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_the_loss_is_the_mse_of_the_prediction_of_the_noised_sample(schedule, prediction):
    objective = diffusion(schedule=schedule, prediction=prediction)
    loss = objective.loss(X0, T, EPS)
    assert loss.item() == pytest.approx(by_hand(schedule, prediction), rel=1e-5)
    (t,) = objective.model.seen
    assert t.shape == (3, 1) and t.dtype == torch.int64 and t.flatten().tolist() == [0, 42, 99]


def test_the_named_output_of_several_is_the_prediction():
    class TwoOutputs(Denoiser):  # its inputs in the other order: (t, x)
        def forward(self, t, x):
            return torch.full_like(x, 99.0), super().forward(x, t)

    config = DiffusionConfig(op="diffusion", model="m", output="noise", steps=100)
    context = Context({"m": TwoOutputs()}, None, None, "cpu",
                      {"m": {"t": ((1,), "int64"), "x": ((2,), "float32")}},
                      {"m": ("aux", "noise")}, {})
    objective = Diffusion(config, context)
    objective.roles_from(("x",))  # the data feeds x; t is the other input
    assert (objective.sample, objective.timestep) == ("x", "t")
    assert objective.loss(X0, T, EPS).item() == pytest.approx(by_hand("linear", "epsilon"),
                                                              rel=1e-5)


def test_v_is_salimans_and_hos_target():
    a = torch.tensor([0.64])
    x0, eps = torch.tensor([2.0]), torch.tensor([-1.0])
    v = v_target(x0, eps, a)
    assert v.item() == pytest.approx(0.8 * -1.0 - 0.6 * 2.0)
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps
    # x_0 and eps come back from (x_t, v): the rotation by the angle phi, tan phi = 0.6 / 0.8
    assert (a.sqrt() * x_t - (1 - a).sqrt() * v).item() == pytest.approx(2.0)
    assert ((1 - a).sqrt() * x_t + a.sqrt() * v).item() == pytest.approx(-1.0)


def test_min_snr_weights():
    snr = torch.tensor([0.5, 5.0, 50.0])
    assert min_snr_weights(snr, 5.0, "epsilon").tolist() == pytest.approx([1.0, 1.0, 0.1])
    assert min_snr_weights(snr, 5.0, "v").tolist() == pytest.approx([0.5 / 1.5, 5 / 6, 5 / 51])


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_min_snr_weighting_weighs_each_samples_error(prediction):
    a = noise_schedule("linear", 100).alphas_cumprod[T.numpy()]
    snr = a / (1 - a)
    gamma = 2.0
    weights = np.minimum(snr, gamma) / (snr if prediction == "epsilon" else snr + 1)
    objective = diffusion(prediction=prediction, weighting="min_snr", snr_gamma=gamma)
    loss = objective.loss(X0, T, EPS)
    assert loss.item() == pytest.approx(by_hand("linear", prediction, weights), rel=1e-5)
    assert weights[0] < 0.1 and weights[2] == pytest.approx(1.0 if prediction == "epsilon"
                                                            else snr[2] / (snr[2] + 1))


def test_a_step_draws_steps_and_noise_from_torchs_generator():
    objective = diffusion()
    batch = Tensors({"x": X0}, torch.zeros(3, dtype=torch.long))
    torch.manual_seed(5)
    loss = objective.losses(objective.updates()[0], batch)["loss"]
    torch.manual_seed(5)
    t = torch.randint(0, 100, (3,))
    assert loss.item() == pytest.approx(objective.loss(X0, t, torch.randn_like(X0)).item())
    loss.backward()
    assert objective.model.w.grad is not None


def test_evaluate_draws_the_same_steps_and_noise_every_time():
    objective = diffusion()
    data = Tensors({"x": X0.repeat(3, 1)}, torch.zeros(9, dtype=torch.long))
    values = objective.evaluate(data, "val", batch_size=4)
    assert set(values) == {"val_loss"}
    assert objective.evaluate(data, "val", batch_size=4) == values
    draws = torch.Generator().manual_seed(0)
    total = 0.0
    for start in (0, 4, 8):
        x0 = data.inputs["x"][start:start + 4]
        t = torch.randint(0, 100, (len(x0),), generator=draws)
        total += objective.loss(x0, t, torch.randn(x0.shape, generator=draws)).item() * len(x0)
    assert values["val_loss"] == pytest.approx(total / 9)
    assert objective.model.training  # evaluation leaves the model as it found it


def test_a_denoiser_of_the_wrong_output_shape_is_refused_before_training():
    objective = diffusion()
    objective.prepare(Tensors({"x": X0}, torch.zeros(3, dtype=torch.long)))
    wide = Tensors({"x": torch.zeros(4, 2, 3)}, torch.zeros(4, dtype=torch.long))
    objective.model.forward = lambda x, t: x[..., :2]
    with pytest.raises(TrainError) as caught:
        objective.prepare(wide)
    assert caught.value.diagnostics[0].message == (
        "diffusion objective: the denoiser predicts (2, 2) for a sample of shape (2, 3)")


def test_the_shipped_spec_feeds_the_data_to_the_sample_input_only():
    from dlspec.api import load_data
    from dlspec.passes.check_objective import data_view, roles_of

    checked = check(SPEC)
    roles = roles_of(checked.spec)
    assert (roles.trained, roles.data_inputs, roles.reads_loss) == (("denoiser",), ("image",),
                                                                    False)
    data = load_data(data_view(checked))
    assert list(data.train.inputs) == ["image"]
    image = data.train.inputs["image"]
    assert image.shape[1:] == (1, 8, 8) and image.min() == -1.0 and image.max() == 1.0


def spec_with(tmp_path: Path, changes: list[tuple[str, str]]) -> Path:
    """The shipped spec with each (old, new) change made once."""
    text = SPEC.read_text()
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "ddpm.yaml"
    path.write_text(text)
    return path


def line_of(path: Path, start: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1)
                if line.lstrip().startswith(start))


T_INPUT = "t: {shape: [1], dtype: int64,"


@pytest.mark.parametrize(("changes", "code", "message", "line"), [
    ([("timestep: t,", "timestep: time,")], "DLS402",
     "`timestep` names the input 'time', but model 'denoiser' has no input of that name "
     "(its inputs: image, t)", "objective:"),
    ([("model: denoiser,", "model: denoisr,")], "DLS402",
     "`model` names the model 'denoisr'", "objective:"),
    ([(T_INPUT, "t: {shape: [1], dtype: float32,")], "DLS402",
     "the timestep input 't' is float32 (N, 1), but the diffusion objective feeds it one "
     "int64 step per sample, (N, 1)", "t: {"),
    ([(T_INPUT, "t: {shape: [], dtype: int64,")], "DLS402",
     "the timestep input 't' is int64 (N)", "t: {"),
    ([("{op: conv2d, name: noise, out_channels: 1,", "{op: conv2d, name: noise, "
       "out_channels: 2,")], "DLS402",
     "the denoiser's output 'noise' (N, 2, 8, 8) predicts v in a sample "
     "(N, 1, 8, 8) (the input 'image'), so it must have the sample's shape", "objective:"),
    ([("model: denoiser, ", "")], "DLS402", "objective.ema keeps an average copy",
     "schedule: cosine"),
    ([("      t: {", "      label: {shape: [10]}\n      t: {")], "DLS402",
     "the denoiser 'denoiser' has 3 input(s) (image, label, t); it needs two", "objective:"),
    ([("steps: \"${steps}\",", "steps: 1,")], "DLS102", "greater than or equal to 2",
     "objective:"),
    ([("prediction: v,", "prediction: x0,")], "DLS102", "'epsilon' or 'v'",
     "schedule: cosine"),
])
def test_objective_mistakes_are_located_errors(tmp_path, changes, code, message, line):
    path = spec_with(tmp_path, changes)
    with pytest.raises(DlspecError) as caught:
        check(path)
    (problem,) = caught.value.diagnostics
    assert problem.code == code
    assert message in problem.message
    assert problem.span.line == line_of(path, line)


TINY = """dlspec: 1
name: tiny-ddpm
inputs:
  x: {shape: [1, 8, 8]}
  t: {shape: [1], dtype: int64}
model:
  - {op: timestep_embedding, inputs: t, dim: 64}
  - {op: reshape, shape: [1, 8, 8]}
  - {op: add, name: out, inputs: [x, reshape]}
  - {op: conv2d, out_channels: 1, kernel_size: 3, padding: 1}
objective:
  op: diffusion
  ema: 0.99
data: {dataset: digits, rescale: [-1, 1]}
"""


def test_an_ema_of_a_single_model_spec_is_refused_at_its_key(tmp_path):
    text = TINY
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    with pytest.raises(DlspecError) as caught:
        check(path)
    (problem,) = caught.value.diagnostics
    assert (problem.code, problem.span.line) == ("DLS402", 13)
    assert "put the denoiser under `models:`" in problem.hint
    path.write_text(text.replace("  ema: 0.99\n", ""))
    assert check(path).spec.objective.op == "diffusion"  # one model, no EMA: it trains


def test_a_single_model_spec_trains(tmp_path):
    """A denoiser in the single `model:` form (no input types from a model set: its inputs
    in the recipe's order) trains and reports a finite validation loss."""
    from dlspec.api import train_spec

    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.replace("  ema: 0.99\n", ""))
    run = train_spec(path, ["train.epochs=1"], out_root=tmp_path, quiet=True)
    assert math.isfinite(run.val_metrics["val_loss"]) and run.val_metrics["val_loss"] > 0
