"""`dlspec import-weights`: a reference state dict in safetensors -> the spec's weights,
written only when every spec tensor mapped (or with --partial, saying what was left out)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cli_run import run_cli, run_fresh
from safetensors.torch import save_file

from dlspec.api import check, compile_module
from dlspec.train.run_folder.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "mlp-digits.yaml"
MAPPING = """\
dlspec_mapping: 1
reference: a torch.nn.Sequential of three linear layers
spec: mlp-digits
rules:
  - {to: "fc1.*", from: "0.{1}"}
  - {to: "fc2.*", from: "2.{1}"}
  - {to: "logits.*", from: "4.{1}"}
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The reference model, its safetensors file and a mapping file, in one folder."""
    folder = tmp_path_factory.mktemp("import")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8),
                                torch.nn.ReLU(), torch.nn.Linear(8, 10)).eval()
    save_file(model.state_dict(), str(folder / "ref.safetensors"))
    (folder / "mlp.yaml").write_text(MAPPING)
    return model, folder


def test_imported_weights_give_the_reference_outputs(reference, monkeypatch, capsys):
    model, folder = reference
    monkeypatch.chdir(folder)
    code, out, err = run_cli(monkeypatch, capsys, "import-weights", "ref.safetensors",
                             "--spec", str(SPEC), "--set", "hidden=8", "--mapping",
                             "mlp.yaml", "-o", "w.safetensors")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"mapped 6 of 6 spec tensors ({64 * 8 + 8 + 8 * 8 + 8 + 8 * 10 + 10:,} values) from 6 "
        f"tensors of ref.safetensors with mapping mlp.yaml",
        "wrote w.safetensors"]
    stored = load_checkpoint(folder / "w.safetensors")
    assert stored.metadata["spec_name"] == "mlp-digits"
    assert stored.metadata["weight_mapping"] == "mlp.yaml"
    spec = compile_module(check(SPEC, ["hidden=8"]), seed=1).eval()
    spec.load_state_dict(stored.state_dict, strict=True)
    x = torch.randn(5, 64)
    assert torch.equal(spec(x), model(x))


def test_a_mapping_that_leaves_tensors_out_writes_nothing_unless_partial(
        reference, monkeypatch, capsys):
    _, folder = reference
    monkeypatch.chdir(folder)
    (folder / "short.yaml").write_text(MAPPING.replace('  - {to: "logits.*", from: "4.{1}"}\n',
                                                       ""))
    args = ["import-weights", "ref.safetensors", "--spec", str(SPEC), "--set", "hidden=8",
            "--mapping", "short.yaml", "-o", "short.safetensors"]
    code, out, err = run_cli(monkeypatch, capsys, *args)
    assert code == 1 and out == "" and not (folder / "short.safetensors").exists()
    assert err.splitlines()[:3] == [
        "error DLS404: the mapping leaves 2 of 6 spec tensors unfilled, so nothing was written:",
        "  2 spec tensor(s) not filled: logits.weight (no rule matches it), logits.bias (no "
        "rule matches it)",
        "  2 source tensor(s) unused: 4.bias, 4.weight"]  # in the file's order
    code, out, err = run_cli(monkeypatch, capsys, *args, "--partial")
    assert code == 0
    assert out.splitlines()[-1] == ("wrote short.safetensors without 2 spec tensor(s) left out "
                                    "above: logits.weight, logits.bias")
    stored = load_checkpoint(folder / "short.safetensors")
    assert sorted(stored.state_dict) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]
    assert stored.metadata["left_out"] == "logits.weight, logits.bias"


def test_shape_mismatches_are_listed_by_name(reference, monkeypatch, capsys):
    _, folder = reference
    monkeypatch.chdir(folder)
    code, _, err = run_cli(monkeypatch, capsys, "import-weights", "ref.safetensors", "--spec",
                           str(SPEC), "--mapping", "mlp.yaml", "-o", "big.safetensors")
    assert code == 1 and "DLS404" in err
    assert "5 shape mismatch(es): fc1.weight got (8, 64), the spec has (128, 64)," in err
    assert "logits.bias" not in err  # (10,) in both


def _early(folder: Path, *args: str) -> tuple[int, list[str]]:
    code, err = run_fresh(folder, *args)
    return code, err.splitlines()


def test_errors_in_arguments_spec_or_mapping_come_before_torch(reference, tmp_path):
    """The last check before torch (the output file) fails in a fresh interpreter: every
    check before it (spec, mapping, source file) needed no torch either."""
    _, folder = reference
    code, err = _early(tmp_path, "import-weights", str(folder / "ref.safetensors"), "--spec",
                       str(SPEC), "--mapping", str(folder / "mlp.yaml"), "-o", "/dev/null")
    assert code == 1 and err == ["error DLS008: /dev/null is not a regular file (a device, "
                                 "pipe or socket); it is never replaced", "  help: give a file name to write",
                                 "1 error", "torch not imported"]


@pytest.mark.parametrize(("args", "expected"), [
    (["--mapping", "resnet81"], ["error DLS102: no shipped weight mapping is named 'resnet81'",
                                 "  help: did you mean 'resnet18'?; or give a mapping file (a "
                                 "path ending in .yaml)"]),
    ([], ["error DLS102: no weight mapping is shipped for spec 'mlp-digits'"]),
    (["--mapping", "nope.yaml"], ["error DLS007: weight mapping 'nope.yaml' does not exist"]),
])
def test_a_bad_mapping_is_a_coded_error(reference, monkeypatch, capsys, args, expected):
    _, folder = reference
    monkeypatch.chdir(folder)
    code, out, err = run_cli(monkeypatch, capsys, "import-weights", "ref.safetensors",
                             "--spec", str(SPEC), "-o", "never.safetensors", *args)
    assert code == 1 and err.splitlines()[:len(expected)] == expected
    assert not (folder / "never.safetensors").exists()


def test_a_pickle_is_never_read(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.bin").write_bytes(b"\x80\x04pickled")
    code, _, err = run_cli(monkeypatch, capsys, "import-weights", "model.bin", "--spec",
                           str(SPEC), "-o", "out.safetensors")
    assert code == 1
    assert err.splitlines()[:2] == [
        "error DLS007: cannot read weights model.bin: not a safetensors file (its header size "
        "is absurd)",
        "  help: dlspec never loads pickled weights (.bin, .pt); save the state dict with "
        "safetensors.torch.save_file(model.state_dict(), 'model.safetensors')"]


def test_a_mapping_written_for_another_spec_is_pointed_out(reference, monkeypatch, capsys):
    _, folder = reference
    monkeypatch.chdir(folder)
    code, _, err = run_cli(monkeypatch, capsys, "import-weights", "ref.safetensors", "--spec",
                           str(SPEC), "--mapping", "resnet18", "-o", "never.safetensors")
    assert code == 1 and not (folder / "never.safetensors").exists()
    lines = err.splitlines()
    assert lines[0] == ("warning: mapping resnet18 (shipped) is written for spec 'resnet18', "
                        "not 'mlp-digits'")
    assert lines[1].startswith("error DLS404: the mapping leaves 6 of 6 spec tensors unfilled")
