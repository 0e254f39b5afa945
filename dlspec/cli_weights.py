"""`dlspec import-weights`: a reference model's safetensors state dict -> the spec's weights.

Registered on the `dlspec` app by dlspec.cli; every argument, the spec and the mapping are
checked before torch is imported.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dlspec.cli import SetOption, app, reports_errors
from dlspec.cli_early import check_first
from dlspec.errors import Diagnostic, DlspecError


@app.command(name="import-weights")
@reports_errors
def import_weights(
        source: Annotated[Path, typer.Argument(
            exists=True, dir_okay=False, show_default=False,
            help="The reference's state dict as a .safetensors file (torchvision, timm, "
                 "Hugging Face; pickled .bin/.pt files are never read).")],
        spec: Annotated[Path, typer.Option(
            "--spec", metavar="SPEC", show_default=False, help="The spec file (YAML) to make weights for.")],
        output: Annotated[Path, typer.Option(
            "-o", "--output", dir_okay=False, show_default=False,
            help="The .safetensors file to write (a checkpoint that --weights and "
                 "train.init_from read).")],
        mapping: Annotated[str | None, typer.Option(
            metavar="NAME|FILE", help="A shipped mapping's name or a mapping file (.yaml); default: the one "
                 "shipped for the spec's name.")] = None,
        set_: SetOption = (),
        partial: Annotated[bool, typer.Option(
            "--partial", help="Write what mapped even when spec tensors are left out (they are "
                 "listed); without it such a mapping writes nothing.")] = False):
    """Map a pretrained state dict onto the spec's parameters and write them."""
    checked = check_first(spec, set_, data=False)
    from dlspec.files import refused_target
    from dlspec.weights.mapping import mapping_for
    from dlspec.weights.source import check_safetensors

    check_safetensors(source)

    chosen = mapping_for(checked.spec.name, mapping)
    kind = refused_target(output)
    if kind is not None:
        raise DlspecError(Diagnostic("DLS008", f"{output} is {kind}; it is never replaced",
                                     hint="give a file name to write"))
    if chosen.spec is not None and chosen.spec != checked.spec.name:
        print(f"warning: mapping {chosen.label} is written for spec '{chosen.spec}', not "
              f"'{checked.spec.name}'", file=sys.stderr)
    from dlspec.weights.importing import import_weights as run_import

    result = run_import(checked, source, chosen, output, partial=partial)
    for line in result.summary(source, chosen, output):
        print(line)
