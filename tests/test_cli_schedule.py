"""`dlspec schedule`: the printed milestones are lr_at's numbers; --plot writes a real PNG."""

from __future__ import annotations

import struct
from pathlib import Path

from cli_run import run_cli

from dlspec.compiler import check_spec
from dlspec.train.diagnostics.schedule_report import format_lr
from dlspec.train.recipe.schedules import lr_at

SPEC = Path(__file__).resolve().parents[1] / "specs" / "mlp-digits.yaml"


def test_schedule_prints_the_milestones_and_plots_them(monkeypatch, capsys, tmp_path):
    png = tmp_path / "plots" / "lr.png"
    code, out, err = run_cli(monkeypatch, capsys, "schedule", str(SPEC), "--set",
                             "train.epochs=4", "--plot", str(png))
    assert code == 0, err
    # digits: 1797 samples, 180 + 180 held out, 1437 train in batches of 64 -> 23 steps
    assert "4 epochs x 23 steps = 92 optimizer steps (1437 train samples" in out
    spec = check_spec(SPEC).spec
    base, schedules = spec.optimizer.lr, tuple(spec.schedule)
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 4 and cells[0].isdigit():
            rows[int(cells[0])] = cells
    assert sorted(rows) == [0, 23, 46, 69, 91]  # start, warmup done/peak/25%, 50%, 75%, end
    for step, (_, epoch, lr, _) in rows.items():
        assert lr == format_lr(lr_at(step, 23, 92, base, schedules))
        assert int(epoch) == step // 23 + 1
    assert "peak" in rows[23][3] and rows[91][3] == "end"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (800, 450)
    assert len(data) > 10_000  # a drawn curve, not an empty canvas
    assert f"wrote {png}" in out
    assert [p.name for p in png.parent.iterdir()] == ["lr.png"]  # no temp file left


def test_schedule_without_data_is_an_error(monkeypatch, capsys, tmp_path):
    spec = tmp_path / "nodata.yaml"
    text = SPEC.read_text().splitlines()
    spec.write_text("\n".join(line for line in text if not line.startswith("data:")) + "\n")
    code, _, err = run_cli(monkeypatch, capsys, "schedule", str(spec))
    assert code == 1 and f"{spec}:1:1: error DLS103" in err and "needs a `data:` section" in err
