"""What the decoding tests share: a spec's model (random or trained weights) as a
TorchNetwork, and the shipped specs' paths."""

from __future__ import annotations

from pathlib import Path

from dlspec import api
from dlspec.generate.network import TorchNetwork

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"


def network_of(checked, module) -> TorchNetwork:
    """`module` (compiled from `checked`) as a Network, with its IR graph."""
    graph = checked.graph
    inputs = {name: (graph.node(name).type.sample_shape, graph.node(name).type.dtype)
              for name in graph.inputs}
    return TorchNetwork(module, inputs, tuple(graph.outputs), graph=graph)


def random_network(spec: Path | str, overrides=(), seed: int = 0):
    """(checked spec, its model with random weights as a Network)."""
    checked = api.check_spec(spec, list(overrides))
    return checked, network_of(checked, api.compile_module(checked, seed=seed))


def trained_network(spec: Path | str, run_dir: Path, overrides=()):
    """(checked spec, the run's best weights as a Network)."""
    from dlspec.train.run_folder.checkpoint import apply_checkpoint, load_checkpoint
    from dlspec.train.run_folder.run_dir import RunFiles

    checked = api.check_spec(spec, list(overrides))
    module = api.compile_module(checked)
    apply_checkpoint(module, load_checkpoint(RunFiles(run_dir).best))
    return checked, network_of(checked, module)
