"""The pipeline as functions: check, compile, train, export (in api_export.py, served from
here too). The CLI and tests call these."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from dlspec import __version__
from dlspec.compiler import CheckedSpec, check_spec
from dlspec.errors import (
    DataError,
    Diagnostic,
    SourceSpan,
    SpecError,
    TrainError,
)
from dlspec.lazy import lazy_exports
from dlspec.passes.check_data import (
    data_diagnostics,
    located_data_error,
    model_io,
    output_rank_diagnostics,
    task_of,
)
from dlspec.passes.check_init_from import init_from_diagnostics, init_from_file_diagnostics
from dlspec.passes.check_loss import loss_diagnostics
from dlspec.passes.check_monitor import monitor_diagnostics
from dlspec.passes.check_objective import data_view
from dlspec.passes.check_trainable import batch_size_diagnostics, trainable_diagnostics


def check(path: str | Path, overrides: Sequence[str] = (), model: str | None = None, *,
          search: bool = False, init_from: bool = True) -> CheckedSpec:
    """Every static check, the data fit included, and with `search` the `search:` section's
    (dlspec/search/check.py: what `dlspec validate` and `dlspec search` run; `train`
    ignores the section). Without `init_from`, the checkpoint `train.init_from` names is not
    looked at (a resumed run, or evaluate, does not read it). Torch-free."""
    checked = check_spec(path, overrides, model)
    problems = (loss_diagnostics(checked) or monitor_diagnostics(checked)
                or init_from_diagnostics(checked)
                or (init_from_file_diagnostics(checked) if init_from else []))
    if problems:
        raise SpecError(problems)
    view = data_view(checked)  # the model the data feeds
    problems = (trainable_diagnostics(checked) or data_diagnostics(view)
                or batch_size_diagnostics(view))
    if problems:
        raise DataError(problems)
    if search:
        from dlspec.search.check import search_diagnostics

        problems = search_diagnostics(checked, overrides)
        if problems:
            raise SpecError(problems)
    return checked


def compile_module(checked: CheckedSpec, seed: int | None = None, device: str = "cpu"):
    """The spec's model as a torch module, initialized from `seed` (default: train.seed).
    First, with nothing allocated, its parameters must fit in memory: the host's, and the
    GPU's for a `device` other than cpu (where it will be moved); else SpecError DLS205."""
    from dlspec.analysis.preflight import check_memory

    check_memory(checked, device)
    import torch

    from dlspec.backends.torch_module import build_module

    torch.manual_seed(checked.spec.train.seed if seed is None else seed)
    name = checked.spec.name if checked.spec.models is None else checked.model
    return build_module(checked.graph, name)


def compile_models(checked: CheckedSpec, seed: int | None = None, device: str = "cpu"):
    """Every model of a `models:` spec, as one ModelSet (initialized in the spec's order
    from `seed`, default train.seed), with each model's input types and output names."""
    from dlspec.analysis.preflight import check_memory

    for name in checked.graphs:
        check_memory(replace(checked, model=name), device)
    import torch

    from dlspec.backends.torch_module import build_module
    from dlspec.train.engine.model_set import ModelSet

    torch.manual_seed(checked.spec.train.seed if seed is None else seed)
    graphs = checked.graphs
    models = {name: build_module(graph, name) for name, graph in graphs.items()}
    inputs = {name: {i: (graph.node(i).type.sample_shape, graph.node(i).type.dtype)
                     for i in graph.inputs} for name, graph in graphs.items()}
    return ModelSet(models, inputs, {name: tuple(g.outputs) for name, g in graphs.items()})


def python_source(checked: CheckedSpec, origin: str = "") -> str:
    """Standalone PyTorch source of the model (its state dict loads into it as is)."""
    from dlspec.backends.python_source import emit_python

    name = checked.spec.name if len(checked.graphs) == 1 else checked.model
    return emit_python(checked.graph, name, origin)


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


