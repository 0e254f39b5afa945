"""The `dlspec` command line. Thin: parses arguments, calls dlspec.api, prints.

Heavy modules (torch, onnx) are imported inside the commands that need them, so
`dlspec validate` stays fast and torch-free.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from dlspec.cli_early import check_first, spec_readable
from dlspec.cli_help import Commands, count_line, root
from dlspec.errors import DlspecError

app = typer.Typer(
    help="Compile declarative deep-learning specs: validate, compile, train, export, predict.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, cls=Commands)
app.callback()(root)  # --version

SetOption = Annotated[list[str], typer.Option(
    "--set", help="Override a spec value: key.path=value, or param=value. Repeatable.")]
SpecArg = Annotated[Path, typer.Argument(help="The spec file (YAML).", show_default=False)]
RunOrSpecArg = Annotated[Path, typer.Argument(
    help="A run folder from dlspec train (its spec, overrides and best weights), or the spec "
         "file (YAML) with --weights.", show_default=False)]


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print dlspec errors as `file:line:col: error CODE: message` and exit with 1; Ctrl-C
    ends a command with a line and 130 (128 + SIGINT), as shells expect, not a traceback: a
    training run says where it stopped and how to resume it (dlspec.train.engine.interrupt)."""
    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DlspecError as err:
            for diagnostic in err.diagnostics:
                print(diagnostic.format(), file=sys.stderr)
            print(count_line(err.diagnostics), file=sys.stderr)
            raise typer.Exit(1) from None
        except KeyboardInterrupt as stop:
            from dlspec.train.distributed.env import is_main_process
            from dlspec.train.engine.interrupt import RunInterrupted

            name = command.__name__.strip("_").replace("_", "-")
            if is_main_process():  # under torchrun every rank is stopped; rank 0 says it
                print(stop.message() if isinstance(stop, RunInterrupted)
                      else f"interrupted: dlspec {name} stopped", file=sys.stderr)
            raise typer.Exit(130) from None
    return run


@app.command()
@reports_errors
def validate(specs: Annotated[list[Path], typer.Argument(help="Spec files to check.")],
             set_: SetOption = (),
             strict: Annotated[bool, typer.Option(help="Treat warnings as errors.")] = False):
    """Check specs statically (structure, graph, shapes, data fit, search). No torch."""
    failed = []
    for path in specs:
        try:
            spec_readable(path)
            from dlspec.api import check

            checked = check(path, set_, search=True)
        except DlspecError as err:
            failed.extend(err.diagnostics)
            continue
        if strict and checked.warnings:
            failed.extend(checked.warnings)  # printed once, with the errors
            continue
        for warning in checked.warnings:
            print(warning.format(), file=sys.stderr)
        for model, graph in checked.graphs.items():
            outputs = ", ".join(f"{name} {graph.node(name).type}" for name in graph.outputs)
            which = f" model {model}:" if checked.spec.models is not None else ""
            print(f"{path}: ok:{which} {len(graph.layers())} layers -> {outputs}")
        if checked.spec.data is not None and checked.spec.data.images is not None:
            from dlspec.data.image_prepare import image_summary

            print(f"{path}: images ok: {image_summary(checked)}")
        if checked.spec.search is not None:
            from dlspec.search.check import search_summary

            print(f"{path}: search ok: {search_summary(checked)}")
    if failed:
        raise DlspecError(failed)


@app.command(name="compile")
@reports_errors
def compile_(spec: SpecArg, set_: SetOption = (),
             ir: Annotated[Path | None, typer.Option(
                 help="Write the expanded, shape-annotated graph as JSON here.")] = None,
             model: Annotated[str | None, typer.Option(
                 help="Which model of a spec with several `models` (default: the first).")
             ] = None,
             emit_python: Annotated[Path | None, typer.Option(
                 help="Write standalone PyTorch source of the model (an nn.Module that "
                      "needs only torch) here.")] = None):
    """Build the PyTorch module and print its layer table."""
    checked = check_first(spec, set_, model)
    from dlspec.api import compile_module
    from dlspec.files import atomic_write_text
    from dlspec.ir.serialize import spec_to_text
    from dlspec.report import layer_table

    module = compile_module(checked)
    _console().print(layer_table(checked.graph, module, title=checked.spec.name))
    if ir is not None:
        atomic_write_text(ir, spec_to_text(checked))
        print(f"wrote {ir}")
    if emit_python is not None:
        from dlspec.api import python_source

        atomic_write_text(emit_python, python_source(checked, origin=str(spec)))
        print(f"wrote {emit_python}")


