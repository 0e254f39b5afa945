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
seed, so that epochs compare; with `ema`, of the average copy, the one sampled from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from dlspec.errors import Diagnostic, suggest
from dlspec.train.config_base import PositiveFloat
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

TIMESTEP_HINT = "declare it `{shape: [1], dtype: int64}`"


class DiffusionConfig(ObjectiveConfig):
    """Train a denoiser to predict the noise added to the data (DDPM)."""

    op: Literal["diffusion"] = Field(
        "diffusion", description="Denoising diffusion (Ho et al. 2020): noise a data sample "
        "x_0 to a random step t of T, x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) eps, and train the "
        "model to predict eps (or v) from x_t and t with a mean squared error.")
    model: str | None = Field(None, description="The denoiser, by name, in a spec with "
                              "`models:`; default: the spec's (first) model.")
    sample: str | None = Field(None, description="The denoiser's input fed the noisy sample "
                               "x_t (the data's shape); default: its input that is not the "
                               "timestep.")
    timestep: str | None = Field(None, description="The denoiser's input fed the step t, "
                                 "0 .. steps-1, one int64 per sample (shape [1]); default: "
                                 "its int64 input.")
    output: str | None = Field(None, description="The denoiser's output that is the "
                               "prediction, of the sample's shape; default: its one output.")
    steps: int = Field(1000, ge=2, strict=True, description="T, the number of noise steps.")
    schedule: Literal["linear", "cosine"] = Field(
        "linear", description="linear: beta from beta_start to beta_end (Ho et al.; both "
        "scaled by 1000 / steps); cosine: alpha_bar = cos^2 of the step's fraction (Nichol & "
        "Dhariwal 2021, s = 0.008, betas clipped at 0.999).")
    beta_start: float = Field(1e-4, gt=0.0, lt=1.0, description="The linear schedule's "
                              "first beta at 1000 steps.")
    beta_end: float = Field(0.02, gt=0.0, lt=1.0, description="The linear schedule's last "
                            "beta at 1000 steps.")
    prediction: Literal["epsilon", "v"] = Field(
        "epsilon", description="What the denoiser predicts: epsilon, the noise; or v = "
        "sqrt(a_t) eps - sqrt(1 - a_t) x_0 (Salimans & Ho 2022).")
    weighting: Literal["none", "min_snr"] = Field(
        "none", description="Each sample's weight in the loss: none; or min_snr, min(SNR_t, "
        "snr_gamma) / SNR_t for epsilon and / (SNR_t + 1) for v (Hang et al. 2023), with "
        "SNR_t = a_t / (1 - a_t).")
    snr_gamma: PositiveFloat = Field(5.0, description="gamma of the min_snr weighting.")
    clip: bool = Field(True, strict=True, description="Samplers clip the predicted x_0 to "
                       "the data's range, when data.rescale gives one.")
    ema: float | None = Field(None, gt=0.0, lt=1.0, description="Keep an exponential "
                              "moving average of the denoiser's weights with this decay (e.g. "
                              "0.999), the copy evaluated and sampled from; needs the denoiser under `models:`, "
                              "named by `model`.")

    @model_validator(mode="after")
    def _rising(self) -> DiffusionConfig:
        if self.beta_start >= self.beta_end:
            raise ValueError(f"beta_start {self.beta_start} must be below beta_end "
                             f"{self.beta_end}")
        return self


@dataclass(frozen=True)
class Denoiser:
    """The denoiser's name and the roles of its inputs."""

    model: str
    sample: str
    timestep: str


