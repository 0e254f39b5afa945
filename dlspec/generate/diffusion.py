"""Sampling a diffusion model: its generation record, and the DDPM and DDIM samplers over a
`Network` (numpy; the noise only from the `np.random.Generator` passed in, so that a run and
its ONNX file give the same samples).

Both samplers walk a decreasing sequence of K of the T training steps, tau_K > .. > tau_1,
evenly spaced from T-1 to 0 (K = T: every step), from x ~ N(0, I). At each step the denoiser's
output gives the predicted clean sample x_0 and noise eps:

- epsilon prediction: x_0 = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t);
- v prediction: x_0 = sqrt(a_t) x_t - sqrt(1 - a_t) v, eps = sqrt(1 - a_t) x_t + sqrt(a_t) v.

With `clip` in the record (data.rescale gave the data's range), x_0 is clipped to that range
and eps recomputed from it, eps = (x_t - sqrt(a_t) x_0) / sqrt(1 - a_t) (as guided-diffusion
does). Then, with a' = alpha_bar of the next step (1 after the last):

- ddim (Song et al. 2020): x' = sqrt(a') x_0 + sqrt(1 - a' - s^2) eps + s z, with
  s = eta sqrt((1 - a') / (1 - a_t)) sqrt(1 - a_t / a'); eta = 0 is deterministic given the
  initial noise, eta = 1 is DDPM's variance;
- ddpm (Ho et al. 2020, ancestral): the posterior q(x' | x_t, x_0) of the chain respaced to
  the K steps (Nichol & Dhariwal 2021: beta_t = 1 - a_t / a'), mean
  sqrt(a') beta_t / (1 - a_t) x_0 + sqrt(1 - beta_t) (1 - a') / (1 - a_t) x_t, variance
  beta-tilde = (1 - a') / (1 - a_t) beta_t; with K = T that is the paper's sampler.

z ~ N(0, I) is drawn at every step but the last (none for DDIM with eta = 0). Steps:
default T for ddpm, 50 (or T if fewer) for ddim; more than T or fewer than 1 is refused
(GenerateError DLS601).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlspec.errors import Diagnostic, GenerateError
from dlspec.generate.network import Network
from dlspec.train.objectives.diffusion import DiffusionConfig, denoiser_of

SAMPLERS = ("ddim", "ddpm")
DDIM_STEPS = 50


def diffusion_info(config: DiffusionConfig, spec: Any) -> dict:
    """What the samplers need to know of a spec trained with the diffusion objective, as a
    JSON-able dict (torch-free): the denoiser ("model"), its "sample" and "timestep" inputs,
    its "output" (None: its one output), the schedule ("steps", "schedule", "beta_start",
    "beta_end"), the "prediction", and "clip": the data's [low, high] (data.rescale) that
    predicted samples are clipped to, or None."""
    roles = denoiser_of(config, spec)
    section = next(s for s in spec.sections() if s.name == roles.model)
    output = config.output or (section.outputs[0] if section.outputs else None)
    rescale = spec.data.rescale if spec.data is not None else None
    return {"kind": "diffusion", "model": roles.model, "sample": roles.sample,
            "timestep": roles.timestep, "output": output, "steps": config.steps,
            "schedule": config.schedule, "beta_start": config.beta_start,
            "beta_end": config.beta_end, "prediction": config.prediction,
            "clip": list(rescale) if config.clip and rescale else None}


def timesteps(total: int, steps: int) -> np.ndarray:
    """The K = `steps` training steps a sampler visits, decreasing from T-1 to 0."""
    return np.unique(np.round(np.linspace(0, total - 1, steps)).astype(np.int64))[::-1]


def predicted_x0_eps(info: Mapping[str, Any], out: np.ndarray, x: np.ndarray,
                     alpha_bar: float) -> tuple[np.ndarray, np.ndarray]:
    """(x_0, eps) from the denoiser's output at a step of alpha_bar, x_0 clipped to the
    record's range (eps then recomputed from it)."""
    a, b = np.sqrt(alpha_bar), np.sqrt(1.0 - alpha_bar)
    if info["prediction"] == "v":
        x0, eps = a * x - b * out, b * x + a * out
    else:
        x0, eps = (x - b * out) / a, out
    if info.get("clip"):
        low, high = info["clip"]
        x0 = np.clip(x0, low, high)
        eps = (x - a * x0) / b
    return x0, eps