@app.command()
@reports_errors
def train(spec: Annotated[Path | None, typer.Argument(
              help="The spec file (YAML); may be left out with --resume.",
              show_default=False)] = None,
          set_: SetOption = (),
          device: Annotated[str | None, typer.Option(help="auto, cpu or cuda.")] = None,
          seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
          epochs: Annotated[int | None, typer.Option(help="Number of epochs.")] = None,
          out: Annotated[Path, typer.Option(help="Folder for run directories.")] = Path("runs"),
          name: Annotated[str | None, typer.Option(
              help="Name of the run folder (default: <spec name>-<date>-<time>).")] = None,
          quiet: Annotated[bool, typer.Option(help="Print only the result.")] = False,
          resume: Annotated[Path | None, typer.Option(
              help="Continue the run in this folder from its last checkpoint, exactly, with "
                   "the spec and settings it started with.")] = None,
          overfit_batch: Annotated[int | None, typer.Option(
              min=1, help="Debug: train on this many train examples every step (no "
                          "validation) and report whether the model memorized them; exits "
                          "with 1 when it did not.")] = None,
          overfit_steps: Annotated[int, typer.Option(
              min=1, help="Optimizer steps of --overfit-batch.")] = 100,
          detect_anomaly: Annotated[bool, typer.Option(
              help="Debug: stop at the first op that turns finite values into NaN/inf and "
                   "name it (slow).")] = False,
          nproc: Annotated[int, typer.Option(
              min=1, help="Train on this many processes of this machine (torchrun's "
                          "launcher; train.distributed says how). data.batch_size stays "
                          "the global batch.")] = 1):
    """Train the model on its data; writes a run directory with checkpoints and logs."""
    if spec is None and (resume is None or overfit_batch is not None):
        raise typer.BadParameter("give the spec file (it may be left out with --resume)",
                                 param_hint="SPEC")
    if resume is not None and name is not None:
        raise typer.BadParameter(f"a resumed run goes on in its own folder, {resume}; leave "
                                 "--name out", param_hint="--name")
    if nproc > 1 and overfit_batch is not None:
        raise typer.BadParameter("--overfit-batch trains in one process", param_hint="--nproc")
    overrides = [*set_, *_options_as_overrides(device=device, seed=seed, epochs=epochs)]
    checked = check_first(spec, overrides, init_from=resume is None)
    if nproc > 1:  # torchrun's elastic launcher starts `dlspec train` nproc times
        from dlspec.train.distributed.launch import train_on_processes

        raise typer.Exit(train_on_processes(
            nproc, spec, overrides, out=out, name=name, quiet=quiet, resume=resume,
            detect_anomaly=detect_anomaly, checked=checked))
    from dlspec.api import overfit_spec, train_spec
    from dlspec.train.distributed.env import is_main_process

    main = is_main_process()  # under torchrun, only rank 0 prints

    if overfit_batch is not None:
        result, report = overfit_spec(spec, overrides, samples=overfit_batch,
                                      steps=overfit_steps, out_root=out)
        print(report.line())
        print(f"run: {result.run_dir}")
        if report.memorized is False:
            raise typer.Exit(1)
        return
    result = train_spec(spec, overrides, out_root=out, run_name=name, quiet=quiet or not main,
                        resume=resume, detect_anomaly=detect_anomaly)
    if not main:
        return
    if result.skipped_steps:
        print(f"skipped {result.skipped_steps} steps with a non-finite loss or gradient")
    if result.best_epoch and result.monitor == "epoch":  # the objective keeps the latest
        print(f"kept the weights of the last epoch ({result.best_epoch}) as the best")
    elif result.best_epoch:
        print(f"best {result.monitor} {result.best_value:.4f} at epoch {result.best_epoch} "
              f"of {result.epochs_run}")
    print(f"run: {result.run_dir}")


def _options_as_overrides(**options: Any) -> list[str]:
    return [f"train.{key}={value}" for key, value in options.items() if value is not None]


