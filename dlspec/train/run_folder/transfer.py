"""Transfer learning: initialize part of a model from a checkpoint, and freeze parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from dlspec.errors import Diagnostic, SourceSpan, TrainError, did_you_mean
from dlspec.train.recipe.optim import matches_any
from dlspec.train.recipe.transfer_config import InitFromConfig
from dlspec.train.run_folder.checkpoint import load_checkpoint
from dlspec.train.run_folder.run_dir import checkpoint_file


@dataclass(frozen=True)
class InitReport:
    """What `init_from` did: the keys it loaded, and those it could not match."""

    path: Path
    loaded: list[str]
    missing: list[str]  # selected model keys the checkpoint does not have (kept as they were)
    unexpected: list[str]  # selected checkpoint keys the model does not have (ignored)
    not_selected: list[str] = field(default_factory=list)  # model keys left out by the globs
    mapping: str | None = None  # the weight mapping the checkpoint was read through

    def lines(self) -> list[str]:
        """The report, for the console."""
        through = f" (through weight mapping {self.mapping})" if self.mapping else ""
        lines = [f"init_from {self.path}{through}: {len(self.loaded)} loaded, "
                 f"{len(self.missing)} missing, {len(self.unexpected)} unexpected, "
                 f"{len(self.not_selected)} not selected"]
        for label, keys in (("loaded", self.loaded),
                            ("missing (kept their initialization)", self.missing),
                            ("unexpected (ignored)", self.unexpected)):
            if keys:
                lines.append(f"  {label}: {', '.join(keys)}")
        return lines


def renamed(key: str, rename: dict[str, str]) -> str:
    """`key` with the first matching old prefix replaced by its new prefix."""
    for old, new in rename.items():
        if key.startswith(old):
            return new + key[len(old):]
    return key


def init_from(model: torch.nn.Module, config: InitFromConfig, base_dir: Path) -> InitReport:
    """Load the selected tensors of a checkpoint into `model` (parameters and buffers).

    Checkpoint keys are renamed first, then kept when they match an `include` glob and no
    `exclude` glob. A shape mismatch is a TrainError DLS404 naming the key and both shapes.
    """
    path = checkpoint_file(base_dir / config.path)

    def selected(key: str) -> bool:
        return matches_any(key, config.include) and not matches_any(key, config.exclude)

    own = model.state_dict()
    if config.mapping is not None:
        return _init_through_mapping(own, config, base_dir, path, selected)
    stored = load_checkpoint(path).state_dict
    offered = {renamed(k, config.rename): v for k, v in stored.items()}
    offered = {k: v for k, v in offered.items() if selected(k)}
    for key, tensor in offered.items():
        if key in own and tuple(tensor.shape) != tuple(own[key].shape):
            raise TrainError(Diagnostic(
                "DLS404", f"init_from: '{key}' has shape {tuple(tensor.shape)} in {path} but "
                          f"{tuple(own[key].shape)} in the model",
                hint="exclude it (train.init_from.exclude), or rename the checkpoint's keys "
                     "onto a layer of that shape"))
    loaded = [k for k in own if k in offered]
    with torch.no_grad():
        for key in loaded:
            own[key].copy_(offered[key])
    return InitReport(
        path=path, loaded=loaded,
        missing=[k for k in own if selected(k) and k not in offered],
        unexpected=sorted(k for k in offered if k not in own),
        not_selected=[k for k in own if not selected(k)])


def _init_through_mapping(own: dict[str, torch.Tensor], config: InitFromConfig,
                          base_dir: Path, path: Path,
                          selected: Callable[[str], bool]) -> InitReport:
    """`init_from` with a weight mapping: the checkpoint is a reference's state dict, mapped
    onto the model's tensors. Selected tensors the mapping fills with a wrong shape (or a
    rule that fails on) are a TrainError DLS404 naming each; those it leaves unfilled are
    reported as missing, with why."""
    from dlspec.weights.apply import map_weights
    from dlspec.weights.importing import read_state_dict
    from dlspec.weights.mapping import load_mapping

    mapping = load_mapping(config.mapping, base_dir)
    mapped = map_weights(read_state_dict(path), mapping, own)
    bad = [f"'{name}' got {tuple(got)}, the model has {tuple(want)}"
           for name, got, want in mapped.mismatched if selected(name)]
    bad += [f"'{name}': {why}" for name, why in mapped.failed if selected(name)]
    if bad:
        raise TrainError(Diagnostic(
            "DLS404", f"init_from: weight mapping {mapping.label} does not fit {path}: "
                      + "; ".join(bad),
            hint="fix the mapping's rules, or exclude those tensors (train.init_from.exclude)"))
    loaded = [k for k in own if k in mapped.tensors and selected(k)]
    with torch.no_grad():
        for key in loaded:
            own[key].copy_(mapped.tensors[key])
    return InitReport(
        path=path, loaded=loaded, mapping=mapping.label,
        missing=[f"{k} ({mapped.why_missing[k]})" for k in mapped.missing if selected(k)],
        unexpected=list(mapped.unused), not_selected=[k for k in own if not selected(k)])


def freeze(model: torch.nn.Module, patterns: list[str],
           locate: Callable[[tuple], SourceSpan | None] = lambda path: None) -> list[str]:
    """Turn off requires_grad of every parameter matching a glob; returns their names.

    A pattern that matches no parameter is a TrainError DLS102 with a did-you-mean, placed
    by `locate` (a key path such as ('train', 'freeze', 0) -> its place in the spec file).
    """
    names = [name for name, _ in model.named_parameters()]
    for index, pattern in enumerate(patterns):
        if not any(matches_any(name, [pattern]) for name in names):
            parts = sorted({part for name in names for part in name.split(".")})
            raise TrainError(Diagnostic(
                "DLS102", f"train.freeze pattern '{pattern}' matches no parameter",
                locate(("train", "freeze", index)),
                hint=did_you_mean(pattern, [*names, *parts])
                or f"parameters are named like {', '.join(names[:4])}"))
    frozen = []
    for name, parameter in model.named_parameters():
        if matches_any(name, patterns):
            parameter.requires_grad_(False)
            frozen.append(name)
    return frozen
