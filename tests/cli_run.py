"""Running the `dlspec` command line in-process, for the CLI tests."""

from __future__ import annotations

import sys

import pytest

from dlspec.cli import main


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """`dlspec *args` -> (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["dlspec", *args])
    with pytest.raises(SystemExit) as caught:
        main()
    out, err = capsys.readouterr()
    return caught.value.code or 0, out, err
