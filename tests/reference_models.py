"""Reference implementations the spec tests compare against: torchvision's model code and
Hugging Face transformers, always built with random weights (nothing is downloaded).

torchvision's wheel on PyPI is built for CUDA; its pure-Python model definitions work on a
CPU build of torch once the two modules that register compiled kernels are stubbed out. Install
it without dependencies so that pip keeps your torch: `pip install --no-deps torchvision==V`,
with V the release that matches your torch (0.28.0 for torch 2.13.0). CI does.
"""

from __future__ import annotations

import sys
import types

import pytest

_KERNEL_MODULES = ("torchvision._meta_registrations", "torchvision._autograd_registrations")


def torchvision_models():
    """`torchvision.models`, or a skip that says how to install it."""
    for name in _KERNEL_MODULES:
        sys.modules.setdefault(name, types.ModuleType(name))
    try:
        import torchvision.models as models
    except ImportError as error:  # pragma: no cover - depends on the environment
        pytest.skip(f"torchvision's model code is not importable ({error}); "
                    "pip install --no-deps torchvision==<the release matching your torch>")
    return models


def transformers_module():
    """`transformers`, or a skip that says how to install it."""
    return pytest.importorskip("transformers", reason="pip install -e '.[dev]' installs it")
