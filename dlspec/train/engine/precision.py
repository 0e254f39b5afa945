"""Mixed precision: autocast for the forward pass, and loss scaling for fp16."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from dlspec.errors import Diagnostic, TrainError

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """How a step computes: fp32; bf16 autocast (CPU or CUDA); fp16 autocast with a
    `torch.amp.GradScaler` (CUDA only).

    The forward pass and the loss run under `autocast()`; `backward` scales the loss for
    fp16, `unscale` brings the gradients back to their true values (before clipping and
    norms), `step` lets the scaler skip an update whose gradients overflowed and `update`
    adapts the scale.
    """

    def __init__(self, mode: str, device: str):
        self.mode = mode
        self.device_type = torch.device(device).type
        check_precision(mode, self.device_type)
        self.scaler = torch.amp.GradScaler(self.device_type) if mode == "fp16" else None

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context of the forward pass."""
        if self.mode == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=DTYPES[self.mode])

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)

    def update(self) -> None:
        if self.scaler is not None:
            self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        """The loss scaler's state ({} without one), for a resume checkpoint."""
        return {} if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


def check_precision(mode: str, device_type: str) -> None:
    """TrainError DLS102 when `mode` cannot run on the device."""
    if mode == "fp16" and device_type != "cuda":
        raise TrainError(Diagnostic(
            "DLS102", f"train.precision fp16 needs a CUDA GPU, but training runs on "
                      f"{device_type}",
            hint="use precision: bf16 on a CPU (or fp32), or train on a CUDA GPU"))
    if mode == "bf16" and device_type == "cuda" and not torch.cuda.is_bf16_supported():
        raise TrainError(Diagnostic(
            "DLS102", "train.precision bf16 is not supported by this GPU",
            hint="use precision: fp16 (with loss scaling) or fp32"))
