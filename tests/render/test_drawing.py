"""What a picture shows: every layer (or block instance) once, every connection once, blocks
as nested clusters."""

from pathlib import Path

import pytest

from dlspec.compiler import check_spec
from dlspec.render.drawing import Box, Cluster, draw

SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.fixture(scope="module")
def resnet():
    return check_spec(SPECS / "resnet18.yaml").graph


def boxes(cluster: Cluster) -> list[Box]:
    found = []
    for item in cluster.items:
        found += [item] if isinstance(item, Box) else boxes(item)
    return found


def clusters(cluster: Cluster) -> dict[str, list[str]]:
    """Cluster name -> names of the clusters directly inside it."""
    inner = [item for item in cluster.items if isinstance(item, Cluster)]
    found = {cluster.name: [c.name for c in inner]}
    for item in inner:
        found.update(clusters(item))
    return found


def test_expanded_every_node_and_edge_is_drawn_once(resnet):
    drawing = draw(resnet, "resnet18")
    drawn = boxes(drawing.root)
    assert len(drawn) == len(resnet) == len({b.id for b in drawn})
    assert len(drawing.edges) == resnet.nx.number_of_edges()
    by_name = {node.name: f"n{i}" for i, node in enumerate(resnet.topological())}
    assert (by_name["layer1.1.relu_1"], by_name["layer2.0.downsample.conv2d"]) in drawing.edges
    fc = next(b for b in drawn if b.lines[0] == "fc")
    assert fc.lines == ("fc", "linear", "(N, 1000)") and fc.kind == "output"


def test_blocks_are_nested_clusters_with_short_labels(resnet):
    tree = clusters(draw(resnet, "resnet18").root)
    assert tree[""] == ["layer1", "layer2", "layer3", "layer4"]
    assert tree["layer2"] == ["layer2.0", "layer2.1"]
    assert tree["layer2.0"] == ["layer2.0.downsample"]
    downsample = Cluster("layer2.0.downsample")
    assert downsample.label == "downsample" and Cluster("layer2.0").label == "layer2.0"


def test_a_layer_named_after_its_op_shows_the_op_once(resnet):
    drawn = {b.id: b for b in boxes(draw(resnet, "resnet18").root)}
    lines = {b.lines for b in drawn.values()}
    assert ("relu", "(N, 64, 112, 112)") in lines  # not "relu", "relu", ...
    assert ("conv1", "conv2d", "(N, 64, 112, 112)") in lines


def test_collapsed_each_block_instance_is_one_box_with_its_output_shape(resnet):
    drawing = draw(resnet, "resnet18", collapse=True)
    drawn = boxes(drawing.root)
    blocks = [b for b in drawn if b.kind == "block"]
    assert [b.lines[0] for b in blocks] == [f"layer{i}.{j}" for i in range(1, 5) for j in (0, 1)]
    assert blocks[2].lines == ("layer2.0", "9 layers", "(N, 128, 28, 28)")  # with downsample
    assert len(drawn) == 5 + 8 + 2  # stem layers and input, 8 blocks, pool and fc
    ids = [b.id for b in drawn]
    assert drawing.edges == list(zip(ids, ids[1:], strict=False))  # a chain, no self-loops
