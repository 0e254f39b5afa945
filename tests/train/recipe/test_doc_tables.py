"""The op tables in docs/spec.md are generated from the models and kept current."""

from __future__ import annotations

import pytest

from dlspec.train.config_base import op_names
from dlspec.train.recipe.doc_tables import DOC, TABLES, render, table


def test_the_doc_tables_are_current():
    doc = DOC.read_text(encoding="utf-8")
    assert render(doc) == doc, "run: python -m dlspec.train.recipe.doc_tables"


def test_every_op_has_a_row_with_its_defaults():
    for name, (classes, _) in TABLES.items():
        text = table(name)
        for cls in classes:
            for op in op_names(cls):
                assert f"`{op}`" in text, (name, op)
    assert "| `adamw` | `lr`: 0.001, `weight_decay`: 0.01, `betas`: [0.9, 0.999], `eps`: 1e-08," \
        in table("optimizers")
    assert "`step_size`: required" in table("schedules")
    assert "`output`" not in table("losses")  # shared term fields are explained in prose


def test_render_fills_empty_markers_and_refuses_a_doc_without_them():
    doc = "intro\n" + "".join(f"<!-- table: {n} -->\n<!-- end table: {n} -->\n" for n in TABLES)
    filled = render(doc)
    assert table("schedules") in filled and render(filled) == filled
    with pytest.raises(ValueError, match="no <!-- table: losses -->"):
        render("a doc without markers")
