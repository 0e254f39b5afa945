"""Which parameters train with which settings: the optimizer's `groups` and `no_decay`.

Every trainable parameter lands in exactly one torch parameter group: the first spec group
whose pattern matches its name (the optimizer's own settings when none does), split in two by
`no_decay` (those matched get weight_decay 0 and no l1/l2 penalty).
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase

from torch import nn

from dlspec.errors import Diagnostic, SourceSpan, SpecError, did_you_mean
from dlspec.train.recipe.optim_config import OptimizerBase

# Layers whose every parameter `no_decay: auto` exempts (besides every bias).
NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)


def matches_any(name: str, patterns: list[str]) -> bool:
    """Whether a parameter name like 'block.0.bn1.bias' matches one of the glob patterns,
    either as a whole or in one of its dotted parts ('bias' and 'bn*' both match it)."""
    parts = name.split(".")
    return any(fnmatchcase(name, p) or any(fnmatchcase(part, p) for part in parts)
               for p in patterns)


def auto_no_decay(model: nn.Module) -> set[str]:
    """Names of every bias and of every parameter of a normalization layer."""
    names = {name for name, _ in model.named_parameters() if name.rsplit(".", 1)[-1] == "bias"}
    for prefix, module in model.named_modules():
        if isinstance(module, NORM_LAYERS):
            names |= {f"{prefix}.{name}" if prefix else name
                      for name, _ in module.named_parameters(recurse=False)}
    return names


def param_groups(model: nn.Module, config: OptimizerBase,
                 locate: Callable[[tuple], SourceSpan | None] = lambda path: None) -> list[dict]:
    """The torch parameter groups of the model's trainable parameters under `config`.

    Each group holds "params", "param_names" (as torch does), "weight_decay", "decayed"
    (False for the no_decay half) and "lr" when its spec group sets one. The optimizer's own
    group comes first; empty groups are left out. A pattern that matches no trainable
    parameter, or a group left empty by the groups before it, is a SpecError (DLS102):
    almost always a typo; `locate` gives it the place of a key path such as
    ('optimizer', 'groups', 0, 'params') in the spec file.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    names = [n for n, _ in named]
    for i, group in enumerate(config.groups):
        for pattern in group.patterns:
            _check_pattern(pattern, names, ("optimizer", "groups", i, "params"), locate)
    exempt = _exempt_names(model, config, names, locate)
    members: list[list] = [[] for _ in range(len(config.groups) + 1)]
    for name, param in named:
        index = next((i for i, g in enumerate(config.groups) if matches_any(name, g.patterns)),
                     -1)
        members[index].append((name, param))
    for i, group in enumerate(config.groups):
        if not members[i]:
            raise SpecError(Diagnostic(
                "DLS102", f"optimizer.groups[{i}] gets no parameter: every one its pattern "
                          f"{group.params!r} matches is taken by an earlier group",
                locate(("optimizer", "groups", i, "params")),
                hint="a parameter joins the first group that matches it; reorder the groups"))
    settings = [*[(g.lr, g.weight_decay) for g in config.groups], (None, None)]
    groups = []
    for i in (-1, *range(len(config.groups))):
        lr, weight_decay = settings[i]
        weight_decay = config.weight_decay if weight_decay is None else weight_decay
        for decayed in (True, False):
            part = [(n, p) for n, p in members[i] if (n not in exempt) == decayed]
            if not part:
                continue
            group = {"params": [p for _, p in part], "param_names": [n for n, _ in part],
                     "weight_decay": weight_decay if decayed else 0.0, "decayed": decayed}
            groups.append(group | ({"lr": lr} if lr is not None else {}))
    return groups


def _exempt_names(model: nn.Module, config: OptimizerBase, names: list[str],
                  locate: Callable[[tuple], SourceSpan | None]) -> set[str]:
    if config.no_decay == "auto":
        return auto_no_decay(model)
    for pattern in config.no_decay:
        _check_pattern(pattern, names, ("optimizer", "no_decay"), locate)
    return {name for name in names if matches_any(name, config.no_decay)}


def _check_pattern(pattern: str, names: list[str], path: tuple,
                   locate: Callable[[tuple], SourceSpan | None]) -> None:
    if any(matches_any(name, [pattern]) for name in names):
        return
    parts = {part for name in names for part in name.split(".")}
    close = did_you_mean(pattern, [*names, *sorted(parts)])
    examples = ", ".join(names[:4])
    where = "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path)[1:]
    raise SpecError(Diagnostic(
        "DLS102", f"{where}: pattern '{pattern}' matches no trainable parameter", locate(path),
        hint=close or f"parameters are named like {examples}; patterns such as '*.bias' "
                      "or 'bias' match every bias"))
