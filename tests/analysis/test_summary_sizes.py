"""dlspec.analysis.summary at sizes the model cannot take: a symbolic dim bound too small for
a layer is a located error naming the sizes (found by the generated-spec test: vgg16 with a
symbolic height gave `dlspec summary --dim H=6` a RuleError traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlspec.analysis.summary import summarize
from dlspec.compiler import check_spec
from dlspec.errors import DlspecError

SPEC = """\
dlspec: 1
name: pools
inputs:
  image: {shape: [1, H, 8]}
model:
  - {op: conv2d, out_channels: 2, kernel_size: 3, padding: 1}
  - {op: maxpool2d, name: pool1, kernel_size: 2}
  - {op: maxpool2d, name: pool2, kernel_size: 2}
  - {op: maxpool2d, name: pool3, kernel_size: 2}
"""


@pytest.fixture
def checked(tmp_path: Path):
    path = tmp_path / "pools.yaml"
    path.write_text(SPEC)
    return check_spec(path)


def test_a_dim_too_small_for_a_layer_is_a_located_error(checked):
    with pytest.raises(DlspecError) as caught:
        summarize(checked, dims={"H": 4})
    [problem] = caught.value.diagnostics
    assert (problem.code, problem.span.line, problem.span.col, problem.layer) == (
        "DLS201", 9, 5, "pool3")
    assert problem.message == "at H=4: window of 2 does not fit in size 1 with padding 0"


def test_a_dim_large_enough_is_summarized(checked):
    summary = summarize(checked, dims={"H": 8})
    assert summary.macs == 8 * 8 * 2 * 9  # the convolution's, at H=8
