"""Commands that look at a model without training it: summary, graph, docs.

Registered on the `dlspec` app by dlspec.cli; torch-free, like `validate`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from dlspec.cli import SetOption, SpecArg, _console, app, reports_errors
from dlspec.cli_early import check_first, spec_readable

ModelOption = Annotated[str | None, typer.Option(
    help="Which model of a spec with several `models` (default: the first).")]
DimOption = Annotated[list[str], typer.Option(
    "--dim", help="Size of a named dim: name=value, e.g. --dim H=224. Repeatable.")]


def parse_dims(dims: list[str], seq: int | None) -> dict[str, int]:
    """`--dim name=value` options (and `--seq T`) as {name: size}."""
    sizes: dict[str, int] = {}
    for text in dims:
        name, _, value = text.partition("=")
        if not name or not value.strip().isdigit():
            raise typer.BadParameter(f"'{text}' is not name=size, e.g. seq=128",
                                     param_hint="--dim")
        sizes[name.strip()] = int(value)
    if seq is not None:
        sizes["seq"] = seq
    return sizes


@app.command()
@reports_errors
def summary(spec: SpecArg, set_: SetOption = (),
            batch: Annotated[int | None, typer.Option(
                min=1, help="Batch of the memory estimate (default: data.batch_size, "
                            "else 1).")] = None,
            seq: Annotated[int | None, typer.Option(
                min=1, help="Size of the `seq` dim (same as --dim seq=T).")] = None,
            dim: DimOption = (), model: ModelOption = None,
            json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False):
    """Every layer's output shape, parameters and MACs, and a memory estimate. No torch."""
    dims = parse_dims(list(dim), seq)
    checked = check_first(spec, set_, model, data=False)
    from dlspec.analysis.preflight import memory_warning
    from dlspec.analysis.summary import summarize
    from dlspec.report import memory_table, summary_table

    result = summarize(checked, batch=batch, dims=dims)
    warning = memory_warning(checked)
    if warning is not None:
        print(warning.format(), file=sys.stderr)
    if json_:
        print(json.dumps(result.to_json(), indent=2))
        return
    tables = [summary_table(result), *([memory_table(result.memory)] if result.memory else [])]
    _print_unwrapped(tables)


def _print_unwrapped(tables: list) -> None:
    """Print rich tables at their natural width, wider than the terminal if need be."""
    console = _console()
    wide = console.options.update_width(10_000)
    console.width = max(console.width, *(console.measure(t, options=wide).maximum for t in tables))
    for table in tables:
        console.print(table)


@app.command()
@reports_errors
def graph(spec: SpecArg, set_: SetOption = (),
          output: Annotated[Path | None, typer.Option(
              "-o", "--output", help="The picture: .mmd or .md (Mermaid), .dot, .svg or .png "
                                     "(these two need Graphviz). Default: Mermaid on "
                                     "stdout.")] = None,
          collapse: Annotated[bool, typer.Option(
              help="Draw each block instance as one box.")] = False,
          model: ModelOption = None):
    """Draw the model's graph; each box shows a layer's name, op and output shape."""
    spec_readable(spec)  # before the imports below (networkx)
    from dlspec.render import FORMATS, GraphvizMissing, render_graph

    if output is not None and output.suffix.lower() not in FORMATS:
        raise typer.BadParameter(f"'{output.name}' has no picture suffix: use one of "
                                 f"{', '.join(FORMATS)}", param_hint="--output")
    checked = check_first(spec, set_, model, data=False)
    from dlspec.render.drawing import draw
    from dlspec.render.mermaid import to_mermaid

    if output is None:
        print(to_mermaid(draw(checked.graph, checked.spec.name, collapse=collapse)), end="")
        return
    try:
        render_graph(checked.graph, output, checked.spec.name, collapse=collapse)
    except GraphvizMissing as err:
        print(f"error: {err}", file=sys.stderr)
        raise typer.Exit(1) from None
    print(f"wrote {output}")


@app.command()
def docs(output: Annotated[Path, typer.Option("-o", "--output")] = Path("docs/ops.md")):
    """Write the reference of every op (docs/ops.md) from the op declarations."""
    from dlspec.files import atomic_write_text
    from dlspec.spec.ops_doc import ops_markdown

    atomic_write_text(output, ops_markdown())
    print(f"wrote {output}")

