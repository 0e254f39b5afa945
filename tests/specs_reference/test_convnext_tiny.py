"""specs/convnext_tiny.yaml is torchvision's convnext_tiny: with the reference's random
weights mapped by the shipped mapping (dlspec/weights/mappings/convnext_tiny.yaml), the
outputs agree within 1e-5, and the parameter counts are equal. By default on a narrow
variant (width 24 on 64 x 64 images: torchvision's ConvNeXt built alike); the full-size model
in the slow run. Layer scales are drawn N(0, 1): at torchvision's 1e-6 every block would be
nearly the identity and a wrong block would go unseen."""

from __future__ import annotations

import pytest
import torch
from reference_models import torchvision_models
from vision_agreement import agreement


def reference(width: int = 96):
    models = torchvision_models()
    from torchvision.models.convnext import CNBlockConfig

    torch.manual_seed(0)
    stages = [CNBlockConfig(width, 2 * width, 3), CNBlockConfig(2 * width, 4 * width, 3),
              CNBlockConfig(4 * width, 8 * width, 9), CNBlockConfig(8 * width, None, 3)]
    model = models.ConvNeXt(stages, stochastic_depth_prob=0.1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("layer_scale"):
                parameter.normal_()
    return model


def test_narrow_convnext_agrees_with_torchvision(tmp_path):
    diff, scale, ours, theirs = agreement(
        "convnext_tiny", reference(24), ["width=24", "inputs.image={shape: [3, 64, 64]}"], 64,
        tmp_path)
    assert ours == theirs
    assert scale > 0.1
    assert diff <= 1e-5


@pytest.mark.slow
def test_convnext_tiny_agrees_with_torchvision(tmp_path):
    models = torchvision_models()
    torch.manual_seed(0)
    full = sum(p.numel() for p in models.convnext_tiny().parameters())
    diff, _, ours, theirs = agreement("convnext_tiny", reference(), [], 224, tmp_path, batch=1)
    assert ours == theirs == full == 28_589_128
    assert diff <= 1e-5
