"""Generated specs: mutants of the shipped specs (scaled down), made the way a user edits and
errs (see spec_mutations.py). For each one, `dlspec.api.check` (what `dlspec validate` calls)
either raises a DlspecError whose every diagnostic is located in the spec file, or passes; and
a spec that passes also summarizes, gives its IR, drawings and PyTorch source, compiles to a
torch module and runs a forward pass (batch 2, short sequences) whose every layer has the
shape and dtype that validation inferred; with `data:` it also goes through train's set-up,
an epoch's first and last steps and a validation pass.

Hypothesis draws the mutations (derandomized: the same cases on every run), so a failure is
shrunk to its fewest, simplest edits and printed with the YAML that shows it.
"""

from __future__ import annotations

import dataclasses
import signal
import zlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from spec_mutations import Chooser, mutate
from spec_runs import train_steps

from dlspec.analysis.dims import dim_names, dim_value
from dlspec.analysis.summary import summarize
from dlspec.api import check
from dlspec.errors import DlspecError
from dlspec.ir.types import BATCH

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"

# spec (in specs/, or a path from the root) -> what scales it down: {"params": {...}, "inputs": {input: shape}} (single-model form)
BASES: dict[str, dict[str, Any]] = {
    "mlp-digits": {"params": {"hidden": 16}},
    "cnn-digits": {"params": {"width": 4}},
    "regression-diabetes": {},
    "binary-breast-cancer": {},
    "multilabel-digits": {},
    "vae-digits": {"params": {"hidden": 16, "latent": 4}},
    "lstm-brackets": {},
    "gru-reverse": {"params": {"width": 8, "hidden": 16}},
    "reverse-gru-attention": {"params": {"d": 8, "hidden": 16}},
    "reverse-transformer": {"params": {"d": 16, "heads": 2, "layers": 1, "ffn": 32}},
    "lstm-sine": {},
    "gpt-chars": {"params": {"d": 16, "heads": 2, "context": 8}},
    "lenet5": {},
    "resnet18": {"params": {"num_classes": 10, "width": 4}, "inputs": {"image": [3, 32, 32]}},
    "mobilenet_v2": {"params": {"num_classes": 10, "width": 8, "last": 32},
                     "inputs": {"image": [3, 32, 32]}},
    "gpt2-small": {"params": {"vocab": 50, "ctx": 16, "d": 16, "heads": 2, "layers": 2}},
    "bert-base": {"params": {"vocab": 50, "d": 16, "layers": 1, "heads": 2, "ffn": 32,
                             "max_len": 16}},
    "vit_b_16": {"params": {"image_size": 16, "patch": 8, "d": 16, "heads": 2, "layers": 1,
                            "mlp": 32, "num_classes": 10}},
    "t5-small": {"params": {"vocab": 50, "d": 16, "heads": 2, "layers": 1, "ffn": 32}},
    "seq2seq-attention": {"params": {"src_vocab": 20, "tgt_vocab": 30, "d": 8, "hidden": 8}},
    "transformer-seq2seq": {"params": {"vocab": 30, "d": 16, "heads": 2, "layers": 1,
                                       "ffn": 32, "max_len": 16}},
    "lstm-classifier": {"params": {"vocab": 50, "d": 8, "hidden": 8, "max_len": 16}},
    "bigru-tagger": {"params": {"vocab": 50, "d": 8, "hidden": 8, "max_len": 16}},
    "gcn": {"params": {"features": 12, "hidden": 8, "classes": 3}},
    "gat": {"params": {"features": 12, "hidden": 4, "heads": 2, "classes": 3}},
    "autoencoder": {},
    "vae": {"params": {"hidden": 16, "latent": 4}},
    "dcgan": {"params": {"nz": 8, "ngf": 4, "ndf": 4}},
    "ddpm-unet": {"params": {"size": 8, "width": 8, "steps": 10, "groups": 4}},
    "vgg16": {"params": {"num_classes": 10, "width": 4, "hidden": 16},
              "inputs": {"image": [3, 32, 32]}},
    "tests/specs/valid/tiny-lm": {},
    "tests/specs/valid/gpt3": {"params": {"vocab": 40, "ctx": 12, "d": 16, "heads": 2,
                                          "layers": 2}},
}
EXAMPLES = 30  # mutants of each base in the default run (hypothesis)
SLOW_EXAMPLES = 200  # and in the slow run (seeded, up to SLOW_MUTATIONS edits each)
MUTATIONS, SLOW_MUTATIONS = (1, 2), (1, 4)  # edits per mutant, at least and at most
CASE_SECONDS = 20  # validation that takes longer is a hang (it is meant to be fast)
MAX_PARAMS = 2_000_000  # larger models are validated only (building them is another test's)
MAX_BYTES = 64 * 2**20
MAX_SAMPLES = 10_000  # a data section asking for more is only validated


