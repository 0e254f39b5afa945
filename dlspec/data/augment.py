"""Training-batch augmentation with torch ops on the batch's device (`data.augment`).

Each function takes the random draws it applies, so what it does is exact and testable;
`Augmenter` draws them per sample from the run's seeded torch generator, so a run stays
reproducible. Only training batches pass through it, never validation or test.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dlspec.data.augment_config import AugmentConfig, mixup_problem
from dlspec.data.tasks import PAD_TOKEN, Task
from dlspec.errors import Diagnostic, TrainError


def _per_sample(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(N,) values shaped to broadcast over the samples of `x`."""
    return values.reshape(-1, *[1] * (x.ndim - 1)).to(x.dtype)


def flip(x: torch.Tensor, chosen: torch.Tensor, dim: int) -> torch.Tensor:
    """The samples where `chosen` (N,) is true, mirrored along `dim` (-1: left-right)."""
    return torch.where(chosen.reshape(-1, *[1] * (x.ndim - 1)), x.flip(dim), x)


def crop(x: torch.Tensor, padding: int, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Pad (N, C, H, W) with `padding` zeros per side and cut the H x W window whose corner is
    at (dy, dx) in 0..2*padding: sample i shifted by (padding - dy_i, padding - dx_i)."""
    n, c, h, w = x.shape
    padded = F.pad(x, (padding,) * 4)
    rows = (dy.reshape(-1, 1) + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx.reshape(-1, 1) + torch.arange(w, device=x.device))[:, None, None, :]
    samples = torch.arange(n, device=x.device)[:, None, None, None]
    channels = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[samples, channels, rows, cols]


def rotate(x: torch.Tensor, radians: torch.Tensor) -> torch.Tensor:
    """Each sample of (N, C, H, W) rotated by its angle about the image centre
    (counter-clockwise as displayed, rows downwards), bilinear, zeros outside."""
    _, _, h, w = x.shape
    cos, sin = torch.cos(radians), torch.sin(radians)
    zero = torch.zeros_like(cos)
    # The output pixel at p samples the input at R(-angle) p, in pixel units; affine_grid
    # works in [-1, 1] per axis, hence the h/w factors (exact for non-square images).
    theta = torch.stack([torch.stack([cos, -sin * h / w, zero], -1),
                         torch.stack([sin * w / h, cos, zero], -1)], 1).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def brightness(x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Sample i plus offsets[i] everywhere."""
    return x + _per_sample(offsets, x)


def contrast(x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Sample i's deviations from its own mean scaled by factors[i]."""
    mean = x.mean(dim=tuple(range(1, x.ndim)), keepdim=True)
    return mean + (x - mean) * _per_sample(factors, x)


def mask_tokens(ids: torch.Tensor, chosen: torch.Tensor, mask_token: int) -> torch.Tensor:
    """Token ids with the `chosen` positions (same shape) set to `mask_token`; padding
    (PAD_TOKEN) stays padding."""
    return torch.where(chosen & (ids != PAD_TOKEN), torch.full_like(ids, mask_token), ids)


def mixup(x: torch.Tensor, y: torch.Tensor, weight: float, order: torch.Tensor,
          num_classes: int, task: Task) -> tuple[torch.Tensor, torch.Tensor]:
    """weight * batch + (1 - weight) * batch[order], for inputs and targets; class indices
    become one-hot probabilities first (cross-entropy takes them as soft targets)."""
    if task == "classification":
        y = F.one_hot(y, num_classes).to(x.dtype)
    return (weight * x + (1 - weight) * x[order],
            weight * y + (1 - weight) * y[order])


class Augmenter:
    """Applies a `data.augment` config to training batches: `x, y = augmenter(x, y)`.

    Per sample it draws flips (with their probability), crop offsets and rotation angles,
    brightness offsets and contrast factors (uniform), gaussian noise and token masks, and
    per batch a mixup weight from Beta(alpha, alpha) and a pairing. It draws from torch's
    generator on the batch's device, which the run seeds (train.seed) and a resumed run
    restores, like dropout's.
    """

    def __init__(self, config: AugmentConfig, task: Task, num_classes: int):
        self.config, self.task, self.num_classes = config, task, num_classes

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        n, device = len(x), x.device
        if c.hflip:
            x = flip(x, torch.rand(n, device=device) < c.hflip, -1)
        if c.vflip:
            x = flip(x, torch.rand(n, device=device) < c.vflip, -2)
        if c.crop_padding:
            dy, dx = torch.randint(2 * c.crop_padding + 1, (2, n), device=device)
            x = crop(x, c.crop_padding, dy, dx)
        if c.rotate:
            x = rotate(x, (2 * torch.rand(n, device=device) - 1) * math.radians(c.rotate))
        if c.brightness:
            x = brightness(x, (2 * torch.rand(n, device=device) - 1) * c.brightness)
        if c.contrast:
            x = contrast(x, 1 + (2 * torch.rand(n, device=device) - 1) * c.contrast)
        if c.noise:
            x = x + c.noise * torch.randn_like(x)
        if c.mask:
            x = mask_tokens(x, torch.rand(x.shape, device=device) < c.mask, c.mask_token)
        if c.mixup:
            weight = float(torch.distributions.Beta(c.mixup, c.mixup).sample())
            x, y = mixup(x, y, weight, torch.randperm(n, device=device), self.num_classes,
                         self.task)
        return x, y


def make_augmenter(config: AugmentConfig | None, task: Task, num_classes: int,
                   loss_ops: tuple[str, ...] = ()) -> Augmenter | None:
    """The run's augmenter, or None when nothing is to be augmented. Raises TrainError
    DLS402 when mixup cannot train with the losses comparing with the targets (`loss_ops`)."""
    if config is None or not config.active():
        return None
    problem = mixup_problem(config, task, loss_ops)
    if problem:
        raise TrainError(Diagnostic("DLS402", f"data.augment.mixup: {problem}",
                                    hint="use cross_entropy, or remove data.augment.mixup"))
    return Augmenter(config, task, num_classes)
