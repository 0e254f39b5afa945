"""How the commands present themselves: --version, one naming of values in every --help."""

from __future__ import annotations

import re

import typer.main
from cli_run import run_cli

import dlspec
from dlspec.cli import app


def test_version(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "--version")
    assert (code, out) == (0, f"dlspec {dlspec.__version__}\n")


def _help(monkeypatch, capsys, command: str) -> str:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run_cli(monkeypatch, capsys, command, "--help")
    assert code == 0
    return out


def test_every_help_names_values_the_same_way(monkeypatch, capsys):
    commands = typer.main.get_command(app).commands
    assert {"train", "compile", "export", "evaluate", "predict", "plot"} <= set(commands)
    usages = {}
    for name in commands:
        text = _help(monkeypatch, capsys, name)
        usages[name] = next(line.strip() for line in text.splitlines() if "Usage:" in line)
        # no value named by its Python type (<path>, <list[str]>, <int>), nor in lower case
        assert not re.search(r"<(path|file|dir|str|int|float|list\[\w+\])>", text), name
        assert not re.search(r"[{\[][a-z_]+[}\]]", usages[name]), usages[name]
    assert usages["train"] == "Usage: dlspec train [OPTIONS] [SPEC]"
    assert usages["compile"] == "Usage: dlspec compile [OPTIONS] {SPEC}"
    assert usages["validate"] == "Usage: dlspec validate [OPTIONS] {SPEC}..."
    assert usages["plot"] == "Usage: dlspec plot [OPTIONS] {RUN_DIR}"
    assert usages["predict"] == "Usage: dlspec predict [OPTIONS] {MODEL}"
    train = _help(monkeypatch, capsys, "train")
    for option, value in [("--set", "KEY=VALUE"), ("--out", "DIR"), ("--resume", "RUN_DIR"),
                          ("--epochs", "INT"), ("--name", "NAME")]:
        assert re.search(rf"{option}\s+{re.escape(value)}\s", train), option
    export = _help(monkeypatch, capsys, "export")
    assert re.search(r"--output\s+-o\s+FILE\s", export)
    assert re.search(r"--weights\s+FILE\|RUN_DIR\s", export)


def test_errors_name_arguments_as_help_does(monkeypatch, capsys):
    code, _, err = run_cli(monkeypatch, capsys, "plot", "nope-run")
    assert code == 2 and "Invalid value for 'RUN_DIR'" in err
