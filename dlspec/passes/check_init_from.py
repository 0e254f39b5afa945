"""Check `train.init_from` statically: the weight mapping it names exists and is a valid
mapping (located at the spec line, or in the mapping file), and the checkpoint it reads is a
safetensors file or a run folder with one (located at `path:`). Torch-free."""

from __future__ import annotations

from dlspec.compiler import CheckedSpec
from dlspec.errors import Diagnostic, DlspecError, SpecError


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


def init_from_file_diagnostics(checked: CheckedSpec) -> list[Diagnostic]:
    """Problems with the checkpoint `train.init_from.path` names (relative to the spec): it
    must be a readable safetensors file (its header read, never a pickle), or a run folder
    holding its best or last checkpoint. Checked before a fresh training imports torch (not
    when a run is resumed: that run does not read it again)."""
    init = checked.spec.train.init_from
    if init is None:
        return []
    from dlspec.train.run_folder.run_dir import checkpoint_file
    from dlspec.weights.source import check_safetensors, unreadable

    span = checked.loaded.source.span(("train", "init_from", "path"))
    path = checked.loaded.base_dir / init.path
    if not path.exists():
        return [Diagnostic("DLS007", f"init_from: {path} does not exist", span,
                           hint="`path` is relative to the spec's folder: a .safetensors file, "
                                "or a run folder (its best checkpoint)")]
    if not checkpoint_file(path).exists():  # a folder without one
        return [unreadable(path, "a folder without checkpoints/best.safetensors or "
                           "last.safetensors (not a finished run folder)", span).diagnostics[0]]
    try:
        check_safetensors(checkpoint_file(path), span)
    except DlspecError as error:
        return error.diagnostics
    return []