def train_spec(path: str | Path | None, overrides: Sequence[str] = (), *,
               out_root: Path = Path("runs"), run_name: str | None = None, quiet: bool = False,
               resume: Path | None = None, detect_anomaly: bool = False, on_epoch=None):
    """Train a spec on its data; returns the training result (run dir, metrics). The run goes
    to `out_root/run_name`, or to `out_root/<spec name>-<time>` without a run name; the
    folder appears only once the run has started, and goes again if the run fails before
    it kept anything. With `resume` (a run folder), that run continues in place from its
    last checkpoint, with the spec and overrides it started with (`path` and `overrides`
    may be left out; given, they must be the same, but for train.device and train.epochs:
    more epochs extend a finished or stopped run, see dlspec/train/engine/extend.py).
    `on_epoch(epoch, record)` is called after each epoch (see FitOptions)."""
    from dlspec.train.distributed.ranks import joined
    from dlspec.train.engine.loop import fit
    from dlspec.train.engine.setup import FitOptions
    from dlspec.train.run_folder.run_spec import resumed_spec, save_run_spec
    from dlspec.train.run_folder.run_start import NewRun, named_folder, timestamped_folder

    new_run = extend_from = None
    if resume is not None:
        checked, extend_from = resumed_spec(resume, path, overrides)
    else:
        checked = check_spec(path, overrides)  # the data is checked once, as it is loaded
    with joined(checked.spec.train) as ranks:  # torchrun's processes: rank 0 picks the folder
        run_dir = Path(resume) if resume is not None else Path(ranks.decided(lambda: str(
            named_folder(Path(out_root), run_name) if run_name
            else timestamped_folder(Path(out_root), checked.spec.name))))
        if resume is None:
            new_run = NewRun(run_dir, lambda staging: save_run_spec(staging, checked,
                                                                    overrides))
        data, module, recipe = training_inputs(checked)
        spec = checked.spec
        options = FitOptions(resume=resume is not None, detect_anomaly=detect_anomaly,
                             base_dir=checked.loaded.base_dir, extend_from=extend_from,
                             new_run=new_run, on_epoch=on_epoch)
        return fit(module, data, recipe, run_dir, device=spec.train.device,
                   seed=spec.train.seed, metadata=spec_metadata(checked), quiet=quiet,
                   options=options)  # fit adds task, classes, data


def training_inputs(checked: CheckedSpec):
    """(data, freshly initialized module, recipe) of a spec to train."""
    if checked.spec.data is None:
        raise TrainError(Diagnostic(
            "DLS403", "training needs a `data:` section",
            SourceSpan(str(checked.loaded.path), 1, 1),
            hint="add e.g. `data: {dataset: digits}`"))
    problems = trainable_diagnostics(checked)
    if problems:
        raise DataError(problems)
    problems = (loss_diagnostics(checked) or monitor_diagnostics(checked)
                or init_from_diagnostics(checked))
    if problems:
        raise SpecError(problems)
    device = checked.spec.train.device
    if checked.spec.models is None:
        module = compile_module(checked, device=device)
        _check_parameter_patterns(checked, module)
    else:
        module = compile_models(checked, device=device)
    view = data_view(checked)
    return load_data(view), module, recipe_for(view)


def _check_parameter_patterns(checked: CheckedSpec, module: Any) -> None:
    """The globs of train.freeze, optimizer.groups and optimizer.no_decay each match a
    parameter of the compiled model; the first that does not is raised at its place in the
    spec (fit applies the same freeze again)."""
    from dlspec.train.recipe.param_groups import param_groups
    from dlspec.train.run_folder.transfer import freeze

    spec, locate = checked.spec, checked.loaded.source.span
    if spec.train.freeze:
        freeze(module, spec.train.freeze, locate)
    if spec.optimizer is not None:
        param_groups(module, spec.optimizer, locate)