def denoiser_of(config: DiffusionConfig, spec: Any) -> Denoiser:
    """The denoiser and its sample and timestep inputs (RoleError at the config's key when
    the spec lacks them)."""
    name = model_role(config, "model", spec) if config.model else spec.sections()[0].name
    inputs = next(s.inputs for s in spec.sections() if s.name == name)
    listed = ", ".join(inputs)
    for key in ("timestep", "sample"):
        given = getattr(config, key)
        if given is not None and given not in inputs:
            raise RoleError(f"diffusion objective: `{key}` names the input '{given}', but "
                            f"model '{name}' has no input of that name (its inputs: {listed})",
                            key, hint=suggest(given, list(inputs)))
    if len(inputs) != 2:
        raise RoleError(f"diffusion objective: the denoiser '{name}' has {len(inputs)} "
                        f"input(s) ({listed}); it needs two: the noisy sample x_t and the "
                        "timestep t", "model",
                        hint="declare e.g. `inputs: {image: {shape: [1, 8, 8]}, t: {shape: "
                             "[1], dtype: int64}}`")
    timestep = config.timestep
    if timestep is None:
        ints = [n for n, i in inputs.items() if i.dtype == "int64" and n != config.sample]
        if len(ints) != 1:
            raise RoleError(f"diffusion objective: model '{name}' has {len(ints)} int64 "
                            f"inputs ({listed}), so which one takes the timestep is unclear",
                            "timestep", hint="name it with `timestep:` and " + TIMESTEP_HINT)
        timestep = ints[0]
    sample = config.sample or next(n for n in inputs if n != timestep)
    if sample == timestep:
        raise RoleError(f"diffusion objective: `sample` and `timestep` both name '{sample}'",
                        "sample", hint="the sample and the timestep are two inputs")
    return Denoiser(name, sample, timestep)


def _input_key(spec: Any, model: str, name: str) -> tuple:
    return next(s for s in spec.sections() if s.name == model).at("inputs", name)


def diffusion_problems(config: DiffusionConfig, spec: Any, graphs: dict[str, Any]
                       ) -> list[tuple[tuple, Diagnostic]]:
    """What keeps the denoiser from training: a timestep that is not one int64 per sample, a
    sample that is not float, an output missing or not of the sample's shape, an EMA of a
    model outside `models:` (each with the spec key it is at)."""
    roles = denoiser_of(config, spec)
    graph = graphs[roles.model]
    problems = []
    t = graph.node(roles.timestep).type
    if t.dtype != "int64" or tuple(t.sample_shape) != (1,):
        problems.append((_input_key(spec, roles.model, roles.timestep), Diagnostic(
            "DLS402", f"the timestep input '{roles.timestep}' is {t.dtype} {t}, but the "
            "diffusion objective feeds it one int64 step per sample, (N, 1)",
            hint=TIMESTEP_HINT)))
    x = graph.node(roles.sample).type
    if x.dtype != "float32":
        problems.append((_input_key(spec, roles.model, roles.sample), Diagnostic(
            "DLS402", f"the sample input '{roles.sample}' is {x.dtype}, but it is fed noisy "
            "float samples x_t", hint="give it `dtype: float32` (the default)")))
    outputs = list(graph.outputs)
    output = config.output or (outputs[0] if len(outputs) == 1 else None)
    if output is None:
        problems.append((("objective",), Diagnostic(
            "DLS402", f"the denoiser '{roles.model}' has {len(outputs)} outputs "
            f"({', '.join(outputs)}); which one is the prediction is unclear",
            hint="name it with `output:`")))
    elif output not in outputs:
        problems.append((("objective", "output"), Diagnostic(
            "DLS305", f"objective.output: '{output}' is not an output of model "
                      f"'{roles.model}': {suggest(output, outputs)}",
            hint="list the layer under the model's `outputs:`")))
    elif graph.node(output).type.sample_shape != x.sample_shape:
        y = graph.node(output).type
        what = "the noise" if config.prediction == "epsilon" else "v"
        problems.append((("objective", "output") if config.output else ("objective",),
                         Diagnostic(
            "DLS402", f"the denoiser's output '{output}' {y} predicts {what} in a sample "
            f"{x} (the input '{roles.sample}'), so it must have the sample's shape",
            hint=f"end the model in a layer of shape {x}")))
    if config.ema is not None and (spec.models is None or config.model is None):
        problems.append((("objective", "ema"), Diagnostic(
            "DLS402", "objective.ema keeps an average copy of the denoiser beside it, which "
                      "needs the denoiser under `models:`, named by objective.model",
            hint="put the denoiser under `models:` (e.g. `models: {denoiser: {inputs: ..., "
                 "layers: ...}}`) and set `model: denoiser`; or remove `ema`")))
    return problems


# --- the run -----------------------------------------------------------------------------

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
    def graph_problems(cls, config: ObjectiveConfig, checked: Any) -> list[tuple[tuple, Any]]:
        return diffusion_problems(config, checked.spec, checked.graphs)

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
