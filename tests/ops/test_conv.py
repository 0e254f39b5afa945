"""The convolutions beyond the op table: config mistakes refused with a message, symbolic sizes
written as readable expressions, and parameter counts of canonical layers (torchvision's)."""

from __future__ import annotations

import pytest
import torch
from harness import T
from pydantic import ValidationError

from dlspec.backends.torch_module import instantiate
from dlspec.ops.conv import Conv1d, Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d


@pytest.mark.parametrize(("cls", "config", "message"), [
    (Conv2d, {"kernel_size": [3, 3, 3]}, "kernel_size has 3 entries but conv2d works on 2"),
    (Conv1d, {"kernel_size": 3, "stride": [1, 2]}, "stride has 2 entries but conv1d works on 1"),
    (Conv3d, {"kernel_size": 3, "padding": [1, 1]}, "padding has 2 entries"),
    (Conv3d, {"kernel_size": 3, "padding": "same", "stride": [1, 1, 2]}, "needs stride 1"),
    (Conv1d, {"kernel_size": 3, "groups": 3}, "out_channels=4 is not divisible by groups=3"),
    (ConvTranspose2d, {"kernel_size": 3, "stride": 2, "output_padding": 2},
     "output_padding 2 must be smaller than the stride 2 or the dilation 1"),
    (ConvTranspose2d, {"kernel_size": 3, "padding": "same"}, "padding"),
])
def test_config_mistakes_are_refused(cls, config, message):
    with pytest.raises(ValidationError, match=message):
        cls(out_channels=4, **config)


def test_symbolic_sizes_read_as_the_formula():
    same = Conv2d(out_channels=8, kernel_size=3, padding=1).infer(T("N", 3, "H", "W"))
    assert same.shape == ("N", 8, "H", "W")  # so a residual add sees the same H and W
    assert Conv1d(out_channels=2, kernel_size=3).infer(T("N", 3, "L")).shape == ("N", 2, "L-2")
    down = Conv2d(out_channels=8, kernel_size=3, stride=2, padding=1).infer(T("N", 3, "H", 64))
    assert down.shape == ("N", 8, "(H-1)//2+1", 32)
    # (L-1)*2 - 2*1 + 1*(4-1) + 0 + 1 = 2L: a DCGAN generator doubles the size exactly
    up = ConvTranspose3d(out_channels=2, kernel_size=4, stride=2, padding=1)
    assert up.infer(T("N", 4, "L", "H", 5)).shape == ("N", 2, "2*L", "2*H", 10)
    assert ConvTranspose2d(out_channels=1, kernel_size=3).infer(T("N", 1, "H", "W")).shape == \
        ("N", 1, "H+2", "W+2")


@pytest.mark.parametrize(("op", "channels", "params"), [
    # resnet18.conv1; alexnet.features[0] and [3]; vgg16's 3x3 512->512; mobilenet_v2's
    # depthwise 3x3 over 144 channels; googlenet's 1x1 reduce (all as in torchvision)
    (Conv2d(out_channels=64, kernel_size=7, stride=2, padding=3, bias=False), 3, 9408),
    (Conv2d(out_channels=64, kernel_size=11, stride=4, padding=2), 3, 23296),
    (Conv2d(out_channels=192, kernel_size=5, padding=2), 64, 307392),
    (Conv2d(out_channels=512, kernel_size=3, padding=1), 512, 2359808),
    (Conv2d(out_channels=144, kernel_size=3, padding=1, groups=144, bias=False), 144, 1296),
    (Conv2d(out_channels=64, kernel_size=1, bias=False), 192, 12288),
])
def test_canonical_layer_parameter_counts(op, channels, params):
    x = T("N", channels, 56, 56)
    assert op.param_count(x) == params
    assert sum(p.numel() for p in instantiate(op.build(x)).parameters()) == params


def test_transposed_convolution_inverts_the_strided_convolutions_shape():
    """A stride-2 conv maps 9 and 10 to 5; output_padding picks which one the transposed
    conv gives back, and torch agrees."""
    for size, extra in [(9, 0), (10, 1)]:
        assert Conv1d(out_channels=1, kernel_size=3, stride=2, padding=1).infer(
            T("N", 1, size)).shape[2] == 5
        op = ConvTranspose2d(out_channels=1, kernel_size=3, stride=2, padding=1,
                             output_padding=extra)
        assert op.infer(T("N", 1, 5, 5)).shape[2:] == (size, size)
        module = instantiate(op.build(T("N", 1, 5, 5)))
        assert module(torch.zeros(1, 1, 5, 5)).shape[2:] == (size, size)
