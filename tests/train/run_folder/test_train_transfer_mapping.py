"""init_from through a weight mapping: a reference's state dict (not a dlspec checkpoint)
loads onto the model's tensors, and the report says what loaded and what did not."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from dlspec.errors import SpecError, TrainError
from dlspec.train.recipe.config import InitFromConfig
from dlspec.train.run_folder.transfer import init_from

MAPPING = """\
dlspec_mapping: 1
rules:
  - {to: "encoder.*", from: "0.{1}"}
  - {to: "head.weight", from: "4.weight"}
  - {to: "head.bias", from: "4.bias", scale: 2}
ignore: ["2.bias"]
"""


def target_model(classes: int = 3) -> nn.Module:
    torch.manual_seed(2)
    return nn.Sequential(OrderedDict(encoder=nn.Linear(2, 16), act=nn.ReLU(),
                                     hidden=nn.Linear(16, 16), head=nn.Linear(16, classes)))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                          nn.Linear(16, 3))
    save_file(model.state_dict(), str(folder / "ref.safetensors"))
    (folder / "map.yaml").write_text(MAPPING)
    return model.state_dict(), folder


def test_a_mapped_reference_loads_and_the_report_lists_what_did_not(reference):
    stored, folder = reference
    model = target_model()
    fresh = model.hidden.weight.clone()
    report = init_from(model, InitFromConfig(path="ref.safetensors", mapping="map.yaml",
                                             exclude=["head.weight"]), folder)
    assert report.loaded == ["encoder.weight", "encoder.bias", "head.bias"]
    assert report.missing == ["hidden.weight (no rule matches it)",
                              "hidden.bias (no rule matches it)"]
    assert report.unexpected == ["2.weight"]  # 2.bias is ignored by the mapping
    assert report.not_selected == ["head.weight"]
    assert torch.equal(model.encoder.weight, stored["0.weight"])
    assert torch.equal(model.head.bias, 2 * stored["4.bias"])
    assert not torch.equal(model.head.weight, stored["4.weight"])
    assert torch.equal(model.hidden.weight, fresh)
    assert report.lines()[0] == (
        f"init_from {folder / 'ref.safetensors'} (through weight mapping "
        f"{folder / 'map.yaml'}): 3 loaded, 2 missing, 1 unexpected, 1 not selected")
    assert report.lines()[2] == ("  missing (kept their initialization): hidden.weight (no "
                                 "rule matches it), hidden.bias (no rule matches it)")


def test_a_shape_mismatch_through_a_mapping_names_each_tensor(reference):
    _, folder = reference
    with pytest.raises(TrainError) as caught:
        init_from(target_model(classes=4), InitFromConfig(path="ref.safetensors",
                                                          mapping="map.yaml"), folder)
    assert caught.value.codes == ["DLS404"]
    message = caught.value.diagnostics[0].message
    assert "'head.weight' got (3, 16), the model has (4, 16); 'head.bias' got (3,)" in message
    # an excluded tensor is not loaded, so its shape does not matter
    init_from(target_model(classes=4), InitFromConfig(
        path="ref.safetensors", mapping="map.yaml", exclude=["head.*"]), folder)


def test_a_pickled_reference_is_refused(reference, tmp_path):
    _, folder = reference
    (tmp_path / "model.bin").write_bytes(b"\x80\x04pickled")
    with pytest.raises(Exception, match="never loads pickled weights") as caught:
        init_from(target_model(), InitFromConfig(path="model.bin",
                                                 mapping=str(folder / "map.yaml")), tmp_path)
    assert caught.value.codes == ["DLS007"]


def test_an_unknown_mapping_name_is_a_spec_error(reference):
    _, folder = reference
    with pytest.raises(SpecError, match="no shipped weight mapping is named 'resnet81'"):
        init_from(target_model(), InitFromConfig(path="ref.safetensors", mapping="resnet81"),
                  folder)
