"""dlspec.passes.infer_shapes: types through CNNs, residuals and symbolic dims; one error per
mistake."""

from __future__ import annotations

import textwrap

import pytest

from dlspec.errors import ShapeError
from dlspec.ir.types import TensorType
from dlspec.passes.infer_shapes import infer_shapes
from dlspec.passes.lower import lower
from dlspec.spec.load import load_text


def shapes_of(*parts: str):
    text = "dlspec: 1\nname: t\n" + "".join(textwrap.dedent(part) for part in parts)
    return infer_shapes(lower(load_text(text, "s.yaml")))


def shape_errors(*parts: str) -> list:
    with pytest.raises(ShapeError) as caught:
        shapes_of(*parts)
    return caught.value.diagnostics


def types(graph) -> dict[str, tuple]:
    return {node.name: node.type.shape for node in graph.layers()}


def test_a_small_cnn():
    graph = shapes_of("""\
        inputs: {image: {shape: [1, 28, 28]}}
        model:
          - {op: conv2d, name: c1, out_channels: 8, kernel_size: 3, padding: 1}
          - {op: batchnorm2d, name: bn}
          - {op: relu}
          - {op: maxpool2d, kernel_size: 2}
          - {op: conv2d, name: c2, out_channels: 16, kernel_size: 3, stride: 2}
          - {op: avgpool2d, kernel_size: 2, ceil_mode: true}
          - {op: conv2d, name: c3, out_channels: 16, kernel_size: [1, 3], padding: same}
          - {op: flatten}
          - {op: dropout, p: 0.2}
          - {op: linear, name: fc, out_features: 32}
          - {op: batchnorm1d, name: bn_fc}
          - {op: linear, name: logits, out_features: 10}
          - {op: softmax}
        """)
    assert graph.node("image").type == TensorType(("N", 1, 28, 28), "float32")
    assert types(graph) == {
        "c1": ("N", 8, 28, 28), "bn": ("N", 8, 28, 28), "relu": ("N", 8, 28, 28),
        "maxpool2d": ("N", 8, 14, 14), "c2": ("N", 16, 6, 6), "avgpool2d": ("N", 16, 3, 3),
        "c3": ("N", 16, 3, 3), "flatten": ("N", 144), "dropout": ("N", 144),
        "fc": ("N", 32), "bn_fc": ("N", 32), "logits": ("N", 10), "softmax": ("N", 10)}
    assert all(node.type.dtype == "float32" for node in graph.layers())


def test_global_pooling_and_reshape():
    graph = shapes_of("""\
        inputs: {pixels: {shape: [64]}}
        model:
          - {op: reshape, shape: [1, 8, -1]}
          - {op: conv2d, out_channels: 4, kernel_size: 3, padding: 1, dilation: 1, groups: 1}
          - {op: global_avg_pool2d}
        """)
    assert types(graph) == {"reshape": ("N", 1, 8, 8), "conv2d": ("N", 4, 8, 8),
                            "global_avg_pool2d": ("N", 4)}


RESIDUAL = """\
    blocks:
      basic:
        params: {channels: int, stride: 1}
        layers:
          - {op: conv2d, name: conv1, out_channels: "${channels}", kernel_size: 3, padding: 1, stride: "${stride}"}
          - {op: batchnorm2d, name: bn1}
          - {op: relu}
          - {op: conv2d, name: conv2, out_channels: "${channels}", kernel_size: 3, padding: 1}
          - {op: batchnorm2d, name: bn2}
          - {op: conv2d, name: shortcut, inputs: x, out_channels: "${channels}", kernel_size: 1, stride: "${stride}"}
          - {op: add, inputs: [shortcut, bn2]}
          - {op: relu, name: out}
    """


def test_residual_blocks_with_a_projection_shortcut():
    graph = shapes_of(RESIDUAL, """\
        inputs: {image: {shape: [3, 32, 32]}}
        model:
          - {op: conv2d, name: stem, out_channels: 16, kernel_size: 3, padding: 1}
          - {block: basic, name: layer1, repeat: 2, channels: [32, 32], stride: [2, 1]}
          - {op: global_avg_pool2d}
        """)
    shapes = types(graph)
    assert shapes["layer1.0.conv1"] == ("N", 32, 16, 16)
    assert shapes["layer1.0.shortcut"] == ("N", 32, 16, 16)
    assert shapes["layer1.0.add"] == ("N", 32, 16, 16)
    assert shapes["layer1.1.out"] == ("N", 32, 16, 16)
    assert shapes["global_avg_pool2d"] == ("N", 32)
    assert graph.node("layer1.0.add").inputs == ["layer1.0.shortcut", "layer1.0.bn2"]


