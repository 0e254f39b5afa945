"""The pipeline as functions: check, compile, train, export. The CLI and tests call these."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from dlspec import __version__
from dlspec.compiler import CheckedSpec, check_spec
from dlspec.errors import DataError, Diagnostic, SourceSpan, TrainError
from dlspec.passes.check_data import at_data, data_diagnostics, output_rank_diagnostics, task_of


def check(path: str | Path, overrides: Sequence[str] = ()) -> CheckedSpec:
    """Every static check, the data fit included. Torch-free."""
    checked = check_spec(path, overrides)
    problems = data_diagnostics(checked)
    if problems:
        raise DataError(problems)
    return checked


def compile_module(checked: CheckedSpec, seed: int | None = None):
    """The spec's model as a torch module, initialized from `seed` (default: train.seed)."""
    import torch

    from dlspec.backends.torch_module import build_module

    torch.manual_seed(checked.spec.train.seed if seed is None else seed)
    return build_module(checked.graph, checked.spec.name)


def spec_metadata(checked: CheckedSpec) -> dict[str, str]:
    """What every checkpoint and ONNX file records about where it came from."""
    graph = checked.graph
    return {
        "dlspec_version": __version__,
        "spec_name": checked.spec.name,
        "spec_sha256": checked.loaded.sha256,
        "inputs": json.dumps({n: graph.node(n).type.to_json() for n in graph.inputs}),
        "outputs": json.dumps({n: graph.node(n).type.to_json() for n in graph.outputs}),
    }


def train_spec(path: str | Path, overrides: Sequence[str] = (), *, out_root: Path = Path("runs"),
               run_name: str | None = None, quiet: bool = False):
    """Train a spec on its data; returns the training result (run dir, metrics). The run goes
    to `out_root/run_name`, or to `out_root/<spec name>-<time>` without a run name."""
    from dlspec.files import atomic_write_text
    from dlspec.ir.serialize import spec_to_text
    from dlspec.train.loop import fit
    from dlspec.train.run_dir import make_named_run_dir, make_run_dir

    checked = check_spec(path, overrides)  # the data is checked once, as it is loaded
    spec, graph = checked.spec, checked.graph
    if spec.data is None or len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise TrainError(Diagnostic(
            "DLS403", "training needs a `data:` section and a model with one input and one "
            "output", SourceSpan(str(path), 1, 1),
            hint="add e.g. `data: {dataset: digits}`"))
    data = load_data(checked)
    module = compile_module(checked)
    recipe = recipe_for(checked)
    run_dir = (make_named_run_dir(Path(out_root), run_name) if run_name
               else make_run_dir(Path(out_root), spec.name))
    atomic_write_text(run_dir / "spec.yaml", checked.loaded.text)
    atomic_write_text(run_dir / "ir.json", spec_to_text(checked))
    return fit(module, data, recipe, run_dir, device=spec.train.device, seed=spec.train.seed,
               metadata=spec_metadata(checked), quiet=quiet)  # fit adds task, classes, data


def load_data(checked: CheckedSpec):
    """The spec's data, loaded once, checked against the model (same checks and locations
    as `check`) and shaped for it."""
    from dlspec.data.prepare import prepare_data

    problems = output_rank_diagnostics(checked)
    if problems:
        raise DataError(problems)
    graph = checked.graph
    try:
        return prepare_data(checked.spec.data, base_dir=checked.loaded.base_dir,
                            input_shape=graph.node(graph.inputs[0]).type.sample_shape,
                            task=task_of(checked.spec),
                            num_outputs=graph.node(graph.outputs[0]).type.shape[-1])
    except DataError as err:
        raise DataError(at_data(checked, err.diagnostics)) from None


def recipe_for(checked: CheckedSpec):
    """The training recipe of a spec: its sections, with the defaults of its task."""
    from dlspec.train.recipe import Recipe

    spec = checked.spec
    return Recipe.from_sections(
        task_of(spec), loss=spec.loss, optimizer=spec.optimizer, schedule=spec.schedule,
        regularization=spec.regularization, train=spec.train,
        batch_size=spec.data.batch_size, shuffle=spec.data.shuffle)


def export_spec(path: str | Path, output: str | Path, *, weights: str | Path | None = None,
                overrides: Sequence[str] = ()):
    """Export to ONNX with the ONNX Runtime check; returns the export report."""
    from dlspec.backends.onnx_export import TensorInfo, export_onnx

    checked = check_spec(path, overrides)  # the weights define the model; no data is read
    spec, graph = checked.spec, checked.graph
    module = compile_module(checked)
    metadata = spec_metadata(checked)
    if weights is not None:
        module, stored = load_weights(module, Path(weights))
        metadata.update({k: v for k, v in stored.items() if k in ("task", "class_names")})
    inputs = [TensorInfo(n, graph.node(n).type.sample_shape, graph.node(n).type.dtype)
              for n in graph.inputs]
    standardize = getattr(module, "standardize", None)
    metadata["preprocessing"] = "standardize" if standardize else "none"
    if standardize is not None:  # check on inputs that look like the raw training data
        inputs[0] = replace(inputs[0], center=standardize.mean, scale=standardize.std)
    dim_max = {name: dim.max for config in spec.inputs.values()
               for name, dim in config.dims.items() if dim.max}
    return export_onnx(module, inputs, list(graph.outputs), output, opset=spec.export.opset,
                       metadata=metadata, tolerance=spec.export.tolerance,
                       rtol=spec.export.rtol,
                       check_batch=spec.export.check_batch, dim_max=dim_max or None,
                       int_high=_vocabulary_sizes(checked))


def load_weights(module: Any, weights: Path) -> tuple[Any, dict[str, str]]:
    """Load a checkpoint (a .safetensors file, or a run directory: its best checkpoint) into
    `module`. A model trained on standardized data comes back wrapped so that it takes raw
    features."""
    from dlspec.backends.torch_layers import Standardize, WithPreprocessing
    from dlspec.train.checkpoint import apply_checkpoint, load_checkpoint
    from dlspec.train.run_dir import RunFiles

    path = RunFiles(weights).best if weights.is_dir() else weights
    checkpoint = load_checkpoint(path)
    apply_checkpoint(module, checkpoint)
    mean, std = (checkpoint.extras.get(f"preprocess.{k}") for k in ("mean", "std"))
    if mean is not None and std is not None:
        module = WithPreprocessing(Standardize(mean, std), module)
    return module, checkpoint.metadata


def _vocabulary_sizes(checked: CheckedSpec) -> dict[str, int]:
    """For each int64 input, the smallest vocabulary of the embeddings reading it."""
    graph = checked.graph
    sizes: dict[str, int] = {}
    for node in graph.layers():
        vocabulary = getattr(node.op, "num_embeddings", None)
        for source in node.inputs:
            if vocabulary and source in graph.inputs:
                sizes[source] = min(sizes.get(source, vocabulary), vocabulary)
    return sizes
