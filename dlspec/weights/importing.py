"""Read a reference model's state dict (safetensors only, never pickle), map it onto a spec
and write the spec's weights as a dlspec checkpoint: what `dlspec import-weights` does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from dlspec.errors import Diagnostic, DlspecError, SourceSpan
from dlspec.weights.apply import MappedWeights, map_weights
from dlspec.weights.mapping import WeightMapping
from dlspec.weights.source import check_safetensors, unreadable


def read_state_dict(path: str | Path, span: SourceSpan | None = None) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file, on the CPU. A file that is not safetensors (a
    pickled .bin/.pt above all: never loaded) is a DlspecError DLS007."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    check_safetensors(path, span)
    try:
        return load_file(str(path))
    except (OSError, SafetensorError, ValueError) as error:
        raise unreadable(path, str(error).strip() or type(error).__name__, span) from None


@dataclass(frozen=True)
class ImportResult:
    """What `import_weights` read, mapped and wrote."""

    mapped: MappedWeights
    source_tensors: int
    target_tensors: int
    parameters: int  # elements of the tensors written

    def summary(self, source: Path, mapping: WeightMapping, output: Path) -> list[str]:
        mapped = self.mapped
        lines = [f"mapped {len(mapped.tensors)} of {self.target_tensors} spec tensors "
                 f"({self.parameters:,} values) from {self.source_tensors} tensors of {source} "
                 f"with mapping {mapping.label}"]
        lines += mapped.lines()
        left = mapped.left_out()
        lines.append(f"wrote {output}" + (f" without {len(left)} spec tensor(s) left out "
                                           f"above: {', '.join(left)}" if left else ""))
        return lines


def spec_tensors(checked) -> dict[str, torch.Tensor]:
    """The spec's state dict with nothing allocated (on the meta device): the names, shapes
    and dtypes a mapping fills."""
    from dlspec.backends.torch_module import build_module

    name = checked.spec.name if checked.spec.models is None else checked.model
    with torch.device("meta"):
        return build_module(checked.graph, name).state_dict()


def import_weights(checked, source: str | Path, mapping: WeightMapping, output: str | Path,
                   *, partial: bool = False) -> ImportResult:
    """Map the safetensors file `source` onto the spec `checked` (a CheckedSpec) and write its
    weights to `output` (atomically, a dlspec checkpoint that `--weights` and `init_from`
    read). Unless `partial`, a mapping that leaves a spec tensor out writes nothing and is a
    DlspecError DLS404 naming every tensor; with `partial` only the mapped tensors are written
    and the result lists the rest."""
    from dlspec.api import spec_metadata
    from dlspec.train.run_folder.checkpoint import save_checkpoint

    stored = read_state_dict(source)
    target = spec_tensors(checked)
    mapped = map_weights(stored, mapping, target)
    if not mapped.complete and not partial:
        raise DlspecError(Diagnostic(
            "DLS404", f"the mapping leaves {len(mapped.left_out())} of {len(target)} spec "
                      f"tensors unfilled, so nothing was written:\n" + "\n".join(mapped.lines()),
            hint="fix the mapping's rules, or pass --partial to write only what mapped"))
    metadata = {**spec_metadata(checked), "weights_from": str(source),
                "weight_mapping": mapping.file}
    if not mapped.complete:
        metadata["left_out"] = ", ".join(mapped.left_out())
    save_checkpoint(Path(output), mapped.tensors, metadata)
    return ImportResult(mapped, len(stored), len(target),
                        sum(t.numel() for t in mapped.tensors.values()))
