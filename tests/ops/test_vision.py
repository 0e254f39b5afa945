"""The vision ops' maths: squeeze-and-excitation is torchvision's block (formula, parameter
names and shapes), the patch embedding cuts patches row by row as ViT does, the class token is
prepended, pixel shuffle and upsampling place values where their formulas say, and every
upsampling mode exports to ONNX."""

from __future__ import annotations

import pytest
import torch
from harness import T
from pydantic import ValidationError
from torch.nn import functional

from dlspec.backends.onnx_export import TensorInfo, export_onnx
from dlspec.backends.torch_module import instantiate
from dlspec.ops.vision import ClassToken, PatchEmbedding, PixelShuffle, SqueezeExcitation, Upsample


def _module(op, x: torch.Tensor):
    return instantiate(op.build(T("N", *x.shape[1:])))


@pytest.mark.parametrize(("activation", "gate"), [("relu", "sigmoid"), ("silu", "hardsigmoid")])
def test_squeeze_excitation_is_torchvisions_block(activation, gate):
    x = torch.randn(2, 24, 5, 7)
    op = SqueezeExcitation(squeeze_channels=6, activation=activation, gate=gate)
    module = _module(op, x)
    state = module.state_dict()
    # torchvision.ops.SqueezeExcitation(24, 6): fc1 = Conv2d(24, 6, 1), fc2 = Conv2d(6, 24, 1)
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        "fc1.weight": (6, 24, 1, 1), "fc1.bias": (6,), "fc2.weight": (24, 6, 1, 1),
        "fc2.bias": (24,)}
    assert op.param_count(T("N", 24, 5, 7)) == 24 * 6 + 6 + 6 * 24 + 24
    squeezed = x.mean((2, 3))
    hidden = getattr(functional, activation)(squeezed @ state["fc1.weight"].flatten(1).T
                                             + state["fc1.bias"])
    scale = getattr(functional, gate)(hidden @ state["fc2.weight"].flatten(1).T
                                      + state["fc2.bias"])
    torch.testing.assert_close(module(x), x * scale[:, :, None, None])


def test_squeeze_width_from_reduction():
    x = T("N", 64, 8, 8)
    assert SqueezeExcitation().squeezed(x) == 4  # SENet's reduction 16
    assert SqueezeExcitation(reduction=4).squeezed(x) == 16
    assert SqueezeExcitation(reduction=128).squeezed(x) == 1
    with pytest.raises(ValidationError, match="not both"):
        SqueezeExcitation(reduction=4, squeeze_channels=8)


def test_patch_embedding_projects_patches_row_by_row():
    x = torch.randn(2, 3, 6, 8)
    op = PatchEmbedding(embed_dim=5, patch_size=[3, 2])
    module = _module(op, x)
    out = module(x)
    assert out.shape == (2, 2 * 4, 5)
    weight, bias = module.weight.flatten(1), module.bias
    for row in range(2):
        for col in range(4):
            patch = x[:, :, 3 * row:3 * row + 3, 2 * col:2 * col + 2].flatten(1)
            torch.testing.assert_close(out[:, row * 4 + col], patch @ weight.T + bias)


def test_vit_b_16_front_end():
    """ViT-B/16: 224 / 16 = 14 patches a side, 196 tokens of 768, then the class token: 197;
    conv_proj has 3 * 16 * 16 * 768 + 768 parameters, class_token 768."""
    image = T("N", 3, 224, 224)
    patches = PatchEmbedding(embed_dim=768, patch_size=16)
    tokens = patches.infer(image)
    assert tokens.shape == ("N", 196, 768)
    assert patches.param_count(image) == 590592
    assert ClassToken().infer(tokens).shape == ("N", 197, 768)
    assert ClassToken().param_count(tokens) == 768


def test_class_token_is_prepended_and_learned():
    x = torch.randn(3, 4, 6)
    module = _module(ClassToken(), x)
    assert torch.equal(module.class_token, torch.zeros(1, 1, 6))  # torchvision starts at zeros
    with torch.no_grad():
        module.class_token.copy_(torch.arange(6.0))
    out = module(x)
    assert torch.equal(out[:, 1:], x)
    assert torch.equal(out[:, 0], torch.arange(6.0).expand(3, 6))
    out.sum().backward()
    assert torch.equal(module.class_token.grad, torch.full((1, 1, 6), 3.0))


def test_pixel_shuffle_places_channels_in_space():
    r, x = 2, torch.randn(2, 12, 3, 4)
    out = _module(PixelShuffle(upscale_factor=r), x)(x)
    for c, i, j in [(0, 0, 0), (1, 1, 0), (2, 1, 1), (2, 0, 1)]:
        torch.testing.assert_close(out[:, c, i::r, j::r], x[:, c * r * r + i * r + j])


def test_nearest_upsampling_repeats_and_aligned_corners_hit_input_pixels():
    x = torch.randn(2, 3, 4, 5)
    out = _module(Upsample(scale_factor=[2, 3]), x)(x)
    assert torch.equal(out, x.repeat_interleave(2, 2).repeat_interleave(3, 3))
    # aligned corners: output i samples input i * (4-1)/(7-1) (rows), i * (5-1)/(9-1) (cols),
    # so every second output pixel is an input pixel
    out = _module(Upsample(size=[7, 9], mode="bilinear", align_corners=True), x)(x)
    torch.testing.assert_close(out[:, :, ::2, ::2], x)


def test_upsample_config_mistakes():
    with pytest.raises(ValidationError, match="exactly one of size and scale_factor"):
        Upsample(size=4, scale_factor=2)
    with pytest.raises(ValidationError, match="exactly one of size and scale_factor"):
        Upsample()
    with pytest.raises(ValidationError, match="not 'nearest'"):
        Upsample(scale_factor=2, align_corners=True)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(("config", "shape"), [
    ({"scale_factor": 2, "mode": "bilinear", "align_corners": True}, (3, "H", "W")),
    ({"size": [13, 4], "mode": "bicubic"}, (3, "H", "W")),
    ({"scale_factor": 3, "mode": "linear"}, (3, "L")),
    ({"scale_factor": [1, 2, 3], "mode": "trilinear"}, (2, "L", "H", "W")),
    ({"scale_factor": 1.5, "mode": "bilinear"}, (3, 7, 5)),
])
def test_every_upsampling_mode_exports(config, shape, tmp_path):
    op = Upsample(**config)
    module = instantiate(op.build(T("N", *shape)))
    report = export_onnx(module, [TensorInfo("x", shape)], ["y"], tmp_path / "up.onnx")
    assert max(report.max_abs_diff.values()) < 1e-4
