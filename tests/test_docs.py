"""docs/spec.md stays complete: every error code and every op is documented there."""

from pathlib import Path

from dlspec.errors import CODES
from dlspec.ops.registry import op_registry

SPEC_DOC = (Path(__file__).resolve().parents[1] / "docs" / "spec.md").read_text()


def test_every_error_code_is_in_the_table():
    for code, meaning in CODES.items():
        assert f"| {code} | {meaning} |" in SPEC_DOC


def test_every_op_is_listed():
    for name in op_registry():
        assert f"`{name}`" in SPEC_DOC, name


def test_ops_reference_is_current():
    from dlspec.spec.ops_doc import ops_markdown

    committed = (Path(__file__).resolve().parents[1] / "docs" / "ops.md").read_text()
    assert committed == ops_markdown(), "docs/ops.md is stale: run `dlspec docs`"