def base_tree(name: str) -> dict[str, Any]:
    path = ROOT / f"{name}.yaml" if "/" in name else SPECS / f"{name}.yaml"
    tree = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    scale = BASES[name]
    unknown = set(scale.get("params", {})) - set(tree.get("params", {}))
    assert not unknown, f"{name}: no params {unknown}"
    tree.setdefault("params", {}).update(scale.get("params", {}))
    for input_name, shape in scale.get("inputs", {}).items():
        tree["inputs"][input_name]["shape"] = shape
    return tree


# --- what every generated spec must satisfy ------------------------------------------------

class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"no answer in {CASE_SECONDS} s")


def outcome(path: Path) -> str:
    """'invalid', 'valid', 'valid, trained a step', 'valid (too big to build here)'; raises
    AssertionError on a breach, Hang when validation takes over CASE_SECONDS."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_SECONDS)  # validation only: an alarm inside an import would break it
    try:
        checked = check(path)
    except DlspecError as err:
        unlocated = [d.format() for d in err.diagnostics
                     if d.span is None or d.span.file != str(path) or d.span.line < 1]
        assert err.diagnostics and not unlocated, f"unlocated diagnostics: {unlocated}"
        return "invalid"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    describe(checked)
    results = [run_model(dataclasses.replace(checked, model=m)) for m in checked.graphs]
    if not all(results):
        return "valid (too big to build here)"
    return "valid, trained a step" if train_steps(checked, path.parent, MAX_SAMPLES) \
        else "valid"


def describe(checked) -> None:
    """What `compile --ir/--emit-python` and `graph` write of a valid spec: the IR as JSON,
    each model as Mermaid and dot drawings and as PyTorch source that parses."""
    from dlspec.api import python_source
    from dlspec.ir.serialize import spec_to_text
    from dlspec.render.dot import to_dot
    from dlspec.render.drawing import draw
    from dlspec.render.mermaid import to_mermaid

    assert spec_to_text(checked)
    for name, graph in checked.graphs.items():
        assert to_mermaid(draw(graph, name)) and to_dot(draw(graph, name, collapse=True))
        source = python_source(dataclasses.replace(checked, model=name), origin="a test")
        compile(source, f"{name}.py", "exec")  # parses; test_python_source runs it


def run_model(checked) -> bool:
    """Summarize, compile and run one model of a checked spec at batch 2, its named dims at
    the smallest of 6, 16, 64 that every layer takes; every layer's output must have its
    inferred shape and dtype. False when it is too big to build (or no such size fits)."""
    import torch

    from dlspec.backends.torch_module import build_module

    graph = checked.graph
    for smallest in (6, 16, 64):
        sizes = symbolic_sizes(checked, smallest)
        try:
            summary = summarize(checked, batch=2, dims=sizes)
            break
        except DlspecError as err:  # a layer needs a larger size than these
            assert sizes and err.codes == ["DLS201"], err
    else:
        return False
    if summary.params > MAX_PARAMS or summary.memory.inference > MAX_BYTES:
        return False
    torch.manual_seed(0)
    module = build_module(graph, checked.model).eval()
    recorded: dict[str, Any] = {}
    for node in graph.layers():
        module.get_submodule(node.name).register_forward_hook(
            lambda _m, _i, out, name=node.name: recorded.__setitem__(name, out))
    with torch.no_grad():
        module(*example_inputs(graph, sizes))
    bound = {BATCH: 2, **sizes}
    for node in graph.layers():
        out = recorded[node.name]
        expected = tuple(dim_value(d, bound) for d in node.type.shape)
        got = (tuple(out.shape), str(out.dtype).removeprefix("torch."))
        assert got == (expected, node.type.dtype), (
            f"layer {node.name} ({node.op_name}): inferred {node.type} {node.type.dtype} "
            f"= {expected}, ran {got}")
    return True


def symbolic_sizes(checked, smallest: int) -> dict[str, int]:
    """Each named input dim at a small size (smallest, smallest + 1, ...) within its
    declared bounds."""
    graph = checked.graph
    bounds = {d: b for config in checked.inputs.values() for d, b in config.dims.items()}
    names = sorted(set().union(*(dim_names(graph.node(n).type) for n in graph.inputs))
                   - {BATCH})
    sizes = {}
    for i, name in enumerate(names):
        size = smallest + i
        if name in bounds:
            size = max(bounds[name].min, min(size, bounds[name].max or size))
        sizes[name] = size
    return sizes


def example_inputs(graph, sizes: dict[str, int]) -> list:
    """Random inputs at batch 2: floats N(0, 1); ids below the smallest vocabulary that reads
    them, edge indices below the node count of the features they go with, else 0 or 1."""
    import torch

    generator = torch.Generator().manual_seed(0)
    bound = {BATCH: 2, **sizes}
    tensors = []
    for name in graph.inputs:
        node_type = graph.node(name).type
        shape = [dim_value(d, bound) for d in node_type.shape]
        if node_type.dtype.startswith("float"):
            tensors.append(torch.randn(shape, generator=generator,
                                       dtype=getattr(torch, node_type.dtype)))
            continue
        highs = [node.op.num_embeddings for node in graph.layers()
                 if name in node.inputs and hasattr(node.op, "num_embeddings")]
        highs += [dim_value(graph.node(node.inputs[0]).type.shape[1], bound)
                  for node in graph.layers() if node.op_name == "gat" and node.inputs[1] == name]
        tensors.append(torch.randint(0, min(highs or [2]), shape, generator=generator,
                                     dtype=getattr(torch, node_type.dtype)))
    return tensors


# --- the generated cases --------------------------------------------------------------

class DrawnChooser(Chooser):
    """Choices drawn by hypothesis."""

    def __init__(self, data):
        self.data = data

    def index(self, n: int) -> int:
        return self.data.draw(st.integers(0, n - 1)) if n > 1 else 0


def mutant(base: str, chooser: Chooser, path: Path, edits: tuple[int, int] = MUTATIONS
           ) -> list[str]:
    count = edits[0] + chooser.index(edits[1] - edits[0] + 1)
    text, done = mutate(base_tree(base), chooser, count)
    path.write_text(text)
    return done


# Breaches another item of issue 16 fixes: (item, what the error says). Remove each once its
# fix is merged.


def check_mutant(base: str, chooser: Chooser, tmp_path: Path, tally: dict[str, int],
                 edits: tuple[int, int] = MUTATIONS) -> None:
    path = tmp_path / f"{Path(base).name}.yaml"
    done = mutant(base, chooser, path, edits)
    try:
        result = outcome(path)
    except Exception as err:  # noqa: BLE001 - every breach is reported with its mutations
        raise AssertionError(
            f"{base} with {done}:\n{type(err).__name__}: {err}\n--- spec:\n{path.read_text()}"
        ) from err
    tally[result] = tally.get(result, 0) + 1


FUZZ_SETTINGS = dict(derandomize=True, database=None, deadline=None,
                     suppress_health_check=list(HealthCheck),
                     phases=[Phase.generate, Phase.shrink])


@pytest.mark.parametrize("base", BASES)
def test_bases_are_valid_and_run(base, tmp_path):
    tree = base_tree(base)
    path = tmp_path / f"{Path(base).name}.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    assert outcome(path) == ("valid, trained a step" if "data" in tree else "valid")


@pytest.mark.parametrize("base", BASES)
def test_mutants_validate_cleanly_or_compile_and_run(base, tmp_path_factory):
    tally: dict[str, int] = {}

    @settings(max_examples=EXAMPLES, **FUZZ_SETTINGS)
    @given(st.data())
    def run(data):
        check_mutant(base, DrawnChooser(data), tmp_path_factory.mktemp("m"), tally)

    run()
    assert sum(tally.values()) == EXAMPLES
    ran = tally.get("valid", 0) + tally.get("valid, trained a step", 0)
    assert tally.get("invalid", 0) >= 5 and ran >= 3, tally  # both paths are exercised
    if "data" in base_tree(base):
        assert tally.get("valid, trained a step", 0) >= 2, tally


@pytest.mark.slow
@pytest.mark.parametrize("base", BASES)
def test_many_more_mutants_validate_cleanly_or_compile_and_run(base, tmp_path):
    """The same check on seeded mutants with more edits each (`pytest -m slow`)."""
    tally: dict[str, int] = {}
    for i in range(SLOW_EXAMPLES):
        seed = zlib.crc32(f"{base}:{i}".encode())
        check_mutant(base, Chooser(seed), tmp_path, tally, SLOW_MUTATIONS)
    assert sum(tally.values()) == SLOW_EXAMPLES
