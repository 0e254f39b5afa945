"""Graphviz DOT text, and SVG/PNG through Graphviz's `dot` program when it is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from dlspec.files import atomic_path
from dlspec.render.drawing import Box, Cluster, Drawing

STYLES = {
    "input": 'shape=parallelogram, fillcolor="#e3f2e1"',
    "output": 'fillcolor="#fdebd3"',
    "block": 'shape=box3d, fillcolor="#e6e6f6"',
    "layer": 'fillcolor="#eef3fb"',
}
INSTALL = ("Graphviz's `dot` program draws {suffix} files and it is not installed. Install "
           "it (apt install graphviz, brew install graphviz, or conda install -c conda-forge "
           "graphviz), or write .mmd, .md or .dot, which need nothing.")


class GraphvizMissing(RuntimeError):
    """`dot` is not on PATH."""


def to_dot(drawing: Drawing) -> str:
    lines = [f"digraph {_quote(drawing.title)} {{",
             '  graph [rankdir=TB, fontname="Helvetica", fontsize=11];',
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             "  edge [arrowsize=0.7];"]
    lines += drawing.nested_lines(_box, _cluster, "}")
    lines += [f"  {source} -> {target};" for source, target in drawing.edges]
    return "\n".join([*lines, "}"]) + "\n"


def render_with_graphviz(dot_text: str, path: Path) -> None:
    """Write `path` (.svg or .png) with `dot`; raises GraphvizMissing when it is absent.
    Nothing is written unless `dot` succeeds."""
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing(INSTALL.format(suffix=path.suffix))
    with atomic_path(path, suffix=path.suffix) as tmp:
        done = subprocess.run([program, f"-T{path.suffix.lower()[1:]}", "-o", str(tmp)],
                              input=dot_text, text=True, capture_output=True, check=False)
        if done.returncode:
            raise RuntimeError(f"dot failed: {done.stderr.strip()}")


def _box(box: Box) -> str:
    label = "\\n".join(_escape(line) for line in box.lines)
    return f'{box.id} [label="{label}", {STYLES[box.kind]}];'


def _cluster(cluster: Cluster, number: int) -> str:
    return (f'subgraph cluster_{number} {{ label={_quote(cluster.label)}; style="dashed,rounded"; '
            'color="#8899aa";')


def _quote(text: str) -> str:
    return f'"{_escape(text)}"'


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
