"""Generative adversarial training (Goodfellow et al. 2014): a generator turns N(0, 1) noise
into samples, a discriminator scores samples as real (the data) or generated.

Each training step updates the discriminator on a batch of real samples and as many
generated ones (drawn under no_grad: the generator is not trained by it); every `d_steps`-th
step then updates the generator through the discriminator, whose parameters the engine keeps
frozen meanwhile. Losses on the discriminator's logits r (reals) and f (fakes):

- non_saturating: D minimizes softplus(-r) + softplus(f) (binary cross-entropy with logits),
  G minimizes softplus(-f) (the non-saturating form of the paper);
- hinge (Lim & Ye 2017, Miyato et al. 2018): D minimizes relu(1 - r) + relu(1 + f), G
  minimizes -f.

`gradient_penalty` adds R1 (Mescheder et al. 2018): gamma / 2 times the mean over real
samples of the squared norm of D's gradient with respect to its input. `ema` keeps an
exponential moving average of the generator's weights, the copy to sample from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from dlspec.train.objectives.base import (
    Objective,
    ObjectiveConfig,
    RoleError,
    Roles,
    Update,
    model_role,
)

if TYPE_CHECKING:
    import torch

    from dlspec.train.engine.batch import Tensors

GanLoss = Literal["non_saturating", "hinge"]
EVAL_NOISE_SEED = 0  # evaluation draws the same noise every epoch, apart from training's
# what evaluation reports besides the losses: D's accuracy on real and generated samples,
# and its mean logit on each
METRICS = ("d_accuracy", "d_real", "d_fake")


class GanConfig(ObjectiveConfig):
    """Train a generator against a discriminator on the data."""

    alternates: ClassVar[bool] = True  # the discriminator's update, then the generator's
    op: Literal["gan"] = Field(description="Generative adversarial training: the "
                               "discriminator learns to tell the data from the generator's "
                               "samples, the generator learns to fool it.")
    generator: str = Field("generator", description="The model that turns noise into a "
                           "sample; its one input is fed N(0, 1) noise.")
    discriminator: str = Field("discriminator", description="The model that scores a "
                               "sample (one logit: > 0 real); its one input is fed the data "
                               "and the generator's samples.")
    loss: GanLoss = Field("non_saturating", description="non_saturating: binary "
                          "cross-entropy on the logits, the generator maximizing log D(G(z)); "
                          "hinge: D minimizes relu(1 - D(x)) + relu(1 + D(G(z))), G minimizes "
                          "-D(G(z)).")
    d_steps: int = Field(1, ge=1, strict=True, description="Discriminator updates per "
                         "generator update: D updates every step, G every d_steps-th step.")
    gradient_penalty: float = Field(0.0, ge=0.0, description="Weight gamma of the R1 penalty "
                                    "on real samples, gamma / 2 * E|grad_x D(x)|^2, added to "
                                    "the discriminator's loss (0: none).")
    ema: float | None = Field(None, gt=0.0, lt=1.0, description="Keep an exponential moving "
                              "average of the generator's weights with this decay (e.g. "
                              "0.999), the copy evaluated and sampled from.")

    @model_validator(mode="after")
    def _two_models(self) -> GanConfig:
        if self.generator == self.discriminator:
            raise ValueError(f"generator and discriminator both name '{self.generator}'; "
                             "they must be two different models")
        return self


def d_loss_parts(real: torch.Tensor, fake: torch.Tensor, loss: GanLoss
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The discriminator's loss on real and on generated samples' logits (batch means)."""
    import torch.nn.functional as F

    if loss == "hinge":
        return F.relu(1 - real).mean(), F.relu(1 + fake).mean()
    return F.softplus(-real).mean(), F.softplus(fake).mean()


def g_loss(fake: torch.Tensor, loss: GanLoss) -> torch.Tensor:
    """The generator's loss on the discriminator's logits of its samples (batch mean)."""
    import torch.nn.functional as F

    return -fake.mean() if loss == "hinge" else F.softplus(-fake).mean()


