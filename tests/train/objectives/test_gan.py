"""The GAN objective: its losses against hand-computed values, its update plan, what each
update trains, its evaluation numbers, and the located errors of its `objective:` section."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dlspec.api import check
from dlspec.errors import DlspecError, TrainError
from dlspec.train.engine.batch import Tensors
from dlspec.train.objectives.base import Context
from dlspec.train.objectives.gan import Gan, GanConfig, d_loss_parts, g_loss, r1_penalty

SPEC = Path(__file__).resolve().parents[3] / "specs" / "dcgan-digits.yaml"
LN2 = math.log(2)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_non_saturating_losses_are_binary_cross_entropy_on_the_logits():
    real, fake = torch.tensor([0.0, 2.0]), torch.tensor([0.0, -1.0])
    loss_real, loss_fake = d_loss_parts(real, fake, "non_saturating")
    # -log sigmoid(r) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f)
    assert loss_real.item() == pytest.approx((LN2 + softplus(-2.0)) / 2)  # 0.410038
    assert loss_fake.item() == pytest.approx((LN2 + softplus(-1.0)) / 2)  # 0.503204
    assert loss_real.item() == pytest.approx(0.410038, abs=1e-6)
    # the generator maximizes log D(G(z)): -log sigmoid(f) = softplus(-f)
    assert g_loss(fake, "non_saturating").item() == pytest.approx((LN2 + softplus(1.0)) / 2)
    assert g_loss(fake, "non_saturating").item() == pytest.approx(1.003204, abs=1e-6)


def test_hinge_losses():
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([0.5, -2.0])
    loss_real, loss_fake = d_loss_parts(real, fake, "hinge")
    assert loss_real.item() == pytest.approx(0.25)  # relu(1 - 0.5), relu(1 - 2) = 0.5, 0
    assert loss_fake.item() == pytest.approx(0.75)  # relu(1 + 0.5), relu(1 - 2) = 1.5, 0
    assert g_loss(fake, "hinge").item() == pytest.approx(0.75)  # -(0.5 - 2) / 2


def test_r1_penalty_is_the_mean_squared_input_gradient_and_trains_the_discriminator():
    w = torch.tensor([1.0, 2.0, 2.0], requires_grad=True)
    x = torch.tensor([[1.0, 0.0, 3.0], [2.0, 1.0, 1.0]], requires_grad=True)
    penalty = r1_penalty(x @ w, x)  # d(x . w)/dx = w for every sample: |w|^2 = 9
    assert penalty.item() == pytest.approx(9.0)
    (grad,) = torch.autograd.grad(penalty, w)  # d|w|^2/dw = 2w: kept in the graph
    assert grad.tolist() == pytest.approx([2.0, 4.0, 4.0])
    y = torch.tensor([[1.0, 2.0], [0.0, 3.0]], requires_grad=True)
    # d(sum y^2)/dy = 2y: (4 * 5 + 4 * 9) / 2 samples
    assert r1_penalty((y ** 2).sum(1), y).item() == pytest.approx(28.0)


class Shift(nn.Module):
    """A generator whose sample is its noise plus a learned offset."""

    def __init__(self):
        super().__init__()
        self.offset = nn.Parameter(torch.tensor([0.5, -0.5]))

    def forward(self, z):
        return z + self.offset


def gan(**options) -> Gan:
    torch.manual_seed(0)
    d = nn.Linear(2, 1)
    with torch.no_grad():
        d.weight.copy_(torch.tensor([[1.0, 1.0]]))
        d.bias.zero_()
    models = {"generator": Shift(), "discriminator": d}
    context = Context(models, None, None, "cpu",
                      {"generator": {"z": ((2,), "float32")},
                       "discriminator": {"x": ((2,), "float32")}}, {}, {})
    return Gan(GanConfig(op="gan", **options), context)


def batch(rows: list[list[float]]) -> Tensors:
    x = torch.tensor(rows)
    return Tensors({"x": x}, torch.zeros(len(x), dtype=torch.long))


def test_updates_run_the_discriminator_every_step_and_the_generator_every_d_steps():
    objective = gan(d_steps=3)
    d, g = objective.updates()
    assert (d.model, g.model) == ("discriminator", "generator")
    assert [step for step in range(1, 10) if d.due(step)] == list(range(1, 10))
    assert [step for step in range(1, 10) if g.due(step)] == [3, 6, 9]
    assert objective.loss_keys(d) == ("loss", "loss_real", "loss_fake")
    assert gan(gradient_penalty=1.0).loss_keys(d) == ("loss", "loss_real", "loss_fake",
                                                     "loss_penalty")
    assert objective.loss_keys(g) == ("loss",)


def test_the_discriminators_update_does_not_train_the_generator_and_adds_the_penalty():
    objective = gan(loss="hinge", gradient_penalty=4.0)
    d_update, g_update = objective.updates()
    torch.manual_seed(1)
    parts = objective.losses(d_update, batch([[1.0, 2.0], [0.0, 0.5]]))
    # D(x) = x1 + x2: its input gradient is (1, 1) for every sample, R1 = 2
    assert parts["loss_penalty"].item() == pytest.approx(2.0)
    assert parts["loss"].item() == pytest.approx(
        parts["loss_real"].item() + parts["loss_fake"].item() + 4.0 / 2 * 2.0)
    assert parts["loss_real"].item() == pytest.approx((0.0 + 0.5) / 2)  # relu(1 - 3), relu(0.5)
    parts["loss"].backward()
    assert objective.g.offset.grad is None  # G's samples were made under no_grad
    assert objective.models["discriminator"].weight.grad is not None
    # the generator's update backpropagates through D into G
    loss = objective.losses(g_update, batch([[1.0, 2.0], [0.0, 0.5]]))["loss"]
    loss.backward()
    # hinge: -mean(D(z + offset)), offset enters D as offset1 + offset2: d/d offset = -(1, 1)
    assert objective.g.offset.grad.tolist() == pytest.approx([-1.0, -1.0])


def test_samples_that_do_not_fit_the_discriminators_data_are_refused_before_training():
    objective = gan()
    objective.prepare(batch([[1.0, 2.0], [0.0, 0.5]]))  # samples of shape (2,): they fit
    wide = Tensors({"x": torch.zeros(4, 3)}, torch.zeros(4, dtype=torch.long))
    with pytest.raises(TrainError) as caught:
        objective.prepare(wide)
    (problem,) = caught.value.diagnostics
    assert problem.code == "DLS402"
    assert problem.message == ("gan objective: the generator makes samples of shape (2,), but "
                               "the discriminator is fed data of shape (3,)")


def test_noise_comes_from_torchs_global_generator_shaped_like_the_latent_input():
    objective = gan()
    torch.manual_seed(7)
    z = objective.noise(5, "cpu")
    torch.manual_seed(7)
    assert z.shape == (5, 2) and torch.equal(z, torch.randn(5, 2))


def test_evaluate_reports_the_discriminators_accuracy_and_mean_scores():
    objective = gan(loss="non_saturating")
    with torch.no_grad():  # samples far below zero: D(G(z)) = z1 + z2 - 100
        objective.g.offset.copy_(torch.tensor([-50.0, -50.0]))
    data = batch([[1.0, 2.0], [-3.0, 1.0], [0.5, 0.5], [2.0, 2.0]])  # D: 3, -2, 1, 4
    values = objective.evaluate(data, "val", batch_size=3)
    assert values["val_d_accuracy"] == pytest.approx(7 / 8)  # every fake, 3 of 4 reals
    assert values["val_d_real"] == pytest.approx(1.5)
    draws = torch.Generator().manual_seed(0)
    z = torch.randn(3, 2, generator=draws), torch.randn(1, 2, generator=draws)
    fake = torch.cat(z).sum(1) - 100
    assert values["val_d_fake"] == pytest.approx(fake.mean().item(), rel=1e-6)
    real_loss = np.mean([softplus(-s) for s in (3.0, -2.0, 1.0, 4.0)])
    assert values["val_loss_d_real"] == pytest.approx(real_loss, rel=1e-5)
    assert values["val_loss_g"] == pytest.approx(-fake.mean().item(), rel=1e-4)
    assert values["val_loss"] == pytest.approx(values["val_loss_d"] + values["val_loss_g"])
    assert objective.evaluate(data, "val", batch_size=3) == values  # the same noise each time


def spec_with(tmp_path: Path, changes: list[tuple[str, str]]) -> Path:
    """The shipped spec with each (old, new) change made once."""
    text = SPEC.read_text()
    for old, new in changes:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "gan.yaml"
    path.write_text(text)
    return path


TWO_INPUTS = [("{op: linear, name: fc1,", "{op: linear, name: fc1, inputs: [z],"),
              ("    layers:", "      label: {shape: [10]}\n    layers:")]


@pytest.mark.parametrize(("changes", "code", "message"), [
    ([("generator: generator,", "generator: generatr,")], "DLS402",
     "`generator` names the model 'generatr'"),
    ([("discriminator: discriminator,", "discriminator: generator,")], "DLS102",
     "generator and discriminator both name 'generator'"),
    ([("loss: hinge,", "loss: wasserstein,")], "DLS102", "wasserstein"),
    ([("d_steps: 1,", "d_steps: 0,")], "DLS102", "greater than or equal to 1"),
    ([("ema: 0.995", "ema: 1.5")], "DLS102", "less than 1"),
    (TWO_INPUTS, "DLS402", "the generator 'generator' has 2 inputs (z, label); it needs "
                           "exactly one, fed noise"),
])
def test_objective_mistakes_are_located_errors(tmp_path, changes, code, message):
    with pytest.raises(DlspecError) as caught:
        check(spec_with(tmp_path, changes))
    (problem,) = caught.value.diagnostics
    assert problem.code == code
    assert message in problem.message
    assert problem.span is not None and problem.span.line > 1


def test_a_gan_run_keeps_its_last_epoch_as_its_best(tmp_path):
    """A GAN's losses do not rank its generators: without early stopping, best.safetensors
    (what export takes) holds the last epoch's weights, not those of the lowest val_loss."""
    from dlspec.api import train_spec
    from dlspec.train.run_folder.checkpoint import load_checkpoint

    spec = Path(__file__).resolve().parents[3] / "specs" / "dcgan-digits.yaml"
    run = train_spec(spec, ["train.epochs=3"], out_root=tmp_path, quiet=True)
    assert (run.monitor, run.best_epoch) == ("epoch", 3)
    folder = Path(run.run_dir) / "checkpoints"
    best, last = (load_checkpoint(folder / f"{n}.safetensors").state_dict
                  for n in ("best", "last"))
    assert best.keys() == last.keys() and all(torch.equal(best[k], last[k]) for k in best)