@app.command()
@reports_errors
def export(spec: RunOrSpecArg,
           output: Annotated[Path, typer.Option("-o", "--output", dir_okay=False,
                                                help="The .onnx file.")],
           weights: Annotated[Path | None, typer.Option(
               exists=True, help="A .safetensors checkpoint or a run directory (uses its "
                                 "best).")] = None,
           set_: SetOption = (),
           opset: Annotated[int | None, typer.Option(help="ONNX opset.")] = None,
           untrained: Annotated[bool, typer.Option(
               help="Export the freshly initialized model (random weights, no "
                    "preprocessing, no class names) without --weights.")] = False,
           model: Annotated[str | None, typer.Option(
               help="Which model of a spec with several `models` (default: the first); "
                    "a run's EMA copy of it when it kept one.")] = None,
           from_layer: Annotated[str | None, typer.Option(
               "--from", help="Export only the part after this layer, fed its output (a "
                              "VAE's decoder: --from z).")] = None,
           precision: Annotated[Literal["fp32", "fp16", "int8"] | None, typer.Option(
               help="fp32, fp16 or int8: a reduced file is written only when its test "
                    "metrics stay within export.max_metric_drop of the fp32 file's.")] = None,
           quantization: Annotated[Literal["dynamic", "static"] | None, typer.Option(
               help="int8: dynamic, or static (calibrated on training samples).")] = None):
    """Export to ONNX, then prove with ONNX Runtime that it computes the same numbers."""
    if quantization and precision not in (None, "int8"):
        raise typer.BadParameter(f"applies to --precision int8, not {precision}",
                                 param_hint="--quantization")
    overrides = [*set_, *([f"export.opset={opset}"] if opset else []),
                 *([f"export.precision={precision}"] if precision else []),
                 *([f"export.quantization={quantization}"] if quantization else [])]
    # the model, not its fit to the data: the data only shapes the check inputs
    check_first(spec, overrides, model, data=False, folders=True)
    from dlspec.api import export_spec

    report = export_spec(spec, output, weights=weights, overrides=overrides,
                         untrained=untrained, model=model, from_layer=from_layer)
    worst = max(report.max_abs_diff, key=lambda n: report.max_abs_diff[n] / report.tolerances[n])
    reduced = report.precision
    print(f"wrote {output} (opset {report.opset}"
          + (f", {reduced.precision}); fp32 file: " if reduced else "); ")
          + "ONNX Runtime vs PyTorch at batch "
          f"{report.check_batch}: max abs diff {report.max_abs_diff[worst]:.2e} "
          f"(tolerance {report.tolerances[worst]:.2e})")
    for line in reduced.lines() if reduced else ():
        print(line)
    if quantization and (reduced is None or reduced.precision != "int8"):
        print(f"warning: --quantization {quantization} applies to int8 exports; this file is "
              f"{reduced.precision if reduced else 'fp32'} (add --precision int8)",
              file=sys.stderr)


@app.command()
@reports_errors
def predict(model: Annotated[Path, typer.Argument(
                exists=True, dir_okay=False, help="An .onnx file from dlspec export.")],
            input_: Annotated[Path, typer.Option("--input", "-i", exists=True, dir_okay=False,
                                                 help="Features: .csv or .npy.")],
            output: Annotated[Path | None, typer.Option(
                "-o", "--output", help="Where to write (.csv or .npy). Default: "
                                       "<input name>.predictions.csv in the working "
                                       "folder.")] = None):
    """Run an exported model with ONNX Runtime over a file of inputs."""
    from dlspec.backends.onnx_runtime import predict_file

    output = output or Path(input_.stem + ".predictions.csv")  # here, not beside the input
    report = predict_file(model, input_, output)
    print(f"wrote {report.rows} predictions to {output}")


@app.command()
def schema(output: Annotated[Path, typer.Option("-o", "--output")] = Path(
               "schemas/dlspec.schema.json")):
    """Write the JSON Schema of spec files (for editors)."""
    from dlspec.files import atomic_write_text
    from dlspec.spec.schema import schema_text

    atomic_write_text(output, schema_text())
    print(f"wrote {output}")


@app.command()
@reports_errors
def schedule(spec: SpecArg, set_: SetOption = (),
             plot: Annotated[Path | None, typer.Option(
                 help="Also draw the curve into this PNG file.")] = None):
    """Print the learning rate over the whole run: start, peak, end and milestones."""
    checked = check_first(spec, set_, data=False)
    from dlspec.train.diagnostics.schedule_report import plot_curve, spec_lr_curve, summary_table

    curve = spec_lr_curve(checked)
    console = _console()
    console.print(curve.headline())
    console.print(summary_table(curve, title=f"{checked.spec.name}: learning rate"))
    if plot is not None:
        plot_curve(curve, plot, title=f"{checked.spec.name}: learning rate")
        print(f"wrote {plot}")


import dlspec.cli_deploy  # noqa: E402, F401  (registers bench)
import dlspec.cli_generate  # noqa: E402, F401  (registers sample, generate)
import dlspec.cli_inspect  # noqa: E402, F401  (registers summary, graph, docs)
import dlspec.cli_runs  # noqa: E402, F401  (registers evaluate, lr-find, plot)
import dlspec.cli_search  # noqa: E402, F401  (registers search)
import dlspec.cli_serve  # noqa: E402, F401  (registers serve)
import dlspec.cli_weights  # noqa: E402, F401  (registers import-weights)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
