"""`dlspec validate` checks the weight mapping `train.init_from` names, at the spec's line,
and the checkpoint it reads, at `path:`."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_run import run_cli

SAFETENSORS = b"\x02\x00\x00\x00\x00\x00\x00\x00{}"  # an empty safetensors file
SPEC = (Path(__file__).resolve().parents[2] / "specs" / "mlp-digits.yaml").read_text()


def spec_with(tmp_path: Path, init_from: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace("train: {epochs: 30, seed: 0}",
                                 f"train:\n  epochs: 30\n  init_from: {init_from}"))
    return path


@pytest.mark.parametrize(("init_from", "expected"), [
    ("{path: ref.safetensors, mapping: resnet81}",
     [":27:47: error DLS102: no shipped weight mapping is named 'resnet81'",
      "  help: did you mean 'resnet18'?; or give a mapping file (a path ending in .yaml)"]),
    ("{path: ref.safetensors, mapping: maps/none.yaml}",
     [":27:47: error DLS007: weight mapping '{dir}/maps/none.yaml' does not exist"]),
])
def test_a_bad_mapping_is_located_at_the_spec_line(tmp_path, monkeypatch, capsys, init_from,
                                                    expected):
    path = spec_with(tmp_path, init_from)
    code, out, err = run_cli(monkeypatch, capsys, "validate", str(path))
    assert code == 1 and out == ""
    assert err.splitlines()[:len(expected)] == [
        (str(path) + line).replace("{dir}", str(tmp_path)) if line.startswith(":") else line
        for line in expected]


def test_an_error_inside_the_mapping_file_is_located_in_it(tmp_path, monkeypatch, capsys):
    (tmp_path / "map.yaml").write_text("dlspec_mapping: 1\nrules:\n  - {to: a, form: b}\n")
    path = spec_with(tmp_path, "{path: ref.safetensors, mapping: map.yaml}")
    code, _, err = run_cli(monkeypatch, capsys, "validate", str(path))
    assert code == 1
    assert err.splitlines()[0] == (f"{tmp_path / 'map.yaml'}:3:13: error DLS101: unknown key "
                                   "'form' in 'rules.0'")


def test_a_good_mapping_validates(tmp_path, monkeypatch, capsys):
    (tmp_path / "ref.safetensors").write_bytes(SAFETENSORS)
    path = spec_with(tmp_path, "{path: ref.safetensors, mapping: resnet18}")
    code, out, _ = run_cli(monkeypatch, capsys, "validate", str(path))
    assert code == 0 and out.startswith(f"{path}: ok")


@pytest.mark.parametrize(("init_from", "expected"), [
    ("{path: nope.safetensors, mapping: resnet18}",
     [":27:21: error DLS007: init_from: {dir}/nope.safetensors does not exist",
      "  help: `path` is relative to the spec's folder: a .safetensors file, or a run folder "
      "(its best checkpoint)"]),
    ("{path: ref.bin, mapping: resnet18}",
     [":27:21: error DLS007: cannot read weights {dir}/ref.bin: not a safetensors file (its "
      "header size is absurd)",
      "  help: dlspec never loads pickled weights (.bin, .pt); save the state dict with "
      "safetensors.torch.save_file(model.state_dict(), 'model.safetensors')"]),
    ("{path: runs/empty}",
     [":27:21: error DLS007: cannot read weights {dir}/runs/empty: a folder without "
      "checkpoints/best.safetensors or last.safetensors (not a finished run folder)"]),
])
def test_a_checkpoint_that_cannot_be_read_is_located_at_its_path_before_torch(
        tmp_path, monkeypatch, capsys, init_from, expected):
    """validate, and train before it imports torch, refuse a missing or pickled checkpoint
    and a run folder without one; training used to find out after importing torch."""
    (tmp_path / "ref.bin").write_bytes(b"\x80\x02}q\x00." + bytes(64))  # a pickle's start
    (tmp_path / "runs" / "empty").mkdir(parents=True)
    path = spec_with(tmp_path, init_from)
    for command in ("validate", "train"):
        code, out, err = run_cli(monkeypatch, capsys, command, str(path))
        assert code == 1 and out == ""
        assert err.splitlines()[:len(expected)] == [
            (str(path) + line).replace("{dir}", str(tmp_path)) if line.startswith(":")
            else line for line in expected]


def test_a_run_folder_with_a_checkpoint_validates(tmp_path, monkeypatch, capsys):
    (tmp_path / "runs" / "a" / "checkpoints").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "checkpoints" / "last.safetensors").write_bytes(SAFETENSORS)
    path = spec_with(tmp_path, "{path: runs/a}")
    code, out, _ = run_cli(monkeypatch, capsys, "validate", str(path))
    assert code == 0 and out.startswith(f"{path}: ok")


def test_commands_that_do_not_read_the_checkpoint_do_not_need_it(tmp_path):
    """A resumed run and `evaluate` never read `train.init_from` again: their early check
    leaves out its file, which may be gone; a fresh training (and validate) still need it."""
    from dlspec.cli_early import check_first
    from dlspec.errors import SpecError

    path = spec_with(tmp_path, "{path: gone.safetensors}")
    with pytest.raises(SpecError, match="gone.safetensors does not exist"):
        check_first(path)
    assert check_first(path, init_from=False).spec.train.init_from.path == "gone.safetensors"
