"""`dlspec search` on the command line: the report, best.yaml trainable as is, and located
errors for a spec without a search or a storage that cannot be opened."""

from __future__ import annotations

import sys

import pytest
from search_fixtures import write_spec

from dlspec.cli import main

RANDOM_2 = ("  sampler: random\n  trials: 2\n  space:\n"
            "    optimizer.lr: {float: [1.0e-3, 1.0e-1], log: true}\n"
            "    params.hidden: {int: [8, 32], step: 8}\n")


def dlspec(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["dlspec", *map(str, args)])
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as caught:
        main()
    out, err = capsys.readouterr()
    return caught.value.code or 0, out, err


def test_search_reports_its_trials_and_writes_a_best_yaml_that_trains(tmp_path, monkeypatch,
                                                                       capsys):
    spec = write_spec(tmp_path, RANDOM_2, epochs=1)
    code, out, err = dlspec(monkeypatch, capsys, "search", spec, "--out", tmp_path / "studies",
                            "--no-plots")
    assert code == 0, err
    assert "study 'tiny' in sqlite:///" in out and "2 trials, random sampler" in out
    assert out.count("COMPLETE") >= 2 + 2  # a line per trial, a row per trial
    for column in ("val_accuracy", "optimizer.lr", "params.hidden", "state", "time"):
        assert column in out
    best = tmp_path / "studies" / "tiny" / "best.yaml"
    assert f"wrote {best}" in out and "importance: " in out
    code, out, err = dlspec(monkeypatch, capsys, "validate", best)
    assert code == 0 and "ok" in out, err
    code, out, err = dlspec(monkeypatch, capsys, "train", best, "--epochs", "1", "--quiet",
                            "--out", tmp_path / "runs", "--name", "best")
    assert code == 0 and (tmp_path / "runs" / "best" / "checkpoints").is_dir(), err


def test_a_spec_without_search_is_refused_before_any_study(tmp_path, monkeypatch, capsys):
    spec = write_spec(tmp_path, "")
    spec.write_text(spec.read_text().replace("search:\n", ""))
    code, out, err = dlspec(monkeypatch, capsys, "search", spec, "--out", tmp_path / "s")
    assert code == 1
    assert f"error DLS701: {spec} has no `search:` section" in err
    assert "Traceback" not in err and not (tmp_path / "s").exists()


def test_a_storage_that_cannot_be_opened_is_a_located_error(tmp_path, monkeypatch, capsys):
    spec = write_spec(tmp_path, RANDOM_2)
    code, out, err = dlspec(monkeypatch, capsys, "search", spec, "--storage",
                            "nosuchdb://user@host/db", "--out", tmp_path / "s")
    assert code == 1
    assert "error DLS710: cannot open the study storage nosuchdb://user@host/db" in err
    assert "help: give --storage an Optuna storage URL" in err
    assert "Traceback" not in err


def test_the_docs_search_spec_validates_as_the_docs_show(tmp_path, monkeypatch, capsys):
    """docs/search.md's commands: the spec it makes from mlp-digits, and validate's lines."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "search.md").read_text()
    make = doc.split("```bash\ncp specs/mlp-digits.yaml mlp-search.yaml\n")[1].split("```")[0]
    section = make.split("<<'EOF'\n")[1].split("EOF\n")[0]
    spec = tmp_path / "mlp-search.yaml"
    spec.write_text((root / "specs" / "mlp-digits.yaml").read_text() + section)
    shown = doc.split("```\n$ dlspec validate mlp-search.yaml\n")[1].split("```")[0]
    monkeypatch.chdir(tmp_path)
    code, out, err = dlspec(monkeypatch, capsys, "validate", "mlp-search.yaml")
    assert code == 0, err
    assert out == shown
    assert doc.count("dlspec search mlp-search.yaml") == 2 and "specs/mlp-search" not in doc


def test_a_database_storage_keeps_its_password_off_the_screen(tmp_path, monkeypatch, capsys):
    import importlib.util

    spec = write_spec(tmp_path, RANDOM_2)
    code, out, err = dlspec(monkeypatch, capsys, "search", spec, "--storage",
                            "postgresql://me:secret@127.0.0.1:1/db", "--out", tmp_path / "s")
    assert code == 1 and "Traceback" not in err
    assert "error DLS710: cannot open the study storage postgresql://me:***@127.0.0.1:1/db: " \
        in err and "secret" not in out + err
    if importlib.util.find_spec("psycopg2") is None:
        assert "the database's Python driver is not installed" in err
        assert "help: install it: pip install psycopg2-binary" in err


def test_an_interrupted_search_prints_a_resume_command_the_shell_reads(tmp_path, monkeypatch,
                                                                        capsys):
    import shlex

    from dlspec.search import driver

    def ctrl_c(request):
        raise KeyboardInterrupt

    monkeypatch.setattr(driver, "search", ctrl_c)
    spec = write_spec(tmp_path, RANDOM_2)
    code, out, err = dlspec(monkeypatch, capsys, "search", spec, "--set",
                            "data.split=[0.5, 0.5, 0.0]", "--study", "my study", "--out",
                            tmp_path / "s")
    assert code == 130
    command = err.split("resumes: `")[1].split("`")[0]
    assert shlex.split(command) == ["dlspec", "search", str(spec), "--set",
                                    "data.split=[0.5, 0.5, 0.0]", "--study", "my study",
                                    "--out", str(tmp_path / "s")]


def test_an_out_folder_that_is_a_file_is_a_located_error(tmp_path, monkeypatch, capsys):
    spec = write_spec(tmp_path, RANDOM_2)
    (tmp_path / "afile").write_text("x")
    code, out, err = dlspec(monkeypatch, capsys, "search", spec, "--out", tmp_path / "afile")
    assert code == 1 and "Traceback" not in err
    assert "error DLS710: cannot open the study storage sqlite:///" in err
    assert "help: give --out (or --storage) a folder that can be written" in err
