"""`dlspec summary`, `dlspec graph` and `dlspec compile --emit-python` as a user runs them."""

import json
from pathlib import Path

from typer.testing import CliRunner

from dlspec.cli import app

ROOT = Path(__file__).resolve().parents[1]
SPECS, GPT3 = ROOT / "specs", ROOT / "tests" / "specs" / "valid" / "gpt3.yaml"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_summary_prints_layers_totals_and_memory():
    result = run("summary", SPECS / "resnet18.yaml", "--batch", "32")
    assert result.exit_code == 0, result.output
    assert "│ conv1 " in result.output and "(N, 64, 112, 112)" in result.output
    assert "118,013,952" in result.output  # conv1's MACs: 112*112*64 * 3*7*7
    assert "11,689,512" in result.output and "1,814,073,344 (1.814 G)" in result.output
    assert "memory estimate at batch 32" in result.output
    assert "optimizer state (adam)" in result.output


def test_summary_json_binds_seq():
    result = run("summary", GPT3, "--json", "--seq", "128", "--batch", "2")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # stderr may warn that it does not fit in memory
    assert summary["total"]["params"] == 174_604_259_328
    assert summary["dims"] == {"seq": 128} and summary["batch"] == 2
    memory = summary["memory"]
    assert memory["weights"] == 4 * 174_604_259_328
    assert memory["optimizer_state"] == 2 * memory["weights"]  # adamw
    assert memory["training"] == sum(memory[k] for k in (
        "weights", "gradients", "optimizer_state", "activations"))


def test_summary_rejects_a_malformed_dim():
    result = run("summary", GPT3, "--dim", "seq:12")
    assert result.exit_code == 2 and "not name=size" in result.output


def test_graph_writes_mermaid_and_says_how_to_get_graphviz(tmp_path, monkeypatch):
    out = tmp_path / "cnn.md"
    result = run("graph", SPECS / "cnn-digits.yaml", "-o", out, "--collapse")
    assert result.exit_code == 0, result.output
    assert '[["res1<br/>7 layers<br/>(N, 32, 8, 8)"]]' in out.read_text()
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    result = run("graph", SPECS / "cnn-digits.yaml", "-o", tmp_path / "cnn.png")
    assert result.exit_code == 1 and "apt install graphviz" in result.output
    assert not (tmp_path / "cnn.png").exists()


def test_graph_without_output_prints_mermaid():
    result = run("graph", SPECS / "mlp-digits.yaml")
    assert result.exit_code == 0 and result.output.startswith("flowchart TB\n")


def test_compile_emits_python(tmp_path):
    out = tmp_path / "model.py"
    result = run("compile", SPECS / "mlp-digits.yaml", "--emit-python", out)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    source = out.read_text()
    assert "class MlpDigits(nn.Module):" in source
    assert "        x = self.fc1(pixels)  # (N, 128)\n" in source



def test_compile_escapes_a_crafted_spec_file_name(tmp_path):
    """A file name that closes the docstring cannot put code into the emitted module."""
    import ast

    spec = tmp_path / 'm"""\nimport os; os.remove(__file__)\n""".yaml'
    spec.write_text((SPECS / "mlp-digits.yaml").read_text())
    out = tmp_path / "model.py"
    result = run("compile", spec, "--emit-python", out)
    assert result.exit_code == 0, result.output
    module = ast.parse(out.read_text())
    assert ast.get_docstring(module, clean=False).startswith(
        f"mlp-digits: PyTorch source written by dlspec from {spec}.\n")
    assert not [s for s in module.body if isinstance(s, ast.Import)
                and any(a.name == "os" for a in s.names)]

TWO_MODELS = """
dlspec: 1
name: pair
models:
  encoder:
    inputs: {x: {shape: [6]}}
    layers: [{op: linear, name: latent, out_features: 2}]
  decoder:
    inputs: {z: {shape: [2]}}
    layers: [{op: linear, name: out, out_features: 6}]
"""


def test_summary_and_graph_of_one_model_of_several(tmp_path):
    spec = tmp_path / "pair.yaml"
    spec.write_text(TWO_MODELS)
    result = run("summary", spec, "--model", "decoder", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["name"] == "decoder" and summary["total"]["params"] == 2 * 6 + 6
    result = run("graph", spec, "--model", "decoder")
    assert result.exit_code == 0 and '(["out<br/>linear<br/>(N, 6)"])' in result.output


def test_docs_writes_the_op_reference(tmp_path):
    from dlspec.spec.ops_doc import ops_markdown

    out = tmp_path / "ops.md"
    result = run("docs", "-o", out)
    assert result.exit_code == 0 and out.read_text() == ops_markdown()
