"""Mermaid flowcharts (GitHub renders them in Markdown files)."""

from __future__ import annotations

from dlspec.render.drawing import Box, Cluster, Drawing

SHAPES = {"input": ('[/"', '"/]'), "output": ('(["', '"])'), "block": ('[["', '"]]'),
          "layer": ('["', '"]')}


def to_mermaid(drawing: Drawing) -> str:
    """A `flowchart TB` with one node per box and one subgraph per cluster."""
    lines = ["flowchart TB"]
    lines += drawing.nested_lines(_box, _subgraph, "end")
    lines += [f"  {source} --> {target}" for source, target in drawing.edges]
    return "\n".join(lines) + "\n"


def to_markdown(drawing: Drawing) -> str:
    """The flowchart in a fenced block under a heading, for a .md file."""
    return f"# {drawing.title}\n\n```mermaid\n{to_mermaid(drawing)}```\n"


def _box(box: Box) -> str:
    start, end = SHAPES[box.kind]
    return f"{box.id}{start}{'<br/>'.join(_escape(line) for line in box.lines)}{end}"


def _subgraph(cluster: Cluster, number: int) -> str:
    return f'subgraph c{number} ["{_escape(cluster.label)}"]'


def _escape(text: str) -> str:
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;") \
        .replace(">", "#gt;")
