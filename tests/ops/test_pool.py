"""The pools' own layers against torch's kernels: the adaptive pool's export path computes
torch's windows (sizes not divisible by the output, outputs larger than the input, kept dims),
the 1-D max pool is nn.MaxPool1d, the global pools are means and maxima over all positions."""

from __future__ import annotations

import pytest
import torch
from harness import T
from pydantic import ValidationError
from torch import nn
from torch.nn import functional

from dlspec.backends.onnx_export import TensorInfo, export_onnx
from dlspec.backends.torch_layers.pool import AdaptivePool, GlobalPool, MaxPool1d
from dlspec.backends.torch_module import instantiate
from dlspec.ops.pool import AdaptiveAvgPool2d, AdaptiveMaxPool3d, GlobalMaxPool2d

TORCH_ADAPTIVE = {
    ("avg", 1): functional.adaptive_avg_pool1d, ("avg", 2): functional.adaptive_avg_pool2d,
    ("avg", 3): functional.adaptive_avg_pool3d, ("max", 1): functional.adaptive_max_pool1d,
    ("max", 2): functional.adaptive_max_pool2d, ("max", 3): functional.adaptive_max_pool3d,
}
# sizes smaller than, not divisible by, and multiples of the output sizes below
SHAPES = {1: [(1,), (12,), (5,)], 2: [(1, 7), (12, 5), (9, 9)],
          3: [(1, 7, 4), (12, 5, 9), (3, 3, 3)]}


@pytest.mark.parametrize(("mode", "rank"), sorted(TORCH_ADAPTIVE))
def test_adaptive_pool_is_torchs(mode, rank):
    generator = torch.Generator().manual_seed(rank)
    for spatial in SHAPES[rank]:
        x = torch.randn(2, 3, *spatial, generator=generator)
        for output in [(1,) * rank, (3,) * rank, (7, 2, 5)[:rank], (None, 4, 6)[-rank:]]:
            expected = TORCH_ADAPTIVE[(mode, rank)](
                x, tuple(s if o is None else o for s, o in zip(spatial, output, strict=True)))
            pool = AdaptivePool(list(output), mode)
            torch.testing.assert_close(pool(x), expected, rtol=0, atol=0)  # torch's kernel
            torch.testing.assert_close(pool.traceable(x), expected, rtol=1e-6, atol=1e-6,
                                       msg=f"{mode} {spatial} -> {output}")


def test_adaptive_max_pool_keeps_int64():
    x = torch.randint(0, 100, (2, 3, 5, 7, 6))
    op = AdaptiveMaxPool3d(output_size=[2, 3, None])
    out = instantiate(op.build(T("N", 3, 5, 7, 6, dtype="int64")))(x)
    assert out.dtype == torch.int64
    torch.testing.assert_close(out, functional.adaptive_max_pool3d(x.double(), (2, 3, 6)).long())


def test_adaptive_output_size_has_one_entry_per_spatial_dim():
    with pytest.raises(ValidationError, match="output_size has 3 entries"):
        AdaptiveAvgPool2d(output_size=[1, 2, 3])
    assert AdaptiveAvgPool2d(output_size=[None, 3]).infer(T("N", 4, "H", "W")).shape == \
        ("N", 4, "H", 3)


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation", "ceil_mode"),
                         [(1, 1, 0, 1, False), (3, 2, 1, 1, True), (2, 3, 1, 1, True),
                          (4, 1, 2, 1, False), (3, 3, 0, 2, True), ((2,), (1,), (1,), 3, False)])
def test_max_pool_1d_is_torchs(kernel, stride, padding, dilation, ceil_mode):
    ours = MaxPool1d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    theirs = nn.MaxPool1d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    k, p = (v if isinstance(v, int) else v[0] for v in (kernel, padding))
    for length in range(max(dilation * (k - 1) + 1 - 2 * p, 1), 14):
        x = torch.randn(2, 3, length)
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_global_pools_reduce_every_position(rank):
    x = torch.randn(2, 5, *[4, 3, 2][:rank])
    dims = tuple(range(2, 2 + rank))
    torch.testing.assert_close(GlobalPool(rank, "avg")(x), x.mean(dims))
    torch.testing.assert_close(GlobalPool(rank, "max")(x), x.flatten(2).max(-1).values)
    assert GlobalMaxPool2d().infer(T("N", 5, "H", "W")).shape == ("N", 5)


@pytest.mark.filterwarnings("ignore")
def test_adaptive_pools_export_after_layers_that_compute_the_size(tmp_path):
    """Symbolic sizes made by earlier layers (2*H) pool to a fixed size in ONNX too, where
    torch's own adaptive kernels fail to export."""
    model = nn.Sequential(nn.Upsample(scale_factor=2.0), AdaptivePool([7, 5], "avg"),
                          AdaptivePool([3, None], "max"))
    report = export_onnx(model, [TensorInfo("x", (3, "H", "W"))], ["y"], tmp_path / "a.onnx")
    assert report.output_dims["y"][1:] == (3, 3, 5)