def r1_penalty(scores: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean over the samples of |d scores / d real|^2 (`real` must require grad); kept in
    the graph so that the discriminator's update descends it."""
    import torch

    (grad,) = torch.autograd.grad(scores.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def d_loss_keys(config: GanConfig) -> tuple[str, ...]:
    """The names of the discriminator update's losses ("loss" first)."""
    return ("loss", "loss_real", "loss_fake",
            *(("loss_penalty",) if config.gradient_penalty else ()))


def _only_input(spec: Any, config: GanConfig, key: str) -> str:
    """The one input of the model that the config's `key` names."""
    name = model_role(config, key, spec)
    inputs = list(spec.models[name].inputs)
    if len(inputs) != 1:
        what = "noise" if key == "generator" else "a sample"
        raise RoleError(f"gan objective: the {key} '{name}' has {len(inputs)} inputs "
                        f"({', '.join(inputs)}); it needs exactly one, fed {what}", key,
                        hint=f"give model '{name}' one input")
    return inputs[0]


class Gan(Objective):
    """D's update every step, G's every `d_steps`-th step (see the module docstring)."""

    op = "gan"
    Config = GanConfig
    loss_ranks = False  # D and G losses tell how they stand, not how good G is: keep the last

    @classmethod
    def plan(cls, config: GanConfig, spec: Any) -> Roles:
        _only_input(spec, config, "generator")
        _only_input(spec, config, "discriminator")
        return Roles(trained=(config.discriminator, config.generator),
                     data_model=config.discriminator, reads_loss=False,
                     models=(config.generator, config.discriminator))

    @classmethod
    def logged(cls, config: GanConfig, spec: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
        d_parts = tuple(key.replace("loss", "loss_d", 1) for key in d_loss_keys(config))
        return ("loss", *d_parts, "loss_g"), METRICS

    @classmethod
    def ema_of(cls, config: GanConfig) -> dict[str, float]:
        return {config.generator: config.ema} if config.ema is not None else {}

    def __init__(self, config: GanConfig, context):
        super().__init__(config, context)
        self.g, self.d = self.models[config.generator], self.models[config.discriminator]
        types = context.input_types.get(config.generator, {})
        self.latent = next(iter(types.values()))[0] if types else None
        self.d_update = Update("d", config.discriminator)
        self.g_update = Update("g", config.generator, every=config.d_steps)

    def prepare(self, train: Tensors) -> None:
        """Check that the generator's samples fit the discriminator's input: the shape of
        the data it is fed (TrainError DLS402 when not)."""
        import torch

        from dlspec.errors import Diagnostic, TrainError

        if self.latent is None or any(not isinstance(size, int) for size in self.latent):
            raise TrainError(Diagnostic(
                "DLS402", f"gan objective: the generator's input needs a fixed shape to draw "
                f"noise for it, got {self.latent}",
                hint="give the generator's input a shape of numbers"))
        real = next(iter(train.inputs.values()))
        was = self.g.training
        self.g.eval()
        with torch.no_grad():
            fake = self.g(self.noise(2, train.device))
        self.g.train(was)
        if not torch.is_tensor(fake) or fake.shape[1:] != real.shape[1:]:
            got = tuple(fake.shape[1:]) if torch.is_tensor(fake) else type(fake).__name__
            raise TrainError(Diagnostic(
                "DLS402", f"gan objective: the generator makes samples of shape {got}, but "
                f"the discriminator is fed data of shape {tuple(real.shape[1:])}",
                hint="make the generator's output the shape of one data sample"))

    def noise(self, n: int, device: torch.device | str,
              generator: torch.Generator | None = None) -> torch.Tensor:
        """N(0, 1) noise for n samples, shaped like the generator's input."""
        import torch

        return torch.randn((n, *self.latent), device=device, generator=generator)

    def updates(self) -> tuple[Update, ...]:
        return (self.d_update, self.g_update)

    def loss_keys(self, update: Update) -> tuple[str, ...]:
        return ("loss",) if update.model == self.config.generator else d_loss_keys(self.config)

    def losses(self, update: Update, batch: Tensors) -> dict[str, torch.Tensor]:
        real = next(iter(batch.inputs.values()))
        if update.model == self.config.generator:
            fake = self.g(self.noise(len(real), real.device))
            return {"loss": g_loss(self.d(fake), self.config.loss)}
        return self.d_losses(real, self.noise(len(real), real.device))

    def d_losses(self, real: torch.Tensor, z: torch.Tensor,
                 generator: torch.nn.Module | None = None) -> dict[str, torch.Tensor]:
        """The discriminator's losses on `real` and on the samples `generator` (default:
        the trained one) makes of `z`, with the R1 penalty when configured."""
        import torch

        with torch.no_grad():
            fake = (generator or self.g)(z)
        gamma = self.config.gradient_penalty
        if gamma:
            real = real.detach().requires_grad_(True)
        scores = self.d(real)
        loss_real, loss_fake = d_loss_parts(scores, self.d(fake), self.config.loss)
        parts = {"loss": loss_real + loss_fake, "loss_real": loss_real, "loss_fake": loss_fake}
        if gamma:
            parts["loss_penalty"] = r1_penalty(scores, real)
            parts["loss"] = parts["loss"] + gamma / 2 * parts["loss_penalty"]
        return parts

    def sampler(self) -> torch.nn.Module:
        """The generator to sample from: its EMA copy when one is kept."""
        return self.context.ema.get(self.config.generator, self.g)

    def metric_names(self) -> tuple[str, ...]:
        return METRICS

    def evaluate(self, data: Tensors, prefix: str, batch_size: int) -> dict[str, float]:
        """Over `data` and as many samples of the generator (its EMA copy when kept; the
        same noise every epoch): the losses, D's accuracy (real scored > 0, generated
        <= 0) and D's mean logit on real and on generated samples."""
        import torch

        sampler = self.sampler()
        for model in (self.g, self.d, sampler):
            model.eval()
        real_all = next(iter(data.inputs.values()))
        draws = torch.Generator(device=real_all.device).manual_seed(EVAL_NOISE_SEED)
        sums: dict[str, float] = {}
        right, real_sum, fake_sum, n = 0, 0.0, 0.0, len(real_all)
        if not n:
            return {}
        for start in range(0, n, batch_size):
            real = real_all[start:start + batch_size]
            z = self.noise(len(real), real.device, draws)
            with torch.enable_grad():
                parts = self.d_losses(real, z, sampler)
            with torch.no_grad():
                fake_scores = self.d(sampler(z))
                real_scores = self.d(real)
                parts = {f"loss_d{key[4:]}": value for key, value in parts.items()}
                parts["loss_g"] = g_loss(fake_scores, self.config.loss)
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach()) * len(real)
            right += int((real_scores > 0).sum()) + int((fake_scores <= 0).sum())
            real_sum += float(real_scores.sum())
            fake_sum += float(fake_scores.sum())
        values = {f"{prefix}_{key}": total / n for key, total in sums.items()}
        values[f"{prefix}_loss"] = values[f"{prefix}_loss_d"] + values[f"{prefix}_loss_g"]
        return {**values, f"{prefix}_d_accuracy": right / (2 * n),
                f"{prefix}_d_real": real_sum / n, f"{prefix}_d_fake": fake_sum / n}
