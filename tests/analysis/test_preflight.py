"""The memory preflight: a module too large for memory is refused at its largest layer, with
the figures, before anything is allocated; `dlspec summary` warns."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlspec.analysis import preflight
from dlspec.analysis.preflight import host_available, memory_diagnostic, module_bytes
from dlspec.api import compile_module, train_spec
from dlspec.compiler import check_spec
from dlspec.errors import SpecError

ROOT = Path(__file__).resolve().parents[2]

SMALL = """\
    dlspec: 1
    name: t
    inputs: {ids: {shape: [6], dtype: int64}}
    model:
      - {op: embedding, name: wte, num_embeddings: 50, embedding_dim: 8}
      - {op: transpose, dim0: 1, dim1: 2}
      - {op: batchnorm1d, name: bn}
      - {op: transpose, dim0: 1, dim1: 2}
      - {op: linear, name: head, out_features: 50, tie: wte}
    """

HUGE = """\
    dlspec: 1
    name: huge
    inputs: {x: {shape: [64]}}
    model:
      - {op: linear, name: fc, out_features: 1000000000000}
      - {op: linear, name: out, out_features: 10}
    """


def spec(tmp_path, text: str):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return check_spec(path)


def test_the_count_is_the_built_modules_parameters_and_buffers(tmp_path):
    checked = spec(tmp_path, SMALL)
    module = compile_module(checked)
    torch_count = sum(p.numel() for p in module.parameters()) + \
        sum(b.numel() for b in module.buffers())
    rows = {row.node.name: row.elements for row in module_bytes(checked.graph)}
    # the tied head owns only its bias; batch norm: weight, bias, running mean/var, count
    assert rows == {"wte": 400, "transpose": 0, "bn": 2 * 8 + 2 * 8 + 1, "transpose_1": 0,
                    "head": 50}
    assert sum(rows.values()) == torch_count == 483


def test_a_layer_too_large_alone_is_located_with_both_figures(tmp_path):
    checked = spec(tmp_path, HUGE)
    d = memory_diagnostic(checked.graph, available=23 * 2**30)
    assert (d.code, d.severity, d.layer, d.op) == ("DLS205", "error", "fc", "linear")
    assert (d.span.line, d.span.col) == (5, 5)
    assert d.message == ("needs 236.5 TiB for its 65,000,000,000,000 parameters alone; "
                         "23.0 GiB of memory is available")
    assert "make the largest layers smaller" in d.hint


def test_layers_that_fit_alone_but_not_together_name_the_largest(tmp_path):
    checked = spec(tmp_path, SMALL)  # 483 elements: 1,932 bytes; the embedding 1,600
    assert memory_diagnostic(checked.graph, available=1932) is None
    d = memory_diagnostic(checked.graph, available=1700, where=" on the GPU",
                          severity="warning")
    assert (d.layer, d.span.line, d.severity) == ("wte", 5, "warning")
    assert d.message == ("the model needs 1.9 KiB for its parameters and buffers (this layer, "
                         "its largest, 1.6 KiB); 1.7 KiB of memory is available on the GPU")


def test_compile_refuses_before_allocating(tmp_path, monkeypatch):
    checked = spec(tmp_path, HUGE)

    def no_build(*args, **kwargs):
        raise AssertionError("the module was built")

    monkeypatch.setattr("dlspec.backends.torch_module.build_module", no_build)
    with pytest.raises(SpecError) as caught:
        compile_module(checked)
    [d] = caught.value.diagnostics
    assert (d.code, d.layer, d.span.line) == ("DLS205", "fc", 5)
    assert "of memory is available" in d.message


def test_the_gpu_is_asked_for_a_model_headed_there(tmp_path, monkeypatch):
    checked = spec(tmp_path, SMALL)
    monkeypatch.setattr(preflight, "cuda_available", lambda: 1000)
    compile_module(checked)  # built on the host: the GPU is not asked
    with pytest.raises(SpecError) as caught:
        compile_module(checked, device="auto")
    assert caught.value.diagnostics[0].message.endswith(
        "1000 B of memory is available on the GPU")


def test_train_refuses_and_leaves_no_run_folder(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text((ROOT / "specs" / "mlp-digits.yaml").read_text())
    with pytest.raises(SpecError) as caught:
        train_spec(path, ["hidden=100000000", "train.device=cpu"], out_root=tmp_path / "runs",
                   quiet=True)
    [d] = caught.value.diagnostics
    assert (d.code, d.layer, d.span.line) == ("DLS205", "fc2", 15)
    assert "36,379.8 TiB for its 1.00e+16 parameters alone" in d.message
    assert not (tmp_path / "runs").exists()


def test_the_cli_answers_quickly_with_the_located_error(tmp_path):
    (tmp_path / "huge.yaml").write_text(textwrap.dedent(HUGE))
    done = subprocess.run([sys.executable, "-m", "dlspec", "compile", "huge.yaml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("huge.yaml:5:5: error DLS205: in layer 'fc' (linear): "
                                  "needs 236.5 TiB for its 65,000,000,000,000 parameters")
    assert "Traceback" not in done.stderr


def test_summary_warns_and_still_prints(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dlspec.cli import app

    (tmp_path / "s.yaml").write_text(textwrap.dedent(SMALL))
    monkeypatch.setattr(preflight, "host_available", lambda: 1700)
    result = CliRunner().invoke(app, ["summary", str(tmp_path / "s.yaml")])
    assert result.exit_code == 0
    assert "warning DLS205: in layer 'wte' (embedding): the model needs 1.9 KiB" in \
        result.stderr
    assert "483" not in result.stderr and "│ wte " in result.stdout


def test_available_memory_is_read_from_the_kernel():
    available = host_available()
    if not Path("/proc/meminfo").exists():
        pytest.skip("not Linux")
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    kernel = int(meminfo["MemAvailable"].split()[0]) * 1024
    assert 0 < available <= kernel + 2**30  # it moves a little between the two reads
