"""`dlspec validate`: exit codes, ok lines, located errors on stderr, and no heavy imports."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_run import run_cli

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
INVALID = ROOT / "tests" / "specs" / "invalid"
HEAVY = ("torch", "sklearn", "onnx", "onnxruntime", "numpy")


def test_shipped_specs_exist():
    assert {p.name for p in SPECS} >= {"mlp-digits.yaml", "cnn-digits.yaml",
                                       "regression-diabetes.yaml"}


def test_validate_shipped_specs(monkeypatch, capsys):
    code, out, err = run_cli(monkeypatch, capsys, "validate", *map(str, SPECS))
    assert code == 0, err
    lines = out.splitlines()
    models = [len(yaml.load(p.read_text(), yaml.CSafeLoader).get("models") or [None])
              for p in SPECS]
    paths = [p for p, count in zip(SPECS, models, strict=True) for _ in range(count)]
    for path, line in zip(paths, lines, strict=True):  # one line per model
        assert line.startswith(f"{path}: ok: ") and " layers -> " in line
    assert f"{ROOT / 'specs' / 'mlp-digits.yaml'}: ok: 6 layers -> logits (N, 10)" in lines
    assert err == ""


def test_validate_with_an_override(monkeypatch, capsys):
    spec = str(ROOT / "specs" / "mlp-digits.yaml")
    code, out, _ = run_cli(monkeypatch, capsys, "validate", spec, "--set", "hidden=32",
                           "--set", "train.epochs=2")
    assert code == 0 and out.startswith(f"{spec}: ok: ")


def test_an_invalid_spec_exits_1_with_the_located_error(monkeypatch, capsys):
    spec = INVALID / "unknown_op.yaml"
    code, out, err = run_cli(monkeypatch, capsys, "validate", str(spec))
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[0] == f"{spec}:8:9: error DLS104: in layer 'lineer': unknown op 'lineer'"
    assert lines[1] == "  help: did you mean 'linear'?"
    assert lines[-1] == "1 error"


def test_every_error_of_every_spec_is_printed(monkeypatch, capsys):
    good = ROOT / "specs" / "mlp-digits.yaml"
    bad = [INVALID / "several_errors_in_model.yaml", INVALID / "yaml_ambiguous_boolean.yaml"]
    code, out, err = run_cli(monkeypatch, capsys, "validate", str(bad[0]), str(good),
                             str(bad[1]))
    assert code == 1
    assert out.startswith(f"{good}: ok: ")  # the good spec is still checked
    located = [line for line in err.splitlines() if ": error DLS" in line]
    assert len(located) == 6  # (a misspelt required key is one error, not two)
    assert all(line.startswith((f"{bad[0]}:", f"{bad[1]}:")) for line in located)
    assert err.splitlines()[-1] == "6 errors"


def test_bad_override_is_reported(monkeypatch, capsys):
    spec = str(ROOT / "specs" / "mlp-digits.yaml")
    code, _, err = run_cli(monkeypatch, capsys, "validate", spec, "--set", "hiden=3")
    assert code == 1
    assert "--set hiden=3:1:1: error DLS120: 'hiden' is neither a section, a param nor a block param" in err
    assert "did you mean 'hidden'?" in err


def test_warnings_are_printed_and_fail_only_with_strict(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "unused.yaml"
    spec.write_text("dlspec: 1\nname: unused\ninputs: {x: {shape: [4]}}\nmodel:\n"
                    "  - {op: linear, name: side, out_features: 2}\n"
                    "  - {op: linear, name: main, out_features: 2, inputs: x}\n")
    code, out, err = run_cli(monkeypatch, capsys, "validate", str(spec))
    assert code == 0 and out.startswith(f"{spec}: ok: 2 layers")
    assert f"{spec}:5:5: warning DLS304: the output of layer 'side' is never used" in err
    code, out, err = run_cli(monkeypatch, capsys, "validate", "--strict", str(spec))
    assert code == 1 and out == ""
    assert "warning DLS304" in err


def test_missing_file(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "nope.yaml"
    code, _, err = run_cli(monkeypatch, capsys, "validate", str(missing))
    assert code == 1 and err.startswith(f"{missing}:1:1: error DLS007: ")


def test_a_control_character_is_located_without_the_readers_position(tmp_path, monkeypatch,
                                                                      capsys):
    spec = tmp_path / "ctl.yaml"
    spec.write_text("dlspec: 1\nname: mlp\x01\n", encoding="utf-8")
    code, out, err = run_cli(monkeypatch, capsys, "validate", str(spec))
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"{spec}:2:10: error DLS001: unacceptable character #x0001: control characters are "
        "not allowed",
        "  help: remove it; in a double-quoted string write it as an escape (\\x01)",
        "1 error"]


def _heavy_modules_after_validate(*args: str) -> tuple[int, list[str]]:
    script = (
        "import sys\n"
        "from dlspec.cli import main\n"
        f"sys.argv = ['dlspec', 'validate', *{list(args)!r}]\n"
        "code = 0\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    code = exc.code or 0\n"
        "print(code)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=120)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0 and len(lines) >= 2, result.stderr
    return int(lines[-2]), ast.literal_eval(lines[-1])


def test_validate_imports_no_torch_sklearn_or_onnx():
    invalid = [str(INVALID / name) for name in
               ("linear_on_4d_input.yaml", "embedding_on_float_input.yaml",
                "digits_wrong_class_count.yaml")]
    code, heavy = _heavy_modules_after_validate(*map(str, SPECS), *invalid)
    assert code == 1  # the invalid specs fail; every spec was checked all the same
    assert heavy == []


def test_the_console_script_works():
    dlspec = Path(sys.executable).with_name("dlspec")
    if not dlspec.exists():
        pytest.skip("the dlspec console script is not installed beside this python")
    result = subprocess.run([str(dlspec), "validate", str(SPECS[0])], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith(f"{SPECS[0]}: ok: ")


def test_strict_prints_each_warning_once_and_counts_it(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "unused.yaml"
    spec.write_text("dlspec: 1\nname: unused\ninputs: {x: {shape: [4]}}\nmodel:\n"
                    "  - {op: linear, name: side, out_features: 2}\n"
                    "  - {op: linear, name: main, out_features: 2, inputs: x}\n")
    code, out, err = run_cli(monkeypatch, capsys, "validate", "--strict", str(spec))
    assert code == 1 and out == ""
    assert err.count("warning DLS304") == 1
    assert err.splitlines()[-1] == "1 warning treated as an error"
    broken = tmp_path / "broken.yaml"
    broken.write_text(spec.read_text().replace("out_features: 2}", "out_features: 0}", 1))
    code, _, err = run_cli(monkeypatch, capsys, "validate", "--strict", str(spec), str(broken))
    assert code == 1 and err.count("warning DLS304") == 1
    assert err.splitlines()[-1] == "1 error, 1 warning treated as an error"
