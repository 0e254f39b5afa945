"""Check the `loss:` section against the model before any training: every term reads model
outputs that exist (as many as it takes), compares them with a model input that exists, and
the tensors it compares have shapes it can compare; then that it fits the task and the space
of the output it reads (check_loss_space.py). Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence

from dlspec.compiler import CheckedSpec
from dlspec.errors import Diagnostic, suggest
from dlspec.ir.types import TensorType
from dlspec.passes.check_data import task_of
from dlspec.passes.check_loss_space import (
    default_loss_problems,
    integral_output,
    term_task_problems,
)
from dlspec.train.recipe.loss_config import LossBase, loss_terms

CLASS_INDEX_LOSSES = ("cross_entropy", "nll", "focal")  # scores (.., C) against indices (..)


def loss_diagnostics(checked: CheckedSpec) -> list[Diagnostic]:
    """Every disagreement between the loss terms and the model, located at the term's key."""
    spec, graph = checked.spec, checked.graph
    if spec.models is not None:
        return []
    task = task_of(spec)
    if spec.loss is None:
        return default_loss_problems(checked, task)
    problems = []
    listed = isinstance(spec.loss, list)
    for index, term in enumerate(loss_terms(spec.loss)):
        where = ("loss", index) if listed else ("loss",)
        found = _term_problems(term, graph) or term_task_problems(term, graph, task)
        for problem, key in found:
            problems.append(problem.at(checked.loaded.source.span((*where, key))))
    return problems


def _term_problems(term: LossBase, graph) -> list[tuple[Diagnostic, str]]:
    outputs, inputs = list(graph.outputs), list(graph.inputs)
    named = term.outputs
    if named is None and len(outputs) != term.arity:
        reads = f"{term.arity} model output" + ("s" if term.arity > 1 else "")
        choice = outputs[0] if term.arity == 1 else outputs[:term.arity]
        return [(Diagnostic("DLS402", f"loss '{term.op}' reads {reads}, but the model has "
                                      f"{len(outputs)}: {outputs}",
                            hint=f"name what it reads, e.g. output: {choice}"), "op")]
    problems = [(_unknown_output(name, outputs, graph), "output")
                for name in named or () if name not in outputs]
    if term.target is not None and term.target not in inputs:
        problems.append((Diagnostic("DLS301", f"loss '{term.op}' compares with "
                                              f"'{term.target}', which is not a model input",
                                    hint=suggest(term.target, inputs)), "target"))
    if problems:
        return problems
    types = [(name, graph.node(name).type) for name in named or outputs]
    integral = [integral_output(f"loss '{term.op}'", name, t) for name, t in types
                if not t.dtype.startswith("float")]
    if integral:
        return [(integral[0], "op")]
    if term.target is not None:
        mismatch = _target_mismatch(term, types[0], (term.target, graph.node(term.target).type))
    else:
        mismatch = _outputs_mismatch(term, types)
    return [(mismatch, "target" if term.target else "output")] if mismatch else []


def _unknown_output(name: str, outputs: Sequence[str], graph) -> Diagnostic:
    if name in graph:
        return Diagnostic("DLS305", f"the loss reads '{name}', a layer that is not one of the "
                                    f"model's outputs {list(outputs)}",
                          hint=f"add '{name}' to the model's `outputs:`")
    return Diagnostic("DLS305", f"the loss reads the output '{name}', which the model does "
                                "not have", hint=suggest(name, outputs))


def _target_mismatch(term: LossBase, output: tuple[str, TensorType],
                     target: tuple[str, TensorType]) -> Diagnostic | None:
    """An output compared with a model input: the same shape for an elementwise loss; for a
    class-index loss on token ids, the scores' shape without its class dim."""
    (out_name, out), (in_name, given) = output, target
    if term.elementwise:
        want, hint = out.shape, "the output needs the input's shape"
    elif term.op in CLASS_INDEX_LOSSES and given.dtype == "int64":
        want, hint = out.shape[:-1], "the output needs the input's shape plus a class dim"
    else:
        return None
    if _same_shape(want, given.shape):
        return None
    return Diagnostic("DLS201", f"loss '{term.op}' compares the output '{out_name}' {out} with "
                                f"the input '{in_name}' {given}, whose shape does not fit",
                      hint=hint)


def _outputs_mismatch(term: LossBase, types: list[tuple[str, TensorType]]) -> Diagnostic | None:
    """Several outputs read by one term (a VAE's mean and log-variance, two views'
    embeddings) have one shape."""
    first_name, first = types[0]
    for name, other in types[1:]:
        if not _same_shape(first.shape, other.shape):
            return Diagnostic("DLS201", f"loss '{term.op}' reads '{first_name}' {first} and "
                                        f"'{name}' {other}, which need the same shape",
                              hint="give both layers the same output size")
    return None


def _same_shape(a: Sequence, b: Sequence) -> bool:
    """Equal rank and equal sizes where both are known (symbolic dims may be any size)."""
    return len(a) == len(b) and all(
        x == y for x, y in zip(a, b, strict=True) if isinstance(x, int) and isinstance(y, int))