def overfit_spec(path: str | Path, overrides: Sequence[str] = (), *, samples: int,
                 steps: int = 100, out_root: Path = Path("runs")):
    """Train on the same `samples` train examples every step (no validation, test or early
    stopping) for `steps` steps; returns (fit result, OverfitReport: did it memorize them)."""
    from dlspec.train.diagnostics.overfit import OverfitReport, memorization_metrics, overfit_setup
    from dlspec.train.engine.loop import fit
    from dlspec.train.engine.setup import FitOptions
    from dlspec.train.run_folder.run_spec import save_run_spec
    from dlspec.train.run_folder.run_start import NewRun, timestamped_folder
    from dlspec.train.scoring.evaluate import measure

    checked = check_spec(path, overrides)
    objective = checked.spec.objective
    if objective is not None and objective.op != "supervised":
        raise TrainError(Diagnostic(
            "DLS402", f"--overfit-batch checks that a model can memorize the targets of a "
            f"few examples, and the {objective.op} objective fits no targets",
            checked.loaded.source.key_span(("objective",)),
            hint="train a short run instead: `dlspec train SPEC --epochs 2`"))
    data, module, recipe = training_inputs(checked)
    data, recipe = overfit_setup(data, recipe, samples, steps)
    spec = checked.spec
    run_dir = timestamped_folder(Path(out_root), f"{spec.name}-overfit")
    new_run = NewRun(run_dir, lambda staging: save_run_spec(staging, checked, overrides))
    result = fit(module, data, recipe, run_dir, device=spec.train.device, seed=spec.train.seed,
                 metadata=spec_metadata(checked), quiet=True,
                 options=FitOptions(base_dir=checked.loaded.base_dir, new_run=new_run))
    metrics = measure(module, data, recipe, "train", spec.train.device,
                      memorization_metrics(data.task))
    return result, OverfitReport(samples, steps, metrics)


def evaluate_spec(path: str | Path, weights: str | Path | None = None, *,
                  split: str = "test", overrides: Sequence[str] = (), model: str | None = None):
    """The loss and metrics of a checkpoint (a file or a run folder's best) on one split of
    the spec's data; returns an Evaluation. `path` may be a run folder: its own spec and
    overrides (then `overrides`), and its best checkpoint unless `weights` is given. A spec
    of several models is measured by its objective, all models together; `model` keeps the
    losses of the updates that train that model."""
    from dlspec.train.scoring.evaluate import evaluate_models, evaluate_weights

    checked, weights = spec_or_run(path, weights, overrides, model=model)
    if weights is None:
        raise TrainError(Diagnostic(
            "DLS404", "no weights to evaluate",
            hint=f"give --weights RUN_DIR (or a .safetensors file), or pass a run folder in "
                 f"place of {path}"))
    data, module, recipe = training_inputs(checked)
    device = checked.spec.train.device
    with _explained_misfit(path, weights, overrides, "evaluate"):
        if checked.spec.models is not None or recipe.objective.op != "supervised":
            return evaluate_models(module, data, recipe, Path(weights), split, device, model)
        return evaluate_weights(module, data, recipe, Path(weights), split, device)


def spec_or_run(path: str | Path, weights: str | Path | None, overrides: Sequence[str] = (),
                run_weights: bool = True, model: str | None = None
                ) -> tuple[CheckedSpec, Path | None]:
    """A spec file checked with `overrides`, and `weights`; or for a run folder, its spec
    as it trained (its overrides, then `overrides`) and, without `weights`, the folder
    itself (its best checkpoint) when `run_weights`. `model` picks a model of several."""
    from dlspec.passes.lower import check_model_names
    from dlspec.train.run_folder.run_spec import is_run_folder, load_run_spec

    if Path(path).is_dir():  # a run folder (load_run_spec says so when it is not one)
        checked = load_run_spec(Path(path), overrides)
        if model is not None:
            check_model_names(checked.loaded, [model])
            checked = replace(checked, model=model)
        if weights is None and run_weights and is_run_folder(Path(path)):
            weights = path
    else:
        checked = check_spec(path, overrides, model)
    return checked, None if weights is None else Path(weights)