def test_residual_without_projection_is_one_error_with_a_hint():
    (diagnostic,) = shape_errors("""\
        inputs: {image: {shape: [3, 8, 8]}}
        model:
          - {op: conv2d, name: conv, out_channels: 16, kernel_size: 3, padding: 1}
          - {op: add, name: skip, inputs: [image, conv]}
          - {op: global_avg_pool2d}
          - {op: linear, out_features: 10}
        """)
    assert (diagnostic.code, diagnostic.layer, diagnostic.op) == ("DLS201", "skip", "add")
    assert (diagnostic.span.line, diagnostic.span.col) == (6, 5)
    assert diagnostic.message == \
        "inputs have shapes (N, 3, 8, 8) and (N, 16, 8, 8); they must be equal"
    assert diagnostic.hint.startswith("project the (N, 3, 8, 8) input with a 1x1 conv2d of "
                                      "out_channels=16")


def test_symbolic_dims_are_kept_through_embedding_linear_and_layernorm():
    graph = shapes_of("""\
        inputs:
          tokens: {shape: [seq], dtype: int64, dims: {seq: {max: 512}}}
        model:
          - {op: embedding, name: embed, num_embeddings: 1000, embedding_dim: 32}
          - {op: layernorm, name: ln}
          - {op: linear, name: up, out_features: 64}
          - {op: gelu}
          - {op: linear, name: down, out_features: 32}
          - {op: add, inputs: [embed, down]}
          - {op: layernorm, name: ln_out}
          - {op: softmax, dim: -1}
          - {op: concat, name: both, inputs: [ln_out, ln_out], dim: 1}
        """)
    assert graph.node("tokens").type == TensorType(("N", "seq"), "int64")
    assert types(graph) == {
        "embed": ("N", "seq", 32), "ln": ("N", "seq", 32), "up": ("N", "seq", 64),
        "gelu": ("N", "seq", 64), "down": ("N", "seq", 32), "add": ("N", "seq", 32),
        "ln_out": ("N", "seq", 32), "softmax": ("N", "seq", 32), "both": ("N", "2*seq", 32)}
    assert graph.node("embed").type.dtype == "float32"


def test_flattening_a_symbolic_dim_gives_a_product_that_linear_refuses():
    (diagnostic,) = shape_errors("""\
        inputs: {tokens: {shape: [seq], dtype: int64}}
        model:
          - {op: embedding, num_embeddings: 100, embedding_dim: 8}
          - {op: flatten, name: flat}
          - {op: linear, name: head, out_features: 2}
        """)
    assert diagnostic.layer == "head"
    assert "'8*seq'" in diagnostic.message and "fixed size" in diagnostic.message


def test_symbolic_spatial_dims_pass_through_convolutions():
    graph = shapes_of("""\
        inputs: {image: {shape: [3, H, W]}}
        model:
          - {op: conv2d, out_channels: 8, kernel_size: 3, padding: 1}
          - {op: conv2d, name: down, out_channels: 8, kernel_size: 3, padding: 1, stride: 2}
          - {op: global_avg_pool2d}
          - {op: linear, out_features: 4}
        """)
    shapes = types(graph)
    assert shapes["conv2d"][:2] == ("N", 8)
    assert all(isinstance(d, str) for d in shapes["down"][2:])
    assert shapes["linear"] == ("N", 4)


def test_an_early_failure_is_one_error_not_a_cascade():
    (diagnostic,) = shape_errors("""\
        inputs: {pixels: {shape: [64]}}
        model:
          - {op: conv2d, name: broken, out_channels: 8, kernel_size: 3}
          - {op: relu}
          - {op: maxpool2d, kernel_size: 2}
          - {op: flatten}
          - {op: linear, out_features: 10}
          - {op: add, inputs: [linear, pixels]}
        """)
    assert (diagnostic.code, diagnostic.layer, diagnostic.span.line) == ("DLS201", "broken", 5)
    assert "got 2 dims (N, 64)" in diagnostic.message


def test_independent_failures_are_all_reported():
    found = shape_errors("""\
        inputs: {image: {shape: [1, 8, 8]}, ids: {shape: [4]}}
        model:
          - {op: linear, name: wrong_in, in_features: 7, out_features: 4, inputs: ids}
          - {op: conv2d, name: rgb, in_channels: 3, out_channels: 4, kernel_size: 3, inputs: image}
          - {op: embedding, name: emb, num_embeddings: 10, embedding_dim: 4, inputs: ids}
          - {op: concat, name: join, inputs: [wrong_in, rgb]}
        outputs: [join, emb]
        """)
    assert sorted((d.code, d.layer) for d in found) == [
        ("DLS201", "rgb"), ("DLS201", "wrong_in"), ("DLS202", "emb")]


