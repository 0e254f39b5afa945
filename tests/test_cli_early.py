"""A command that fails on its arguments or its spec says so before it imports torch."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_run import run_fresh

from dlspec.cli_early import spec_readable
from dlspec.errors import SpecError
from dlspec.spec.load import load_spec

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "mlp-digits.yaml"
EXTRA = {"train": [], "compile": [], "lr-find": [], "export": ["-o", "never.onnx"],
         "evaluate": ["--weights", str(SPEC)]}  # any existing file passes --weights' check


def dlspec(tmp_path: Path, *args: str, module: str = "torch") -> tuple[int, str]:
    """Run `dlspec *args` in a fresh interpreter in tmp_path: (exit code, stderr, which
    ends with whether `module` was imported)."""
    return run_fresh(tmp_path, *args, module=module)


@pytest.fixture(scope="module")
def typo_spec(tmp_path_factory) -> Path:
    """mlp-digits with `out_feature:` for `out_features:` in its first layer."""
    path = tmp_path_factory.mktemp("spec") / "typo.yaml"
    path.write_text(SPEC.read_text().replace('out_features: "${hidden}"}',
                                              'out_feature: "${hidden}"}', 1))
    return path


@pytest.mark.parametrize("command", sorted(EXTRA))
def test_a_missing_spec_file_is_reported_without_torch(tmp_path, command):
    code, err = dlspec(tmp_path, command, "nope.yaml", *EXTRA[command])
    assert code == 1
    assert err.startswith("nope.yaml:1:1: error DLS007: cannot read spec: ")
    assert err.splitlines()[-1] == "torch not imported"


@pytest.mark.parametrize("command", sorted(EXTRA))
def test_an_unknown_flag_is_reported_without_torch(tmp_path, command):
    code, err = dlspec(tmp_path, command, str(SPEC), *EXTRA[command], "--bogus")
    assert code == 2 and "No such option: --bogus" in err
    assert err.splitlines()[-1] == "torch not imported"


@pytest.mark.parametrize("command", sorted(EXTRA))
def test_a_spec_error_is_reported_without_torch(tmp_path, typo_spec, command):
    code, err = dlspec(tmp_path, command, str(typo_spec), *EXTRA[command])
    assert code == 1
    assert f"{typo_spec}:12:29: error DLS101: in layer 'fc1' (linear): unknown key " \
           "'out_feature'" in err
    assert err.splitlines()[-1] == "torch not imported"


def test_a_usage_error_is_plain_text_and_imports_no_rich(tmp_path):
    code, err = dlspec(tmp_path, "train", "--bogus", module="rich")
    assert code == 2
    assert err.splitlines() == [
        "Usage: dlspec train [OPTIONS] [SPEC]", "Try 'dlspec train --help' for help.", "",
        "Error: No such option: --bogus (Possible options: --out)", "rich not imported"]


@pytest.mark.parametrize("module", ["torch", "networkx"])
def test_an_error_found_before_the_model_is_lowered_needs_no_graph(tmp_path, module):
    code, err = dlspec(tmp_path, "train", str(SPEC), "--epochs", "0", module=module)
    assert code == 1
    assert err.startswith("--set train.epochs=0:1:1: error DLS102: 'epochs': ")
    assert err.splitlines()[-1] == f"{module} not imported"


def test_an_error_found_while_lowering_the_layers_needs_no_networkx(tmp_path, typo_spec):
    """The graph makes its networkx DiGraph only when an algorithm needs it (a topological
    order, a cycle search): a layer's unknown key is reported before any is needed."""
    code, err = dlspec(tmp_path, "validate", str(typo_spec), module="networkx")
    assert code == 1
    assert f"{typo_spec}:12:29: error DLS101: in layer 'fc1' (linear): unknown key " \
           "'out_feature'" in err
    assert err.splitlines()[-1] == "networkx not imported"


@pytest.mark.parametrize("args", [
    ["predict", "nope.onnx", "-i", str(SPEC)],
    ["predict", str(SPEC), "-i", "nope.csv"],
    ["evaluate", str(SPEC), "--weights", "nope.safetensors"],
    ["export", str(SPEC), "-o", "x.onnx", "--weights", "nope.safetensors"],
    ["plot", "nope-run"],
])
def test_missing_files_given_by_option_are_refused_by_the_option(tmp_path, args):
    code, err = dlspec(tmp_path, *args)
    missing = next(a for a in args if "nope" in a)
    assert code == 2 and f"'{missing}' does not exist" in err
    assert err.splitlines()[-1] == "torch not imported"


@pytest.mark.parametrize("name", ["nope.yaml", "folder"])
def test_spec_readable_reports_what_load_spec_reports(tmp_path, name):
    (tmp_path / "folder").mkdir()
    unreadable = tmp_path / name  # missing, or a folder
    with pytest.raises(SpecError) as early:
        spec_readable(unreadable)
    with pytest.raises(SpecError) as full:
        load_spec(unreadable)
    assert str(early.value) == str(full.value)
    assert early.value.codes == ["DLS007"]
    spec_readable(SPEC)  # a readable file passes