def ddim_step(x0: np.ndarray, eps: np.ndarray, alpha_bar: float, alpha_prev: float,
              eta: float, noise: np.ndarray | None) -> np.ndarray:
    """Song et al.'s update from a step of alpha_bar to one of alpha_prev."""
    sigma = eta * np.sqrt((1 - alpha_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_prev))
    x = np.sqrt(alpha_prev) * x0 + np.sqrt(max(1 - alpha_prev - sigma ** 2, 0.0)) * eps
    return x if noise is None else x + sigma * noise


def posterior(x0: np.ndarray, x: np.ndarray, alpha_bar: float, alpha_prev: float
              ) -> tuple[np.ndarray, float]:
    """The mean and variance (beta-tilde) of q(x' | x_t, x_0) for a chain step from
    alpha_bar to alpha_prev (beta = 1 - alpha_bar / alpha_prev)."""
    beta = 1 - alpha_bar / alpha_prev
    mean = (np.sqrt(alpha_prev) * beta / (1 - alpha_bar) * x0
            + np.sqrt(1 - beta) * (1 - alpha_prev) / (1 - alpha_bar) * x)
    return mean, (1 - alpha_prev) / (1 - alpha_bar) * beta


def checked_steps(info: Mapping[str, Any], sampler: str, steps: int | None, eta: float) -> int:
    """The number of steps to sample in (GenerateError DLS601 for a bad request)."""
    total = int(info["steps"])
    if sampler not in SAMPLERS:
        raise GenerateError(Diagnostic("DLS601", f"unknown sampler '{sampler}'",
                                       hint=f"use one of {', '.join(SAMPLERS)}"))
    if eta < 0:
        raise GenerateError(Diagnostic("DLS601", f"eta {eta} is negative",
                                       hint="eta is 0 (deterministic DDIM) to 1 (DDPM)"))
    if steps is None:
        return total if sampler == "ddpm" else min(DDIM_STEPS, total)
    if not 1 <= steps <= total:
        raise GenerateError(Diagnostic(
            "DLS601", f"--steps {steps}: the model was trained on {total} noise steps, so a "
            f"sampler can take 1 to {total} of them", hint=f"give --steps between 1 and {total}"))
    return steps


def sample_diffusion(network: Network, info: Mapping[str, Any], n: int,
                     rng: np.random.Generator, *, sampler: str = "ddim",
                     steps: int | None = None, eta: float = 0.0,
                     batch_size: int = 256) -> np.ndarray:
    """n samples (n, *sample shape), float32 in model space, drawn with `sampler` in
    `steps` steps (see the module docstring), in batches of `batch_size`."""
    from dlspec.generate.noise_schedule import schedule_of

    k = checked_steps(info, sampler, steps, eta)
    alphas = schedule_of(info).alphas_cumprod
    shape, _ = network.inputs[info["sample"]]
    t_shape, _ = network.inputs[info["timestep"]]
    if any(not isinstance(d, int) for d in (*shape, *t_shape)):
        raise GenerateError(Diagnostic("DLS601", f"the sample input '{info['sample']}' has "
                                       f"no fixed shape ({shape}) to draw noise of"))
    visited = timesteps(int(info["steps"]), k)
    chunks = []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        x = rng.standard_normal((m, *shape))
        for i, t in enumerate(visited):
            last = i == len(visited) - 1
            alpha_bar, alpha_prev = alphas[t], 1.0 if last else alphas[visited[i + 1]]
            feeds = {info["sample"]: x.astype(np.float32),
                     info["timestep"]: np.full((m, *t_shape), t, dtype=np.int64)}
            out = network.output(feeds, info.get("output")).astype(np.float64)
            x0, eps = predicted_x0_eps(info, out, x, alpha_bar)
            drawn = not last and (sampler == "ddpm" or eta > 0)
            noise = rng.standard_normal(x.shape) if drawn else None
            if sampler == "ddim":
                x = ddim_step(x0, eps, alpha_bar, alpha_prev, eta, noise)
            else:
                mean, variance = posterior(x0, x, alpha_bar, alpha_prev)
                x = mean if noise is None else mean + np.sqrt(variance) * noise
        chunks.append(x.astype(np.float32))
    return np.concatenate(chunks) if chunks else np.zeros((0, *shape), np.float32)
