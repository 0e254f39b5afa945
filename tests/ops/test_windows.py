"""Swin's window ops against torchvision's code: window_partition, the shifted-window mask,
the window position bias and window_merge, chained as a spec chains them, compute exactly
torchvision's ShiftedWindowAttention (shifted and not); patch_merge is its 2x2 merging
(odd sizes padded); the mask separates exactly the regions the roll brought together."""

from __future__ import annotations

import pytest
import torch
from harness import T
from reference_models import torchvision_models

from dlspec.backends.torch_layers.attention import MultiheadAttention
from dlspec.backends.torch_module import instantiate
from dlspec.errors import RuleError
from dlspec.ops.registry import op_registry


def layer(config: dict, *types):
    op = op_registry()[config["op"]].model_validate(config)
    op.infer(*types)
    return instantiate(op.build(*types))


@pytest.mark.parametrize(("window", "shift", "size"), [(4, 2, (8, 12)), (3, 0, (6, 3)),
                                                      ([2, 3], [1, 1], (4, 6))])
def test_windowed_attention_is_torchvisions_shifted_window_attention(window, shift, size):
    torchvision_models()
    from torchvision.models.swin_transformer import ShiftedWindowAttention

    w = [window] * 2 if isinstance(window, int) else window
    s = [shift] * 2 if isinstance(shift, int) else shift
    channels, heads = 12, 3
    torch.manual_seed(0)
    reference = ShiftedWindowAttention(channels, w, s, heads).eval()
    with torch.no_grad():
        reference.relative_position_bias_table.normal_()  # large enough to matter
    x = torch.randn(2, *size, channels)
    image = T("N", *size, channels)

    rolled = layer({"op": "roll", "shifts": [-s[0], -s[1]], "dims": [1, 2]}, image)(x)
    partition = {"op": "window_partition", "window": window}
    windows = layer(partition, image)(rolled)
    table = layer({"op": "window_position_bias", "window": window, "heads": heads},
                  T("N", w[0] * w[1], channels))
    table.relative_position_bias_table.data.copy_(reference.relative_position_bias_table)
    bias = table(windows)
    assert bias.shape == (1, heads, w[0] * w[1], w[0] * w[1])
    if any(s):
        mask = layer({"op": "shifted_window_mask", "window": window, "shift": shift}, image)
        bias = bias + mask(rolled)
    attention = MultiheadAttention(channels, heads).eval()
    attention.load_state_dict({"in_proj_weight": reference.qkv.weight,
                               "in_proj_bias": reference.qkv.bias,
                               "out_proj.weight": reference.proj.weight,
                               "out_proj.bias": reference.proj.bias})
    attended = attention(windows, bias)
    merged = layer({"op": "window_merge", "window": window},
                   T(f"{size[0] * size[1] // (w[0] * w[1])}*N", w[0] * w[1], channels),
                   image)(attended, x)
    out = layer({"op": "roll", "shifts": s, "dims": [1, 2]}, image)(merged)
    with torch.no_grad():
        torch.testing.assert_close(out, reference(x), atol=1e-6, rtol=1e-5)


def test_mask_separates_the_regions_the_roll_brought_together():
    """A 4x4 map, windows of 2, rolled by 1: the last window holds one position from each
    corner region (4 regions: every pair apart); the first window is one region."""
    mask = layer({"op": "shifted_window_mask", "window": 2, "shift": 1},
                 T("N", 4, 4, 1))(torch.zeros(3, 4, 4, 1))
    assert mask.shape == (12, 1, 4, 4)
    assert torch.equal(mask[0], torch.zeros(1, 4, 4))
    assert torch.equal(mask[3, 0], -100 * (1 - torch.eye(4)))
    assert torch.equal(mask[:4], mask[4:8])  # the same for every image


def test_patch_merge_is_torchvisions_and_pads_odd_sizes():
    torchvision_models()
    from torchvision.models.swin_transformer import _patch_merging_pad

    x = torch.randn(2, 5, 4, 3)
    op = op_registry()["patch_merge"].model_validate({"op": "patch_merge"})
    assert str(op.infer(T("N", 5, 4, 3))) == "(N, 3, 2, 12)"
    assert torch.equal(instantiate(op.build(T("N", 5, 4, 3)))(x), _patch_merging_pad(x))


def test_partition_cuts_windows_row_by_row_and_merge_undoes_it():
    x = torch.arange(2 * 4 * 6, dtype=torch.float32).view(2, 4, 6, 1)
    windows = layer({"op": "window_partition", "window": 2}, T("N", 4, 6, 1))(x)
    assert windows.shape == (12, 4, 1)
    assert windows[1, :, 0].tolist() == [2, 3, 8, 9]   # image 0, window row 0, column 1
    assert windows[6, :, 0].tolist() == [24, 25, 30, 31]  # image 1's first window
    back = layer({"op": "window_merge", "window": 2}, T("6*N", 4, 1), T("N", 4, 6, 1))
    assert torch.equal(back(windows, x), x)


def test_a_map_the_windows_do_not_tile_is_refused_with_a_hint():
    op = op_registry()["window_partition"].model_validate({"op": "window_partition",
                                                           "window": 7})
    with pytest.raises(RuleError, match="the height 10 of .* is not a multiple of the "
                       "window 7") as error:
        op.infer(T("N", 10, 14, 8))
    assert "pad or crop" in error.value.hint


def test_the_position_bias_table_learns():
    bias = layer({"op": "window_position_bias", "window": 2, "heads": 2}, T("N", 4, 3))
    bias(torch.zeros(5, 4, 3)).pow(2).sum().backward()
    grad = bias.relative_position_bias_table.grad
    assert grad is not None and grad.abs().sum() > 0
