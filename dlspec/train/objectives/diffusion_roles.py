"""The static side of the diffusion objective (torch-free, for `dlspec validate`): its config,
which model is the denoiser and which of its inputs takes the noisy sample x_t and which the
timestep t, and what keeps a spec from training it (located at the spec key that says so)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from dlspec.errors import Diagnostic, suggest
from dlspec.train.config_base import PositiveFloat
from dlspec.train.objectives.base import ObjectiveConfig, RoleError, model_role

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
