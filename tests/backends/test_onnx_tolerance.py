"""The ONNX Runtime check's tolerance: base x depth factor x output scale (+ rtol x |value|)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dlspec.backends.onnx_check import compare_outputs, within_tolerance
from dlspec.backends.onnx_tolerance import (
    absolute_tolerances,
    depth_factor,
    output_scale,
    weighted_depth,
)
from dlspec.compiler import check_spec
from dlspec.errors import ExportError

SPECS = Path(__file__).resolve().parents[2] / "specs"


def test_depth_counts_layers_with_weights_on_the_longest_path(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("""dlspec: 1
name: depth
inputs: {x: {shape: [seq, 4]}}
model:
  - {op: linear, name: a, out_features: 8}
  - {op: relu}
  - {op: lstm, name: deep, hidden_size: 8, num_layers: 3}
  - {op: linear, name: b, inputs: a, out_features: 8}
  - {op: add, name: joined, inputs: [deep, b]}
  - {op: layernorm, name: norm}
  - {op: linear, name: head, out_features: 2}
""")
    # a (1) + relu (0) + lstm (3 layers) + add (0) + norm (1) + head (1)
    assert weighted_depth(check_spec(spec).graph) == {"head": 6}
    assert weighted_depth(check_spec(SPECS / "gcn.yaml").graph) == {"conv2": 2}


def test_the_factor_grows_like_a_random_walk():
    assert [depth_factor(d) for d in (0, 1, 4, 16, 100)] == [1, 1, 1, 2, 5]
    assert output_scale(np.array([-3.0, 2.0, math.inf, math.nan])) == 3.0


def test_large_outputs_of_a_deep_model_pass_and_a_real_error_does_not():
    """Logits up to 15 after 12 weighted layers: rounding differences of 4e-5 on values near
    zero failed the old fixed bound (1e-5 + 1.3e-6 x |value|); a weight 1% off is still
    refused."""
    rng = np.random.default_rng(0)
    want = np.clip(rng.normal(0, 5, size=(3, 20, 10)), -14, 14).astype(np.float32)
    want[0, 0, 0], want[0, 0, 1] = 15.0, 0.001
    rounding = (want + rng.normal(0, 1e-5, size=want.shape)).astype(np.float32)
    rounding[0, 0, 1] += 4e-5
    assert not within_tolerance(want, rounding, 1e-5, 1.3e-6)  # the old rule
    atols = absolute_tolerances(["logits"], [want], 1e-5, {"logits": 12})
    assert atols["logits"] == pytest.approx(1e-5 * math.sqrt(3) * 15)
    assert compare_outputs(["logits"], [want], [rounding], atols, "batch 3")["logits"] < atols[
        "logits"]
    wrong = want * 1.01
    with pytest.raises(ExportError) as caught:
        compare_outputs(["logits"], [want], [wrong], atols, "batch 3, seq 20")
    assert caught.value.codes == ["DLS502"]
    assert "tolerance 0.00026 + 1.3e-06 x |value|" in str(caught.value)


def test_small_outputs_keep_the_base_tolerance():
    want = np.full((2, 3), 0.5, dtype=np.float32)
    assert absolute_tolerances(["y"], [want], 1e-5, {"y": 2}) == {"y": 1e-5}
    assert absolute_tolerances(["y"], [want], 1e-5, None) == {"y": 1e-5}
