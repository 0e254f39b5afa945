"""The compile layer table: each layer's parameters counted by torch, a tied weight once."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from dlspec.analysis.summary import summarize
from dlspec.api import compile_module
from dlspec.compiler import check_spec
from dlspec.report import layer_rows, layer_table

ROOT = Path(__file__).resolve().parents[1]
TIED_WITH_BIAS = """\
dlspec: 1
name: t
inputs: {ids: {shape: [4], dtype: int64}}
model:
  - {op: embedding, name: wte, num_embeddings: 11, embedding_dim: 8}
  - {op: linear, name: head, out_features: 11, tie: wte}
"""


def test_a_tied_weight_is_counted_once_and_the_rows_add_up_to_the_module(tmp_path):
    checked = check_spec(ROOT / "tests" / "specs" / "valid" / "tiny-lm.yaml")
    module = compile_module(checked)
    rows = {name: count for name, _, _, count in layer_rows(checked.graph, module)}
    assert module.lm_head.weight is module.wte.weight
    assert rows["wte"] == 11 * 8 and rows["lm_head"] == 0  # its weight is wte's
    total = sum(p.numel() for p in module.parameters())  # torch counts a shared one once
    assert sum(rows.values()) == total == summarize(checked).params == 1024


def test_the_table_says_which_weight_a_layer_shares(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(TIED_WITH_BIAS)
    checked = check_spec(path)
    module = compile_module(checked)
    console = Console(width=200, record=True)
    console.print(layer_table(checked.graph, module))
    text = console.export_text()
    head = next(line for line in text.splitlines() if "│ head " in line)
    assert head.rstrip(" │").endswith("11 (shares wte.weight)")  # its bias only
    total = next(line for line in text.splitlines() if "│ total " in line)
    assert total.rstrip(" │").endswith(" 99")  # 11 * 8 + 11, the module's own count
    assert sum(p.numel() for p in module.parameters()) == 99