@pytest.mark.parametrize("layers, code, words", [
    ("- {op: add, inputs: [pixels]}", "DLS203", "at least 2 inputs, got 1"),
    ("- {op: linear, out_features: 4, inputs: [pixels, pixels]}", "DLS203", "1 input"),
    ("- {op: concat, inputs: [pixels, ids]}", "DLS202", "different dtypes"),
    ("- {op: add, inputs: [pixels, ids]}", "DLS202", "different dtypes"),
    ("- {op: softmax, dim: 0, inputs: pixels}", "DLS102", "batch dimension"),
    ("- {op: softmax, dim: 3, inputs: pixels}", "DLS102", "out of range"),
    ("- {op: layernorm, dims: 2, inputs: pixels}", "DLS102", "batch dim"),
    ("- {op: reshape, shape: [3, -1], inputs: pixels}", "DLS201", "not divisible"),
    ("- {op: flatten, start_dim: 1, end_dim: 0, inputs: pixels}", "DLS102", "batch"),
    ("- {op: batchnorm2d, inputs: pixels}", "DLS201", "(N, C, H, W)"),
    ("- {op: reshape, shape: [4, 2, 2], inputs: pixels}\n  - {op: conv2d, out_channels: 2, "
     "kernel_size: 3}", "DLS201", "does not fit"),
    ("- {op: reshape, shape: [1, 4, 4], inputs: pixels}\n  - {op: maxpool2d, kernel_size: 2, "
     "padding: 2}", "DLS201", "more than half"),
    ("- {op: embedding, num_embeddings: 5, embedding_dim: 2, inputs: pixels}", "DLS202",
     "int64"),
])
def test_shape_rule_errors(layers, code, words):
    found = shape_errors("inputs: {pixels: {shape: [16]}, ids: {shape: [16], dtype: int64}}\n"
                         f"model:\n  {layers}\n")
    assert [d.code for d in found] == [code]
    assert words in found[0].message
    assert found[0].span.line == 5 + layers.count("\n")  # the last layer is the failing one
    assert found[0].layer is not None


def test_a_layer_failing_inside_a_block_names_the_instance():
    found = shape_errors(RESIDUAL.replace('inputs: x, out_channels: "${channels}"',
                                          'inputs: x, out_channels: 1'), """\
        inputs: {image: {shape: [3, 8, 8]}}
        model:
          - {block: basic, name: b, repeat: 2, channels: 4}
        """)
    assert [(d.layer, d.span.line) for d in found] == [("b.0.add", 13)]  # not b.1.*


DENSE_CHAIN = """\
    blocks:
      dense:                       # each layer concatenates its input with a new feature map
        layers:
          - {op: conv2d, name: conv, out_channels: 2, kernel_size: 3, padding: 1}
          - {op: concat, inputs: [x, conv]}
      squeeze:                     # reads the type of its input in an expression
        layers:
          - {op: conv2d, out_channels: "${x.channels // 2}", kernel_size: 1}
    inputs: {image: {shape: [2, 8, 8]}}
    model:
      - {op: maxpool2d, name: pool, kernel_size: 3, padding: %s}
      - {block: dense, name: stage, repeat: %d}
      - {block: squeeze, name: out}
    """


def test_a_failing_layer_above_a_concat_chain_is_inferred_a_few_times_not_2_to_the_depth(
        monkeypatch):
    from dlspec.ops.registry import op_registry

    pool = op_registry()["maxpool2d"]
    calls = []
    infer = pool.infer

    def counted(self, *types):
        calls.append(self)
        return infer(self, *types)

    monkeypatch.setattr(pool, "infer", counted)
    (diagnostic,) = shape_errors(DENSE_CHAIN % (4, 12))  # 2^12 paths from `out` to `pool`
    assert (diagnostic.code, diagnostic.layer, diagnostic.span.line) == ("DLS201", "pool", 13)
    assert "more than half the window 3" in diagnostic.message
    assert len(calls) <= 2  # once on demand for `${x.channels}`, once by the shape pass
    calls.clear()
    shapes_of(DENSE_CHAIN % (1, 12))  # and with a valid pool, the chain is inferred as before
    assert len(calls) <= 2


def test_validate_answers_a_failing_densenet_quickly_with_one_located_error():
    """DenseNet-121 with a bad pool above 58 dense layers: the first failure, once. (It used
    to re-infer the pool along every path of the concat chain: no answer in minutes.)"""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "dlspec", "validate", "specs/densenet121.yaml",
         "--set", "model.3.padding=8"],
        cwd=root, capture_output=True, text=True, timeout=60)  # a regression fails, not hangs
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "specs/densenet121.yaml:33:5: error DLS201: in layer 'maxpool2d' (maxpool2d): " \
           "padding 8 is more than half the window 3" in output
    assert output.count("error DLS") == 1
    assert "1 error" in output
