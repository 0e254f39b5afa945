"""Atomic writes leave no half file; a writer killed mid-write leaves a temporary file named
after it, which the next start removes (only a dead writer's, on this machine)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlspec.errors import DlspecError
from dlspec.files import HOST, MARK, atomic_path, remove_stale_temp_files, temp_path

ROOT = Path(__file__).resolve().parents[1]


def killed_mid_write(target: Path) -> int:
    """Run a process that writes half of `target` through atomic_path and is killed by
    SIGKILL; its pid (dead and reaped)."""
    code = textwrap.dedent(f"""
        import os, signal
        from dlspec.files import atomic_path
        with atomic_path({str(target)!r}) as tmp:
            tmp.write_bytes(b"half a checkpoint")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == -9, stderr.decode()
    return process.pid


def test_a_dead_writers_temp_file_is_removed_and_no_other(tmp_path):
    target = tmp_path / "last.safetensors"
    dead = killed_mid_write(target)
    [left] = list(tmp_path.iterdir())
    assert not target.exists() and left.read_bytes() == b"half a checkpoint"
    assert left.name.startswith(f".last.safetensors.{MARK}-{HOST}-{dead}-")

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        kept = [temp_path(tmp_path / "best.safetensors"),  # this process: alive
                tmp_path / f".x.{MARK}-{HOST}-{sleeper.pid}-1.tmp",  # another live process
                tmp_path / f".x.{MARK}-0badc0de-{dead}-1.tmp",  # another machine's
                tmp_path / f".x.{dead}-1.tmp",  # not named by temp_path
                tmp_path / f"x.{MARK}-{HOST}-{dead}-1.tmp"]  # not hidden
        for path in kept:
            path.write_text("x")
        assert remove_stale_temp_files(tmp_path) == [left]
        assert sorted(tmp_path.iterdir()) == sorted(kept)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert remove_stale_temp_files(tmp_path / "missing") == []


def test_a_failed_atomic_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(ValueError), atomic_path(target) as tmp:
        tmp.write_text("new, half")
        raise ValueError
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"] and target.read_text() == "old"


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_atomic_path_never_replaces_what_is_not_a_regular_file(tmp_path, kind):
    """Run as root, `export -o /dev/null` replaced the device with the model file."""
    target = tmp_path / "target"
    if kind == "folder":
        target.mkdir()
    else:
        os.mkfifo(target)
    with pytest.raises(DlspecError, match="DLS008") as caught, atomic_path(target) as tmp:
        tmp.write_text("x")
    assert "; it is never replaced" in str(caught.value)
    assert target.is_dir() if kind == "folder" else target.is_fifo()
    assert [p.name for p in tmp_path.iterdir()] == ["target"]
