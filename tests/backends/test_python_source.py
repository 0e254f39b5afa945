"""Emitted PyTorch source is standalone and computes exactly what the compiled module does,
with the compiled module's state dict loaded into it strictly."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from torch import fx

from dlspec.analysis.summary import summarize
from dlspec.api import compile_module, python_source
from dlspec.backends.onnx_export import TensorInfo
from dlspec.backends.onnx_inputs import example_tensors
from dlspec.compiler import check_spec

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
# Big specs run scaled down (the same layers, narrower, on smaller inputs) to keep this fast.
SMALL_IMAGE = "inputs.image.shape=[3,32,32]"
SCALED = {
    "alexnet": ["inputs.image.shape=[3,64,64]"],
    "bert-base": ["d=32", "heads=2", "layers=2", "ffn=64", "vocab=50"],
    "dcgan": ["ngf=8", "ndf=8"],
    "densenet121": ["growth=4", "init_features=8", SMALL_IMAGE],
    "efficientnet_b0": [SMALL_IMAGE],
    "googlenet": [SMALL_IMAGE],
    "gpt2-small": ["d=32", "heads=2", "layers=2", "vocab=50"],
    "mobilenet_v2": [SMALL_IMAGE],
    "resnet18": ["width=8", SMALL_IMAGE],
    "resnet50": ["width=8", SMALL_IMAGE],
    "t5-small": ["d=32", "heads=2", "layers=2", "ffn=64", "vocab=50"],
    "llama": ["d=32", "heads=4", "kv_heads=2", "layers=2", "ffn=48", "vocab=50"],
    "vgg16": ["width=8", "hidden=64", SMALL_IMAGE],
    "vit_b_16": ["image_size=32", "d=32", "heads=2", "layers=2", "mlp=64"],
}


TINY_LM = ROOT / "tests" / "specs" / "valid" / "tiny-lm.yaml"  # a tied LM head


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small layers run much faster on one thread than on threads contending for a busy
    CPU (a forward of a small DenseNet: 0.04 s against seconds)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load_emitted(checked, path: Path) -> torch.nn.Module:
    """The emitted file imported as a fresh module; its model class (the last one) built."""
    path.write_text(python_source(checked, origin="a test"))
    spec = importlib.util.spec_from_file_location(f"emitted_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = [v for v in vars(module).values() if isinstance(v, type)
               and issubclass(v, torch.nn.Module) and v.__module__ == module.__name__]
    return classes[-1]()


def inputs_for(checked, batch: int = 3) -> tuple[torch.Tensor, ...]:
    graph = checked.graph
    infos = [TensorInfo(n, graph.node(n).type.sample_shape, graph.node(n).type.dtype)
             for n in graph.inputs]
    bounds = {d: c.max for config in checked.inputs.values() for d, c in config.dims.items()}
    sizes = {d: min(5, bounds.get(d) or 5) for info in infos for d in info.shape
             if isinstance(d, str)}
    return example_tensors(infos, batch, sizes, None, torch.Generator().manual_seed(0))


class EveryLayerALeaf(fx.Tracer):
    def is_leaf_module(self, module: torch.nn.Module, qualified_name: str) -> bool:
        return True


def calls(graph: fx.Graph) -> list[tuple[str, tuple[str, ...]]]:
    """Each layer called, with what it is called on (inputs by position, layers by name),
    and what is returned."""
    names: dict[fx.Node, str] = {}
    found = []
    for node in graph.nodes:
        if node.op == "placeholder":
            names[node] = f"input {len(names)}"
        elif node.op == "call_module":
            names[node] = node.target
            found.append((node.target, tuple(names[a] for a in node.args)))
        elif node.op == "output":
            returned = node.args[0] if isinstance(node.args[0], tuple) else (node.args[0],)
            found.append(("return", tuple(names[a] for a in returned)))
        else:
            raise AssertionError(f"unexpected {node.op} {node.target} in forward")
    return found


def assert_round_trip(checked, path: Path) -> torch.nn.Module:
    compiled = compile_module(checked).eval()
    emitted = load_emitted(checked, path).eval()
    emitted.load_state_dict(compiled.state_dict(), strict=True)
    # the same layers on the same inputs in the same order (dropout included, which eval
    # outputs cannot show)
    assert calls(EveryLayerALeaf().trace(emitted)) == calls(compiled.graph)
    inputs = inputs_for(checked)
    with torch.no_grad():
        expected, got = compiled(*inputs), emitted(*inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(expected)
    for e, g in zip(expected, got, strict=True):
        assert torch.equal(e, g)
    for name, layer in compiled.named_modules():  # the same layers, configured alike
        if name and not list(layer.children()):
            assert repr(emitted.get_submodule(name)) == repr(layer), name
    return emitted


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_shipped_spec_round_trips(spec, tmp_path):
    first = check_spec(spec, SCALED.get(spec.stem, []))
    for model in first.graphs:
        checked = check_spec(spec, SCALED.get(spec.stem, []), model)
        assert_round_trip(checked, tmp_path / f"{model}.py")


def test_tied_weights_are_one_parameter_again(tmp_path):
    checked = check_spec(TINY_LM)
    emitted = assert_round_trip(checked, tmp_path / "tiny.py")
    assert emitted.lm_head.weight is emitted.wte.weight
    assert sum(p.numel() for p in emitted.parameters()) == summarize(checked).params


def test_the_source_imports_only_torch_and_the_standard_library():
    tree = ast.parse(python_source(check_spec(TINY_LM)))
    roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    roots |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom)}
    assert "torch" in roots
    assert all(r == "torch" or r in sys.stdlib_module_names for r in roots), roots


def test_forward_reads_like_hand_written_code():
    checked = check_spec(ROOT / "specs" / "cnn-digits.yaml")
    source = python_source(checked)
    assert "        x = self.stem(image)  # (N, 32, 8, 8)\n" in source
    assert "        out = self.res1.conv1(x)  # (N, 32, 8, 8)\n" in source  # x is kept: residual
    assert "        x = self.res1.add(x, out)  # (N, 32, 8, 8)\n" in source
    assert "        self.res1 = nn.Module()\n" in source
    assert source.rstrip().endswith("return x")


CRAFTED = ['x"""\nINJECTED = 1\n"""', 'end\\', 'q"', "tab\there\r\x00\x7f", "\udcff\u2028",
           "ü𝔘 plain"]


@pytest.mark.parametrize("origin", CRAFTED)
def test_the_spec_path_cannot_add_statements_to_the_emitted_module(origin, tmp_path):
    checked = check_spec(ROOT / "specs" / "mlp-digits.yaml")
    plain, crafted = (ast.parse(python_source(checked, origin=o)) for o in ("p.yaml", origin))
    assert [ast.dump(s) for s in crafted.body[1:]] == [ast.dump(s) for s in plain.body[1:]]
    assert ast.get_docstring(crafted, clean=False).startswith(
        f"mlp-digits: PyTorch source written by dlspec from {origin}.\n")
    path = tmp_path / "emitted_crafted.py"
    path.write_text(python_source(checked, origin=origin), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("emitted_crafted", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not hasattr(module, "INJECTED")
    assert module.__doc__.split(":", 1)[1].startswith(" PyTorch source written by dlspec "
                                                       f"from {origin}.")
