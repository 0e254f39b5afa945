"""Denoising diffusion (Ho et al. 2020): a denoiser learns to predict the noise in a noised
data sample, given the noise step; sampling (dlspec/generate/diffusion.py) then runs the
chain backwards from pure noise.

A training step draws for each data sample x_0 a step t uniformly in 0 .. T-1 and noise
eps ~ N(0, I), makes x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) eps (a_t = alpha_bar_t of the noise
schedule, see generate/noise_schedule.py), and minimizes the mean over the batch of
w_t * mean((model(x_t, t) - target)^2), where the target is eps (`prediction: epsilon`) or
v = sqrt(a_t) eps - sqrt(1 - a_t) x_0 (`prediction: v`, Salimans & Ho 2022), and w_t is 1
(`weighting: none`) or the min-SNR-gamma weight (Hang et al. 2023): min(SNR_t, gamma) / SNR_t
for epsilon, min(SNR_t, gamma) / (SNR_t + 1) for v, with SNR_t = a_t / (1 - a_t).

The data feeds the denoiser's sample input; the objective feeds its timestep input (int64,
(N, 1)). Validation and test report the same loss with steps and noise drawn from a fixed
seed, so that epochs compare; with `ema`, of the average copy, the one sampled from. Its
config and static checks are in diffusion_roles.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dlspec.train.objectives.base import Objective, ObjectiveConfig, Roles, Update
from dlspec.train.objectives.diffusion_roles import (
    DiffusionConfig,
    denoiser_of,
    diffusion_problems,
)

if TYPE_CHECKING:
    import torch

    from dlspec.train.engine.batch import Tensors

EVAL_SEED = 0  # the steps and noise of a validation or test pass, the same every epoch


def min_snr_weights(snr: torch.Tensor, gamma: float, prediction: str) -> torch.Tensor:
    """Hang et al.'s min-SNR-gamma loss weights of steps whose SNR is `snr`: the epsilon
    (or v) loss reweighted to min(SNR, gamma) times the x_0 loss."""
    import torch

    clipped = torch.clamp(snr, max=gamma)
    return clipped / snr if prediction == "epsilon" else clipped / (snr + 1)


def v_target(x0: torch.Tensor, eps: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """v = sqrt(a) eps - sqrt(1 - a) x_0 (Salimans & Ho 2022); `alpha_bar` broadcasts."""
    return alpha_bar.sqrt() * eps - (1 - alpha_bar).sqrt() * x0


class Diffusion(Objective):
    """One update per step: the denoiser's loss on the batch noised to random steps."""

    op = "diffusion"
    Config = DiffusionConfig

    @classmethod
    def plan(cls, config: ObjectiveConfig, spec: Any) -> Roles:
        roles = denoiser_of(config, spec)
        return Roles(trained=(roles.model,), data_model=roles.model, reads_loss=False,
                     models=(roles.model,), data_inputs=(roles.sample,))

    @classmethod
    def graph_problems(cls, config: ObjectiveConfig, spec: Any, graphs: dict[str, Any]
                       ) -> list[tuple[tuple, Any]]:
        return diffusion_problems(config, spec, graphs)

    @classmethod
    def ema_of(cls, config: DiffusionConfig) -> dict[str, float]:
        # validate refuses an EMA without `model:` under `models:`
        return {config.model: config.ema} if config.ema is not None and config.model else {}

    def __init__(self, config: DiffusionConfig, context):
        super().__init__(config, context)
        self.name = config.model or next(iter(self.models))
        self.model = self.models[self.name]
        types = context.input_types.get(self.name) or {}
        recipe = context.recipe
        self.input_names = tuple(types) or tuple(recipe.inputs if recipe is not None else ())
        outputs = tuple(context.output_names.get(self.name) or
                        (recipe.outputs if recipe is not None else ()))
        self.output_index = None  # a model of one output returns a tensor, not a tuple
        if len(outputs) > 1:
            self.output_index = outputs.index(config.output) if config.output else 0
        self.sample = config.sample
        self.timestep = config.timestep
        self.update = Update("loss", self.name)
        self._alpha_bar: dict[str, torch.Tensor] = {}

    # --- the denoiser and its schedule ----------------------------------------------------

    def roles_from(self, data_inputs: tuple[str, ...]) -> None:
        """Fill in the sample (the input the data feeds) and the timestep (the other one)."""
        self.sample = self.sample or data_inputs[0]
        if self.timestep is None:
            self.timestep = next(n for n in self.input_names if n != self.sample)

    def alpha_bar(self, device: torch.device) -> torch.Tensor:
        """alpha_bar_t of the configured schedule, float32 on `device`, (T,)."""
        import torch

        key = str(device)
        if key not in self._alpha_bar:
            from dlspec.generate.noise_schedule import noise_schedule

            c = self.config
            schedule = noise_schedule(c.schedule, c.steps, beta_start=c.beta_start,
                                      beta_end=c.beta_end)
            self._alpha_bar[key] = torch.tensor(schedule.alphas_cumprod, dtype=torch.float32,
                                                device=device)
        return self._alpha_bar[key]

    def predict(self, model: torch.nn.Module, x_t: torch.Tensor, t: torch.Tensor
                ) -> torch.Tensor:
        """The denoiser's prediction for x_t at steps t (N,)."""
        feeds = {self.sample: x_t, self.timestep: t.reshape(-1, 1)}
        returned = model(*(feeds[name] for name in self.input_names))
        return returned if self.output_index is None else returned[self.output_index]

    def loss(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor,
             model: torch.nn.Module | None = None) -> torch.Tensor:
        """The (weighted) mean squared error of the prediction of x_0 noised with `eps` to
        steps `t` (N,)."""
        alpha_bar = self.alpha_bar(x0.device)[t].reshape(-1, *([1] * (x0.dim() - 1)))
        x_t = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps
        prediction = self.predict(model or self.model, x_t, t).float()
        target = eps if self.config.prediction == "epsilon" else v_target(x0, eps, alpha_bar)
        per_sample = (prediction - target).pow(2).flatten(1).mean(1)
        if self.config.weighting == "min_snr":
            a = alpha_bar.flatten()
            per_sample = per_sample * min_snr_weights(a / (1 - a), self.config.snr_gamma,
                                                      self.config.prediction)
        return per_sample.mean()

    # --- the run --------------------------------------------------------------------------

    def prepare(self, train: Tensors) -> None:
        """Check on two samples that the denoiser's prediction has the sample's shape
        (TrainError DLS402 when not)."""
        import torch

        from dlspec.errors import Diagnostic, TrainError

        self.roles_from(tuple(train.inputs))
        x0 = train.inputs[self.sample][:2]
        was = self.model.training
        self.model.eval()
        with torch.no_grad():
            out = self.predict(self.model, x0, torch.zeros(len(x0), dtype=torch.long,
                                                           device=x0.device))
        self.model.train(was)
        if out.shape != x0.shape:
            raise TrainError(Diagnostic(
                "DLS402", f"diffusion objective: the denoiser predicts {tuple(out.shape[1:])} "
                f"for a sample of shape {tuple(x0.shape[1:])}",
                hint="make the denoiser's output the shape of one data sample"))

    def updates(self) -> tuple[Update, ...]:
        return (self.update,)

    def losses(self, update: Update, batch: Tensors) -> dict[str, torch.Tensor]:
        import torch

        if self.sample is None:
            self.roles_from(tuple(batch.inputs))
        x0 = batch.inputs[self.sample]
        t = torch.randint(0, self.config.steps, (len(x0),), device=x0.device)
        return {"loss": self.loss(x0, t, torch.randn_like(x0))}

    def sampler(self) -> torch.nn.Module:
        """The denoiser to sample from: its EMA copy when one is kept."""
        return self.context.ema.get(self.name, self.model)

    def evaluate(self, data: Tensors, prefix: str, batch_size: int) -> dict[str, float]:
        """The loss over `data` (of the EMA copy when kept), each sample noised to a step
        and with noise drawn from a fixed seed."""
        import torch

        n = len(data)
        if not n:
            return {}
        if self.sample is None:
            self.roles_from(tuple(data.inputs))
        model, was = self.sampler(), self.model.training
        model.eval()
        self.model.eval()
        x_all = data.inputs[self.sample]
        draws = torch.Generator(device=x_all.device).manual_seed(EVAL_SEED)
        total = 0.0
        with torch.no_grad():
            for start in range(0, n, batch_size):
                x0 = x_all[start:start + batch_size]
                t = torch.randint(0, self.config.steps, (len(x0),), device=x0.device,
                                  generator=draws)
                eps = torch.randn(x0.shape, device=x0.device, generator=draws,
                                  dtype=x0.dtype)
                total += float(self.loss(x0, t, eps, model)) * len(x0)
        self.model.train(was)
        return {f"{prefix}_loss": total / n}
