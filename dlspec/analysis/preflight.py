"""Memory preflight: will the model's module fit in memory? Asked before it is allocated.

A size can pass every static check and still be impossible to build: a linear layer with
10^12 outputs, or a hidden size of 10^8 on 64 features (25.6 GB of weights). Torch would
then fail deep inside an allocation (or the process be killed for memory) after a long wait.
The preflight counts the module's parameters and buffers from the graph, the way `dlspec
summary` counts them (no torch: a tied weight once, float32, batch norm's running
statistics), and compares them with the memory available where the module is built (the
host) and, for a model headed to a GPU, with the GPU's free memory. Too large is a located
error (DLS205) at the largest layer, with both figures; `dlspec summary` gives it as a
warning.

The host's available memory is the kernel's estimate of what can be allocated without
swapping (MemAvailable in /proc/meminfo on Linux; elsewhere the free physical pages, from
sysconf), capped by the cgroup's memory limit in a container. Only the parameters and
buffers are compared: what training adds (gradients, optimizer state, activations; the
summary's memory table) is an estimate, and refusing on it could refuse a model that fits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dlspec.analysis.memory import PARAMETER_BYTES
from dlspec.analysis.summary import owned_params
from dlspec.errors import Diagnostic, Severity, SpecError
from dlspec.ir.graph import Graph, Node
from dlspec.report import format_bytes

if TYPE_CHECKING:
    from dlspec.compiler import CheckedSpec

CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max",  # cgroup v2
                 "/sys/fs/cgroup/memory/memory.limit_in_bytes")  # cgroup v1


@dataclass(frozen=True)
class LayerBytes:
    node: Node
    elements: int  # parameters it owns and buffers it holds
    bytes: int


def module_bytes(graph: Graph) -> list[LayerBytes]:
    """Each layer's parameters and buffers (float32), as the compiled module allocates them."""
    rows = []
    for node in graph.layers():
        inputs = [graph.node(name).type for name in node.inputs]
        elements = owned_params(node, inputs) + node.op.buffer_count(*inputs)
        rows.append(LayerBytes(node, elements, elements * PARAMETER_BYTES))
    return rows


def host_available() -> int | None:
    """Bytes the host can allocate now without swapping; None when it cannot be told."""
    found = _meminfo_available()
    if found is None:
        try:
            found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            return None
    limits = [limit for path in CGROUP_LIMITS if (limit := _read_int(path)) is not None]
    return min([found, *limits])


def _meminfo_available() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name == "MemAvailable" and value.split()[0].isdigit():
            return int(value.split()[0]) * 1024  # kB
    return None


def _read_int(path: str) -> int | None:
    """An integer file (a cgroup limit); None when absent or 'max' (no limit)."""
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def cuda_available() -> int | None:
    """Free bytes on the current CUDA GPU; None without one. Imports torch."""
    import torch

    if not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info()
    return int(free)


def memory_diagnostic(graph: Graph, available: int, where: str = "",
                      severity: Severity = "error") -> Diagnostic | None:
    """DLS205 at the largest layer when the module's parameters and buffers need more than
    `available` bytes (`where`: ' on the GPU' or ''); None when they fit."""
    rows = module_bytes(graph)
    total = sum(row.bytes for row in rows)
    if not rows or total <= available:
        return None
    big = max(rows, key=lambda row: row.bytes)
    have = f"{format_bytes(available)} of memory is available{where}"
    if big.bytes > available:
        count = f"{big.elements:,}" if big.elements < 10**15 else f"{big.elements:.2e}"
        message = f"needs {format_bytes(big.bytes)} for its {count} parameters alone; {have}"
    else:
        message = (f"the model needs {format_bytes(total)} for its parameters and buffers "
                   f"(this layer, its largest, {format_bytes(big.bytes)}); {have}")
    return Diagnostic(
        "DLS205", message, big.node.span, layer=big.node.name, op=big.node.op_name,
        severity=severity,
        hint="make the largest layers smaller (`dlspec summary` counts each layer's "
             "parameters), or use a machine with more memory")


def check_memory(checked: CheckedSpec, device: str = "cpu") -> None:
    """Raise SpecError (DLS205) when the module of `checked` cannot fit where it is built
    (host memory) or, for `device` 'cuda' or 'auto' with a GPU, on the GPU. Nothing is
    allocated; torch is imported only to ask a GPU."""
    budgets = [(host_available(), "")]
    if device != "cpu":
        budgets.append((cuda_available(), " on the GPU"))
    for available, where in budgets:
        if available is None:
            continue
        problem = memory_diagnostic(checked.graph, available, where)
        if problem is not None:
            raise SpecError(problem)


def memory_warning(checked: CheckedSpec) -> Diagnostic | None:
    """The preflight as a warning (for `dlspec summary`): the module does not fit in the
    host's available memory."""
    available = host_available()
    if available is None:
        return None
    return memory_diagnostic(checked.graph, available, severity="warning")
