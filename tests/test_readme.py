"""Every dlspec command the README shows works, and prints what the README says it prints."""

import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlspec.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    """The README's fenced code blocks of one language ("" for plain fences)."""
    found, current, inside = [], [], None
    for line in README.splitlines():
        if line.startswith("```"):
            if inside is None:
                inside, current = line[3:].strip(), []
            else:
                if inside == language:
                    found.append("\n".join(current) + "\n")
                inside = None
        elif inside is not None:
            current.append(line)
    return found


def dlspec_commands() -> list[str]:
    """The dlspec lines of the README's bash blocks (install and pytest lines aside)."""
    return [line.strip() for block in blocks("bash") for line in block.splitlines()
            if line.strip().startswith("dlspec ")]


def invoke(command: str):
    words = shlex.split(command)[1:]
    expanded = []
    for word in words:  # the shell would expand globs such as specs/*.yaml
        expanded += sorted(str(p) for p in Path().glob(word)) if "*" in word else [word]
    return CliRunner().invoke(app, expanded)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_session_runs_in_order(workspace):
    commands = dlspec_commands()
    assert len(commands) >= 5
    for command in commands:
        result = invoke(command)
        assert result.exit_code == 0, f"{command}\n{result.output}"
    predictions = (workspace / "predictions.csv").read_text().splitlines()
    assert len(predictions) == 21 and predictions[0].startswith("prediction,p_0,")


def test_the_readme_error_example_is_what_dlspec_prints(workspace):
    (example,) = [b for b in blocks("") if b.startswith("$ dlspec")]
    command, *expected = example.strip().splitlines()
    result = invoke(command.removeprefix("$ "))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == expected
