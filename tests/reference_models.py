"""Reference implementations the spec tests compare against: torchvision's model code and
Hugging Face transformers, always built with random weights (nothing is downloaded).

torchvision's wheel on PyPI is built for CUDA; its pure-Python model definitions work on a
CPU build of torch once the two modules that register compiled kernels are stubbed out. Where
torchvision is not installed, the tests look for its unpacked wheel in the folder that
$DLSPEC_TORCHVISION names (CI unpacks it there: installing a CUDA torchvision next to a CPU
torch would break torchmetrics, which imports torchvision when it finds it).
"""

from __future__ import annotations

import os
import sys
import types

import pytest

_KERNEL_MODULES = ("torchvision._meta_registrations", "torchvision._autograd_registrations")


def torchvision_models():
    """`torchvision.models`, or a skip that says how to install it."""
    unpacked = os.environ.get("DLSPEC_TORCHVISION")
    added = bool(unpacked) and unpacked not in sys.path
    if added:
        sys.path.append(unpacked)
    for name in _KERNEL_MODULES:
        sys.modules.setdefault(name, types.ModuleType(name))
    try:
        import torchvision.models as models
    except ImportError as error:  # pragma: no cover - depends on the environment
        pytest.skip(f"torchvision's model code is not importable ({error}); "
                    "unpack the torchvision wheel matching your torch into a folder and set "
                    "DLSPEC_TORCHVISION to it (see README)")
    finally:
        # The folder leaves sys.path once imported (its submodules load through the package's
        # own path): processes spawned later inherit sys.path but not the stubs, and
        # torchmetrics there would import the unstubbed torchvision and fail.
        if added:
            sys.path.remove(unpacked)
    return models


def transformers_module():
    """`transformers`, or a skip that says how to install it."""
    return pytest.importorskip("transformers", reason="pip install -e '.[dev]' installs it")
