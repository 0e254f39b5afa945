"""The commands around runs, as a user types them: a start that fails leaves no folder,
Ctrl-C tells how to resume, a finished run is extended, and evaluate/export/plot take a run
folder alone."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dlspec.cli import app

SPECS = Path(__file__).resolve().parents[1] / "specs"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_a_data_section_no_training_can_feed_is_refused_by_train_and_lr_find(tmp_path):
    spec = tmp_path / "dcgan.yaml"
    spec.write_text((SPECS / "dcgan.yaml").read_text() + "data: {dataset: digits}\n")
    line = spec.read_text().count("\n")
    for command in (["train", spec, "--out", tmp_path / "runs"], ["lr-find", spec]):
        result = run(*command)
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert f"dcgan.yaml:{line}:1: error DLS402: `data:` cannot train a spec with several " \
               "models (generator, discriminator)" in result.output
    assert not (tmp_path / "runs").exists()
