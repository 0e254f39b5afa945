"""Running the `dlspec` command line, for the CLI tests: in-process, or in a fresh interpreter
that says whether a module (torch) was imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dlspec.cli import main


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """`dlspec *args` -> (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["dlspec", *args])
    with pytest.raises(SystemExit) as caught:
        main()
    out, err = capsys.readouterr()
    return caught.value.code or 0, out, err


ROOT = Path(__file__).resolve().parents[1]
# `dlspec ARGS`, then whether MODULE was imported, as the last line of stderr
_FRESH = """
import sys
from dlspec.cli import main
sys.argv = ["dlspec", *sys.argv[1:]]
try:
    main()
finally:
    print("MODULE", "imported" if "MODULE" in sys.modules else "not imported", file=sys.stderr)
"""


def run_fresh(cwd: Path, *args: str, module: str = "torch") -> tuple[int, str]:
    """`dlspec *args` in a fresh interpreter in `cwd`: (exit code, stderr, which ends with
    the line "<module> imported" or "<module> not imported")."""
    done = subprocess.run([sys.executable, "-c", _FRESH.replace("MODULE", module), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=fresh_env())
    return done.returncode, done.stderr


def fresh_env() -> dict[str, str]:
    """The environment of a fresh interpreter running this checkout's dlspec."""
    return {"PYTHONPATH": str(ROOT), "COLUMNS": "200", "OMP_NUM_THREADS": "1",
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
