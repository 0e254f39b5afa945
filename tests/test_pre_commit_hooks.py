"""The pre-commit hook other repositories use: it parses, picks spec files, and its entry
validates them (exit 1 on a broken spec, which makes pre-commit fail)."""

import re
import shlex
from pathlib import Path

import yaml
from typer.testing import CliRunner

from dlspec.cli import app

ROOT = Path(__file__).resolve().parents[1]
(HOOK,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())


def test_the_hook_is_complete_and_its_command_is_installed():
    assert HOOK["id"] == "dlspec-validate" and HOOK["language"] == "python"
    assert {"name", "description", "entry", "files"} <= set(HOOK)
    program = shlex.split(HOOK["entry"])[0]
    assert f'{program} = "dlspec.cli:main"' in (ROOT / "pyproject.toml").read_text()


def test_the_default_pattern_picks_specs():
    picks = re.compile(HOOK["files"]).search
    assert picks("specs/mlp-digits.yaml") and picks("models/specs/gpt.yml")
    assert not picks("config/ci.yaml") and not picks("specs/README.md")


def test_the_entry_passes_good_specs_and_fails_a_broken_one(tmp_path):
    words = shlex.split(HOOK["entry"])[1:]
    good = [str(ROOT / "specs" / "mlp-digits.yaml"), str(ROOT / "specs" / "cnn-digits.yaml")]
    result = CliRunner().invoke(app, [*words, *good])  # pre-commit appends the file names
    assert result.exit_code == 0, result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text((ROOT / "specs" / "mlp-digits.yaml").read_text()
                      .replace("out_features: \"${hidden}\"", "out_features: 0", 1))
    result = CliRunner().invoke(app, [*words, *good, str(broken)])
    assert result.exit_code == 1 and "DLS102" in result.output
