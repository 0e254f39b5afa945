"""Export to ONNX, checked against ONNX Runtime: the pipeline's last step (`dlspec export`),
and loading a run's weights into a compiled model. Served from `dlspec.api` too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from dlspec.api import _explained_misfit, compile_module, spec_metadata, spec_or_run
from dlspec.errors import Diagnostic, ExportError
from dlspec.files import FOLDER, SPECIAL, refused_target
from dlspec.generate.decoder_graph import downstream_graph
from dlspec.generate.info import to_metadata
from dlspec.passes.check_objective import data_view


def export_spec(path: str | Path, output: str | Path, *, weights: str | Path | None = None,
                overrides: Sequence[str] = (), untrained: bool = False,
                model: str | None = None, from_layer: str | None = None):
    """Export to ONNX with the ONNX Runtime check; returns the export report. `path` may be
    a run folder (its spec, overrides and best checkpoint). Without weights it is refused
    (the file would hold random weights, no preprocessing and no class names) unless
    `untrained`. `model` picks one model of a spec with several (default: the first); its
    weights come from the run's checkpoint of them all (its EMA copy's, when the run kept
    one). `from_layer` exports the part of the model downstream of that layer, whose output
    is the file's input of the same name (a VAE's decoder: `from_layer` its latent layer)."""
    _check_target(output)
    checked, weights = spec_or_run(path, weights, overrides, run_weights=not untrained,
                                   model=model)
    reduced = checked.spec.export.precision != "fp32"
    if reduced:  # before anything runs: can the reduced file be measured?
        from dlspec.deploy.precision import check_reducible
        from dlspec.generate.info import generation_info

        check_reducible(checked, from_layer, generation_info(checked), weights)
    part = None if from_layer is None else downstream_graph(checked.graph, from_layer)
    if (weights is None) != untrained:
        raise ExportError(Diagnostic(
            "DLS501", "no trained weights to export: the file would hold freshly initialized "
                      "weights, without the training's preprocessing and class names"
            if weights is None else "--untrained exports fresh weights, but --weights was "
                                    "given too",
            hint="pass --weights RUN_DIR (or the run folder in place of the spec); "
                 "--untrained exports the untrained model on purpose"))
    from dlspec.backends.onnx_data_like import data_samples, graph_roles, like_data, with_roles
    from dlspec.backends.onnx_export import TensorInfo, export_onnx
    from dlspec.backends.onnx_tolerance import weighted_depth

    spec, graph = checked.spec, checked.graph  # the data, if any, only shapes the check inputs
    module = compile_module(checked)
    metadata = spec_metadata(checked)
    fed = data_view(checked).model == checked.model  # the data's scaling and labels are its
    generation = generation_record(checked, weights, from_layer)
    if part is not None:  # the part fed the layer's output: no data scaling or labels
        module = _downstream(checked, module, part, weights, path, overrides)
        checked = replace(checked, graphs={**checked.graphs, checked.model: part})
        graph, metadata, weights, fed = part, spec_metadata(checked), None, False
        metadata["from_layer"] = from_layer
    if generation is not None:
        metadata["generation"] = to_metadata(generation)
        # a denoiser's samplers work in the model's space: no standardization in front
        fed = fed and generation["kind"] != "diffusion"
    if weights is not None:
        with _explained_misfit(path, weights, overrides, "export"):
            module, stored = load_weights(
                module, weights, checked.model if spec.models is not None else None, fed,
                graph.inputs)
        if fed:
            metadata.update({k: v for k, v in stored.items()
                             if k in ("task", "class_names", "scored_output", "output_space",
                                      "tokenizer", "text_column", "columns")})  # columns: a table's encoding
    inputs = [TensorInfo(n, graph.node(n).type.sample_shape, graph.node(n).type.dtype)
              for n in graph.inputs]
    standardize = getattr(module, "standardize", None)
    scalers = {0: standardize} if standardize is not None else getattr(
        module, "input_scalers", {})
    metadata["preprocessing"] = "standardize" if scalers else "none"
    for i, scaler in scalers.items():  # check on inputs that look like the raw training data
        inputs[i] = replace(inputs[i], center=scaler.mean, scale=scaler.std)
    inputs = with_roles(inputs, graph_roles(graph))  # ids in range, 0/1 masks and graphs
    samples = data_samples(checked) if from_layer is None else None
    if samples is not None:
        inputs[0] = like_data(inputs[0], samples)
    dim_max = {name: dim.max for config in checked.inputs.values()
               for name, dim in config.dims.items() if dim.max}
    metadata["precision"] = "fp32"

    def export_to(target: str | Path):
        return export_onnx(module, inputs, list(graph.outputs), target,
                           opset=spec.export.opset, metadata=metadata,
                           tolerance=spec.export.tolerance, rtol=spec.export.rtol,
                           check_batch=spec.export.check_batch, dim_max=dim_max or None,
                           depths=weighted_depth(graph))

    if not reduced:
        return export_to(output)
    return _export_reduced(checked, export_to, output, scalers)


def _check_target(output: str | Path) -> None:
    """DLS501 before anything runs when -o names a folder or an existing file that is not a
    regular file (a device such as /dev/null was replaced by the model file)."""
    kind = refused_target(output)
    if kind == FOLDER:
        raise ExportError(Diagnostic("DLS501", f"-o {output} is a folder; give the .onnx file "
                                               "name to write"))
    if kind == SPECIAL:
        raise ExportError(Diagnostic("DLS501", f"-o {output} exists and is not a regular file "
                                               "(a device, pipe or socket); it is never "
                                               "replaced"))


def _export_reduced(checked, export_to, output: str | Path, scalers: dict[int, Any]):
    """The fp32 export, checked as always, into a private folder; then the reduced file
    (dlspec/deploy/precision.py) at `output`, written only within its metric budget."""
    import tempfile

    from dlspec.deploy.precision import export_reduced

    stats = {i: (s.mean.detach().cpu().numpy(), s.std.detach().cpu().numpy())
             for i, s in scalers.items()}
    with tempfile.TemporaryDirectory(prefix="dlspec-export-") as folder:
        fp32 = Path(folder) / "fp32.onnx"
        report = export_to(fp32)
        precision = export_reduced(checked, fp32, Path(output), stats)
    return replace(report, path=str(output), file_size=Path(output).stat().st_size,
                   precision=precision)


def generation_record(checked, weights: Path | None, from_layer: str | None = None
                      ) -> dict[str, Any] | None:
    """The generation record of the exported model (dlspec/generate/info.py), with the
    scaling of the data its samples are mapped back to, or None. Of a part (`from_layer`),
    only a VAE's decoder has one: the VAE's, marked `decoder`."""
    from dlspec.generate.info import generation_info
    from dlspec.generate.source import run_scale, scale_record
    from dlspec.train.run_folder.checkpoint import load_checkpoint
    from dlspec.train.run_folder.run_dir import RunFiles

    info = generation_info(checked)
    if info is not None and from_layer is not None:
        if info["kind"] != "vae" or info["latent_layer"] != from_layer:
            return None
        info = {**info, "decoder": True}
    if info is None or weights is None:
        return info
    path = RunFiles(weights).best if weights.is_dir() else weights
    return {**info, "scale": scale_record(run_scale(load_checkpoint(path).extras, info))}


def _downstream(checked: Any, module: Any, part: Any, weights: Path | None,
                path: str | Path, overrides: Sequence[str]) -> Any:
    """The module of `part` (downstream_graph of the checked model), with the run's
    weights when given."""
    from dlspec.generate.decoder_graph import downstream_module

    if weights is not None:
        with _explained_misfit(path, weights, overrides, "export"):
            module, _ = load_weights(module, weights, checked.model
                                     if checked.spec.models is not None else None, False)
    return downstream_module(part, module, f"{checked.model}-{part.inputs[0]}")


def load_weights(module: Any, weights: Path, model: str | None = None,
                 preprocess: bool = True, inputs: Sequence[str] = ()
                 ) -> tuple[Any, dict[str, str]]:
    """Load a checkpoint (a .safetensors file, or a run directory: its best checkpoint) into
    `module`; `model`: the name of the module among the several models that the checkpoint
    holds (their EMA copy when it has one). A model trained on standardized data comes back
    wrapped so that it takes raw features (unless `preprocess` is off: a model the data does
    not feed, like a GAN's generator); a model of several `inputs` (their names, in order)
    behind the standardization of each one that was standardized."""
    from dlspec.backends.torch_layers import Standardize, WithPreprocessing, with_input_scaling
    from dlspec.train.engine.model_set import one_model
    from dlspec.train.run_folder.checkpoint import apply_checkpoint, load_checkpoint
    from dlspec.train.run_folder.run_dir import RunFiles

    path = RunFiles(weights).best if weights.is_dir() else weights
    checkpoint = load_checkpoint(path)
    if model is not None:
        checkpoint = one_model(checkpoint, model)
    apply_checkpoint(module, checkpoint)
    mean, std = (checkpoint.extras.get(f"preprocess.{k}") for k in ("mean", "std"))
    if preprocess and mean is not None and std is not None:
        module = WithPreprocessing(Standardize(mean, std), module)
    scaled = {i: Standardize(checkpoint.extras[f"preprocess.{name}.mean"],
                             checkpoint.extras[f"preprocess.{name}.std"])
              for i, name in enumerate(inputs) if f"preprocess.{name}.mean" in checkpoint.extras}
    if preprocess and scaled:
        module = with_input_scaling(module, scaled, list(inputs))
    return module, checkpoint.metadata
