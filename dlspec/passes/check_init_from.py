"""Check `train.init_from.mapping` statically: the weight mapping it names exists and is a
valid mapping (located at the spec line, or in the mapping file). Torch-free."""

from __future__ import annotations

from dlspec.compiler import CheckedSpec
from dlspec.errors import Diagnostic, SpecError


def init_from_diagnostics(checked: CheckedSpec) -> list[Diagnostic]:
    """Problems with the weight mapping `train.init_from` reads its checkpoint through."""
    init = checked.spec.train.init_from
    if init is None or init.mapping is None:
        return []
    from dlspec.weights.mapping import load_mapping

    span = checked.loaded.source.span(("train", "init_from", "mapping"))
    try:
        load_mapping(init.mapping, checked.loaded.base_dir, span)
    except SpecError as error:
        return error.diagnostics
    return []
