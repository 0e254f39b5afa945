"""render_graph picks the format from the suffix; SVG and PNG go through Graphviz's `dot`,
and without it nothing is written and the message says how to install it."""

import os
import stat
from pathlib import Path

import pytest

from dlspec.compiler import check_spec
from dlspec.render import GraphvizMissing, render_graph

SPECS = Path(__file__).resolve().parents[2] / "specs"

FAKE_DOT = """#!/bin/sh
# records its arguments and writes its input to the -o file, like dot would write a picture
echo "$@" > "{log}"
[ "$FAIL" = 1 ] && {{ echo "syntax error" >&2; exit 1; }}
cat > "$3"
"""


@pytest.fixture(scope="module")
def graph():
    return check_spec(SPECS / "cnn-digits.yaml").graph


@pytest.mark.parametrize(("suffix", "start"), [
    (".mmd", "flowchart TB"), (".md", "# cnn\n"), (".dot", 'digraph "cnn"')])
def test_text_formats_by_suffix(graph, tmp_path, suffix, start):
    path = tmp_path / f"g{suffix}"
    render_graph(graph, path, "cnn")
    assert path.read_text().startswith(start)


def test_an_unknown_suffix_is_refused(graph, tmp_path):
    with pytest.raises(ValueError, match=r"use one of \.mmd"):
        render_graph(graph, tmp_path / "g.txt", "cnn")


def test_without_graphviz_nothing_is_written_and_the_fix_is_named(graph, tmp_path,
                                                                monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GraphvizMissing) as caught:
        render_graph(graph, tmp_path / "g.png", "cnn")
    assert "apt install graphviz" in str(caught.value)
    assert "brew install graphviz" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def fake_dot(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "dot"
    script.write_text(FAKE_DOT.format(log=tmp_path / "args.txt"))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path / "args.txt"


def test_images_are_drawn_by_dot_from_the_dot_text(graph, tmp_path, fake_dot):
    out = tmp_path / "pictures" / "g.svg"
    render_graph(graph, out, "cnn")
    assert out.read_text().startswith('digraph "cnn"')  # what dot was given
    assert fake_dot.read_text().split()[0] == "-Tsvg"


def test_a_failing_dot_leaves_nothing_behind(graph, tmp_path, fake_dot, monkeypatch):
    monkeypatch.setenv("FAIL", "1")
    out = tmp_path / "pictures" / "g.png"
    with pytest.raises(RuntimeError, match="syntax error"):
        render_graph(graph, out, "cnn")
    assert list(out.parent.iterdir()) == []


def test_the_committed_example_is_current(tmp_path):
    """docs/graphs/resnet18.md, linked from docs/spec.md: `dlspec graph specs/resnet18.yaml
    --collapse -o docs/graphs/resnet18.md` remakes it."""
    out = tmp_path / "resnet18.md"
    render_graph(check_spec(SPECS / "resnet18.yaml").graph, out, "resnet18", collapse=True)
    assert out.read_text() == (SPECS.parent / "docs" / "graphs" / "resnet18.md").read_text()
