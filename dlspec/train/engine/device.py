"""Which device to train on."""

from __future__ import annotations

import torch

from dlspec.errors import Diagnostic, TrainError


def resolve_device(requested: str) -> str:
    """'cuda' or 'cpu' for a spec's `train.device` ('auto', 'cpu' or 'cuda').

    'auto' picks CUDA when a GPU is available. Asking for 'cuda' without one is a TrainError.
    """
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise TrainError(Diagnostic(
            "DLS403", "train.device is 'cuda' but PyTorch sees no CUDA GPU",
            hint="use device: auto (or --set train.device=cpu), or install a CUDA build "
                 "of PyTorch on a machine with an NVIDIA GPU"))
    if requested not in ("cpu", "cuda"):
        raise TrainError(Diagnostic("DLS102", f"unknown device '{requested}'",
                                    hint="use auto, cpu or cuda"))
    return requested
