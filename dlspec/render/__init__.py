"""Pictures of a model's graph: Mermaid (.mmd, or .md for GitHub), Graphviz DOT (.dot), and
SVG/PNG through Graphviz when it is installed. Torch-free."""

from __future__ import annotations

from pathlib import Path

from dlspec.files import atomic_write_text
from dlspec.ir.graph import Graph
from dlspec.render.dot import GraphvizMissing, render_with_graphviz, to_dot
from dlspec.render.drawing import draw
from dlspec.render.mermaid import to_markdown, to_mermaid

TEXT_FORMATS = {".mmd": to_mermaid, ".md": to_markdown, ".dot": to_dot, ".gv": to_dot}
IMAGE_FORMATS = (".svg", ".png")
FORMATS = (*TEXT_FORMATS, *IMAGE_FORMATS)

__all__ = ["FORMATS", "GraphvizMissing", "render_graph"]


def render_graph(graph: Graph, path: Path, title: str, *, collapse: bool = False) -> None:
    """Draw `graph` into `path`, in the format its suffix names (see FORMATS)."""
    drawing = draw(graph, title, collapse=collapse)
    suffix = path.suffix.lower()
    if suffix in TEXT_FORMATS:
        atomic_write_text(path, TEXT_FORMATS[suffix](drawing))
    elif suffix in IMAGE_FORMATS:
        render_with_graphviz(to_dot(drawing), path)
    else:
        raise ValueError(f"cannot draw '{path.name}': use one of {', '.join(FORMATS)}")
