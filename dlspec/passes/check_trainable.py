"""Whether `dlspec train` can fit a spec's model to its `data:` at all: it trains one model
with one input on the data's (input, target) pairs. `validate` checks this at the `data` key,
and training checks it again at the same place before loading anything. Torch-free."""

from __future__ import annotations

from dlspec.compiler import CheckedSpec
from dlspec.errors import Diagnostic


def trainable_diagnostics(checked: CheckedSpec) -> list[Diagnostic]:
    """DLS402 at `data` when the spec has several models, or its model several inputs."""
    spec = checked.spec
    if spec.data is None:
        return []
    span = checked.loaded.source.key_span(("data",))
    if spec.models is not None:
        names = ", ".join(spec.models)
        return [Diagnostic(
            "DLS402", f"`data:` trains one model, but this spec has {len(spec.models)} "
            f"({names}); training several models together is not supported yet", span,
            hint="train a model from a spec of its own (the `model:` form), or remove `data:`")]
    inputs = checked.graph.inputs
    if len(inputs) != 1:
        return [Diagnostic(
            "DLS402", f"`data:` feeds a model with one input, but this one has "
            f"{len(inputs)} ({', '.join(inputs)})", span,
            hint="give the model one input, or remove `data:` (validate, compile, summary "
                 "and export work without it)")]
    return []
