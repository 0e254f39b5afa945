"""Noise schedules of diffusion models, in numpy (torch-free): how much noise each of T steps
adds, beta_t, and what is left of the signal after t steps, alpha_bar_t = prod_{s<=t}(1 - beta_s).

Index i = 0 .. T-1 is the paper's step t = i + 1. A noisy sample at index i is
x_i = sqrt(alpha_bar_i) x_0 + sqrt(1 - alpha_bar_i) eps.

- linear (Ho et al. 2020): beta rises linearly from beta_start to beta_end (1e-4 to 0.02 at
  T = 1000). For another T both ends are scaled by 1000 / T (Nichol & Dhariwal 2021), so the
  chain destroys the signal as much with fewer, larger steps; betas are capped at 0.999.
- cosine (Nichol & Dhariwal 2021): alpha_bar(t) = f(t) / f(0), f(t) = cos((t/T + s) / (1 + s)
  * pi / 2)^2 with s = 0.008; beta_t = 1 - alpha_bar(t) / alpha_bar(t - 1), clipped at 0.999
  (the last steps' would near 1), and alpha_bar recomputed from the clipped betas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

ScheduleName = Literal["linear", "cosine"]
SCHEDULES = ("linear", "cosine")
MAX_BETA = 0.999
COSINE_OFFSET = 0.008  # s: keeps beta_1 from being too small near t = 0
REFERENCE_STEPS = 1000  # the T at which the linear schedule's ends are beta_start, beta_end


@dataclass(frozen=True)
class NoiseSchedule:
    """The betas of T steps (float64) and what follows from them."""

    betas: np.ndarray

    @property
    def steps(self) -> int:
        return len(self.betas)

    @property
    def alphas_cumprod(self) -> np.ndarray:
        """alpha_bar_i = prod_{j <= i} (1 - beta_j)."""
        return np.cumprod(1.0 - self.betas)

    @property
    def snr(self) -> np.ndarray:
        """The signal-to-noise ratio of each step, alpha_bar / (1 - alpha_bar)."""
        alphas = self.alphas_cumprod
        return alphas / (1.0 - alphas)


def linear_betas(steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """Ho et al.'s linear betas, both ends scaled by 1000 / steps, capped at 0.999."""
    scale = REFERENCE_STEPS / steps
    betas = np.linspace(scale * beta_start, scale * beta_end, steps, dtype=np.float64)
    return np.minimum(betas, MAX_BETA)


def cosine_alpha_bar(t: np.ndarray | float, steps: int, s: float = COSINE_OFFSET):
    """Nichol & Dhariwal's alpha_bar(t) = f(t) / f(0), f(t) = cos((t/T + s)/(1 + s) pi/2)^2."""
    def f(u):
        return np.cos((np.asarray(u, dtype=np.float64) / steps + s) / (1 + s) * math.pi / 2) ** 2
    return f(t) / f(0)


def cosine_betas(steps: int, s: float = COSINE_OFFSET) -> np.ndarray:
    """beta_t = 1 - alpha_bar(t) / alpha_bar(t - 1) for t = 1 .. T, clipped at 0.999."""
    t = np.arange(1, steps + 1, dtype=np.float64)
    betas = 1.0 - cosine_alpha_bar(t, steps, s) / cosine_alpha_bar(t - 1, steps, s)
    return np.clip(betas, 0.0, MAX_BETA)


def noise_schedule(name: ScheduleName, steps: int, *, beta_start: float = 1e-4,
                   beta_end: float = 0.02) -> NoiseSchedule:
    """The schedule `name` over `steps` steps (beta_start/end: the linear schedule's ends at
    T = 1000)."""
    if steps < 1:
        raise ValueError(f"a noise schedule needs at least one step, got {steps}")
    if name == "linear":
        return NoiseSchedule(linear_betas(steps, beta_start, beta_end))
    if name == "cosine":
        return NoiseSchedule(cosine_betas(steps))
    raise ValueError(f"unknown noise schedule '{name}' (known: {', '.join(SCHEDULES)})")


def schedule_of(info: dict) -> NoiseSchedule:
    """The noise schedule a diffusion generation record (diffusion_info) describes."""
    return noise_schedule(info["schedule"], int(info["steps"]),
                          beta_start=float(info.get("beta_start", 1e-4)),
                          beta_end=float(info.get("beta_end", 0.02)))