@contextmanager
def _explained_misfit(path: str | Path, weights: Path, overrides: Sequence[str],
                      command: str) -> Iterator[None]:
    """Weights from a run that do not fit a spec file: say what that run was trained with
    and how to use it as it was."""
    from dlspec.train.run_folder.run_spec import weights_hint

    try:
        yield
    except TrainError as error:
        hint = None if Path(path).is_dir() else weights_hint(weights, Path(path), overrides,
                                                             command)
        if hint is None or "DLS404" not in error.codes:
            raise
        raise TrainError([replace(d, hint=hint) if d.code == "DLS404" else d
                          for d in error.diagnostics]) from None


def lr_find_spec(path: str | Path, overrides: Sequence[str] = (), *, min_lr: float = 1e-7,
                 max_lr: float = 10.0, steps: int = 100):
    """The learning-rate range test on a freshly initialized model of the spec (no run
    folder, no checkpoint); returns an LrFindResult."""
    from dlspec.train.diagnostics.lr_find import lr_range_test

    checked = check_spec(path, overrides)
    data, module, recipe = training_inputs(checked)
    spec = checked.spec
    return lr_range_test(module, data, recipe, device=spec.train.device, seed=spec.train.seed,
                         min_lr=min_lr, max_lr=max_lr, steps=steps)


def plot_run(run_dir: Path, out_dir: Path | None = None) -> list[Path]:
    """PNG learning curves from a run's metrics.csv and, for classification, the test
    split's confusion matrix of its best checkpoint; returns the files (in `out_dir`,
    default RUN_DIR/plots)."""
    from dlspec.train.diagnostics.plot import plot_confusion, plot_curves
    from dlspec.train.run_folder.run_dir import RunFiles
    from dlspec.train.run_folder.run_spec import load_run_spec
    from dlspec.train.scoring.evaluate import test_confusion

    files = RunFiles(Path(run_dir))
    out_dir = Path(out_dir) if out_dir is not None else files.root / "plots"
    checked = load_run_spec(files.root)
    written = plot_curves(files.metrics_csv, out_dir)  # TrainError before the first epoch
    if not files.best.is_file():  # no epoch had a finite monitored value
        return written
    data, module, recipe = training_inputs(checked)
    matrix = test_confusion(module, data, recipe, files.root, checked.spec.train.device)
    if matrix is not None:
        written.append(plot_confusion(matrix, data.class_names,
                                      out_dir / "confusion_matrix.png"))
    return written


def load_data(checked: CheckedSpec):
    """The spec's data, loaded once, checked against the model (same checks and locations
    as `check`) and shaped for it."""
    from dlspec.data.prepare import prepare_data

    problems = trainable_diagnostics(checked) or output_rank_diagnostics(checked)
    if problems:
        raise DataError(problems)
    try:
        return prepare_data(checked.spec.data, base_dir=checked.loaded.base_dir,
                            model=model_io(checked), task=task_of(checked.spec))
    except DataError as err:
        raise DataError(located_data_error(checked, err)) from None


def recipe_for(checked: CheckedSpec):
    """The training recipe of a spec: its sections, with the defaults of its task."""
    from dlspec.train.recipe import Recipe

    spec, graph = checked.spec, checked.graph
    return Recipe.from_sections(
        task_of(spec), loss=spec.loss, optimizer=spec.optimizer, schedule=spec.schedule,
        regularization=spec.regularization, train=spec.train,
        batch_size=spec.data.batch_size, shuffle=spec.data.shuffle,
        outputs=tuple(graph.outputs), inputs=tuple(graph.inputs), objective=spec.objective)


__getattr__ = lazy_exports(__name__, {
    "export_spec": "dlspec.api_export", "load_weights": "dlspec.api_export",
    **dict.fromkeys(("request_sample", "sample", "write_samples", "request_generate",
                     "generate"), "dlspec.api_generate")})
