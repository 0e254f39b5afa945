"""data.rescale: features mapped from the train split's range onto [low, high], one range for
every feature, as a (mean, std) that training and export apply like a standardization."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlspec import api
from dlspec.data.rescale import rescaling
from dlspec.errors import DlspecError

ROOT = Path(__file__).resolve().parents[2]
MLP = ROOT / "specs" / "mlp-digits.yaml"


def test_rescaling_maps_the_train_range_onto_the_bounds():
    x = np.array([[0.0, 4.0], [16.0, 8.0]])
    mean, std = rescaling(x, [-1.0, 1.0])  # min 0, max 16 over both features: 8 per unit
    assert mean.tolist() == [8.0, 8.0] and std.tolist() == [8.0, 8.0]
    assert ((x - mean) / std).tolist() == [[-1.0, -0.5], [1.0, 0.0]]
    mean, std = rescaling(np.full((3, 2), 5.0), [0.0, 2.0])  # a constant set keeps span 1
    assert ((5.0 - mean) / std).tolist() == [0.0, 0.0]


def test_digits_rescaled_to_minus_one_one():
    data = api.load_data(api.check_spec(MLP, ["data.rescale=[-1, 1]"]))
    (train,) = data.train.inputs.values()
    (val,) = data.val.inputs.values()
    assert train.min() == -1.0 and train.max() == 1.0
    # digit pixels are 0..16 in every split: 16 / 8 - 1
    assert np.allclose(np.unique(val), np.arange(17) / 8 - 1)
    assert np.allclose(data.mean, 8.0) and np.allclose(data.std, 8.0)  # export applies them


@pytest.mark.parametrize(("overrides", "message"), [
    (["data.rescale=[1, 1]"], "rescale needs two finite numbers [low, high] with low < high"),
    (["data.rescale=[0, 1, 2]"], "rescale needs two finite numbers"),
    (["data.rescale=[-1, 1]", "data.standardize=true"],
     "standardize: true and rescale both scale the features"),
])
def test_bad_rescale_is_a_located_error(overrides, message):
    with pytest.raises(DlspecError) as caught:
        api.check(MLP, overrides)
    (problem,) = caught.value.diagnostics
    assert problem.code == "DLS102" and message in problem.message


def test_rescale_is_refused_for_sequences(tmp_path):
    spec = ROOT / "specs" / "gru-reverse.yaml"
    with pytest.raises(DlspecError, match="rescale is for tabular features; the sequences of "
                                          "'reverse' are used as generated") as caught:
        api.check(spec, ["data.rescale=[-1, 1]"])
    assert caught.value.diagnostics[0].span.line > 1
