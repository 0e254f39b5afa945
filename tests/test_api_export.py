"""Export from a spec: symbolic dims become named dynamic ONNX axes, checked at new sizes."""

from pathlib import Path

import numpy as np
import onnx
import pytest

from dlspec.api import export_spec
from dlspec.backends.onnx_runtime import open_session, read_metadata
from dlspec.errors import DlspecError

TOKENS = """
dlspec: 1
name: token-tagger
inputs:
  ids: {shape: [seq], dtype: int64, dims: {seq: {max: 64}}}
model:
  - {op: embedding, name: tok, num_embeddings: 50, embedding_dim: 16}
  - {op: layernorm, name: ln}
  - {op: linear, name: hidden, out_features: 32}
  - {op: gelu, approximate: tanh}
  - {op: linear, name: tags, out_features: 7}
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokens")
    spec = folder / "tokens.yaml"
    spec.write_text(TOKENS)
    output = folder / "tokens.onnx"
    return export_spec(spec, output, untrained=True), output


def test_symbolic_dims_become_named_dynamic_axes(exported):
    report, output = exported
    model = onnx.load(str(output))
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "seq"]
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert report.max_abs_diff["tags"] <= 1e-5
    assert report.check_sizes["seq"] != report.export_sizes["seq"]


def test_exported_model_runs_at_any_batch_and_length(exported):
    _, output = exported
    session = open_session(output)
    for batch, length in [(1, 1), (4, 37), (2, 64)]:
        ids = np.random.default_rng(0).integers(0, 50, size=(batch, length))
        (tags,) = session.run(None, {"ids": ids})
        assert tags.shape == (batch, length, 7)


def test_metadata_names_the_spec_and_its_tensors(exported):
    _, output = exported
    metadata = read_metadata(output)
    assert metadata["spec_name"] == "token-tagger"
    assert '"seq"' in metadata["inputs"] and '"tags"' in metadata["outputs"]
    assert metadata["preprocessing"] == "none"


def test_a_spec_error_writes_nothing(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(TOKENS.replace("out_features: 7", "out_featurs: 7"))
    output = tmp_path / "model.onnx"
    output.write_bytes(b"keep me")
    with pytest.raises(DlspecError) as caught:
        export_spec(spec, output, untrained=True)
    assert caught.value.codes == ["DLS101"]  # out_featurs: unknown, "did you mean out_features"
    assert output.read_bytes() == b"keep me"
    assert sorted(Path(tmp_path).iterdir()) == [spec, output]


def test_an_output_named_like_an_inner_value_exports(tmp_path):
    """The exporter names a linear layer's value 'linear'; a final unnamed linear layer is
    called 'linear' too. The inner value is renamed, so the graph stays single-assignment."""
    spec = tmp_path / "spec.yaml"
    spec.write_text("dlspec: 1\nname: two-linears\ninputs: {x: {shape: [8]}}\nmodel:\n"
                    "  - {op: linear, name: fc, out_features: 16}\n"
                    "  - {op: linear, out_features: 4}\n")
    report = export_spec(spec, tmp_path / "model.onnx", untrained=True)
    model = onnx.load(tmp_path / "model.onnx")
    assert [o.name for o in model.graph.output] == ["linear"]
    names = [name for node in model.graph.node for name in node.output]
    assert len(names) == len(set(names)) and names.count("linear") == 1
    assert max(report.max_abs_diff.values()) <= 1e-6


# Two recurrent layers in a row: torch's exporter used to record the first one's output with
# the example's length (seq 16), and the second one folded it into a Reshape that ONNX
# Runtime refused at any other length (DLS502 at batch 3, seq 23).
CHAINS = {
    "lstm-lstm": ["{op: lstm, hidden_size: 8}", "{op: lstm, hidden_size: 6}"],
    "gru-gru": ["{op: gru, hidden_size: 8}", "{op: gru, hidden_size: 6, bidirectional: true}"],
    "lstm-lstm-last": ["{op: lstm, hidden_size: 8}", "{op: lstm, hidden_size: 6, returns: last}"],
    "rnn-rnn": ["{op: rnn, hidden_size: 8}", "{op: rnn, hidden_size: 6}"],
}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("chain", CHAINS)
def test_two_recurrent_layers_in_a_row_export(tmp_path, chain):
    from dlspec.api import compile_module
    from dlspec.compiler import check_spec

    layers = "".join(f"  - {layer}\n" for layer in CHAINS[chain])
    spec = tmp_path / "chain.yaml"
    spec.write_text("dlspec: 1\nname: chain\ninputs: {x: {shape: [seq, 4]}}\nmodel:\n"
                    f"{layers}  - {{op: linear, name: out, out_features: 3}}\n")
    report = export_spec(spec, tmp_path / "chain.onnx", untrained=True)
    assert (report.check_batch, report.check_sizes) == (3, {"seq": 23})
    assert report.export_sizes == {"seq": 16}
    assert report.max_abs_diff["out"] <= 1e-6
    last = chain.endswith("last")
    assert report.output_dims["out"] == (("batch", 3) if last else ("batch", "seq", 3))
    # and at a third batch size and length, against the same module built from the spec
    module = compile_module(check_spec(spec)).eval()
    x = np.random.default_rng(1).standard_normal((5, 9, 4)).astype(np.float32)
    (got,) = open_session(tmp_path / "chain.onnx").run(None, {"x": x})
    import torch
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    assert got.shape == ((5, 3) if last else (5, 9, 3))
    assert np.abs(got - want).max() <= 1e-6


REVERSE_TRANSFORMER = """
dlspec: 1
name: reverse-transformer
inputs:
  tokens: {shape: [seq], dtype: int64, dims: {seq: {max: 64}}}
model:
  - {op: embedding, name: embed, num_embeddings: 10, embedding_dim: 32, padding_idx: 0}
  - {op: learned_position, name: position, max_len: 64}
  - {op: transformer_encoder_block, name: block1, heads: 4, ffn: 64}
  - {op: transformer_encoder_block, name: block2, heads: 4, ffn: 64}
  - {op: transformer_encoder_block, name: block3, heads: 4, ffn: 64}
  - {op: linear, name: tags, out_features: 10}
loss: {op: cross_entropy}
optimizer: {op: adam, lr: 3e-3}
data: {dataset: reverse, length: 12, vocab: 10, samples: 1500, batch_size: 64, seed: 0}
train: {epochs: 3, seed: 0}
"""


@pytest.fixture(scope="module")
def trained_transformer(tmp_path_factory):
    """A transformer trained briefly on `reverse`, exported from its run folder."""
    from dlspec.api import train_spec

    folder = tmp_path_factory.mktemp("reverse")
    spec = folder / "reverse.yaml"
    spec.write_text(REVERSE_TRANSFORMER)
    result = train_spec(spec, out_root=folder / "runs", run_name="run", quiet=True)
    report = export_spec(spec, folder / "model.onnx", weights=result.run_dir)
    return spec, result.run_dir, report


@pytest.mark.filterwarnings("ignore")
def test_a_transformer_trained_on_reverse_exports(trained_transformer):
    _, _, report = trained_transformer
    assert report.input_draws == {"tokens": "ids in [0, 10)"}  # ids as the data has them
    # embedding, positions, three blocks, head: depth 6; logits up to ~10
    assert 1e-5 < report.tolerances["tags"] < 1e-3
    assert report.max_abs_diff["tags"] < report.tolerances["tags"]


@pytest.mark.filterwarnings("ignore")
def test_the_check_refuses_an_export_with_one_weight_off(trained_transformer, tmp_path):
    """The tolerance is no rubber stamp: one initializer of the file scaled by 1.01 fails."""
    import onnx
    import torch
    from onnx import numpy_helper

    from dlspec.api import compile_module, load_weights
    from dlspec.backends.onnx_check import compare_outputs
    from dlspec.backends.onnx_tolerance import absolute_tolerances, weighted_depth
    from dlspec.compiler import check_spec
    from dlspec.errors import ExportError

    spec, run_dir, report = trained_transformer
    checked = check_spec(spec)
    module, _ = load_weights(compile_module(checked), run_dir)
    tokens = np.random.default_rng(3).integers(0, 10, size=(4, 20))
    with torch.no_grad():
        want = module.eval()(torch.from_numpy(tokens)).numpy()
    atols = absolute_tolerances(["tags"], [want], 1e-5, weighted_depth(checked.graph))
    (good,) = open_session(report.path).run(None, {"tokens": tokens})
    compare_outputs(["tags"], [want], [good], atols, "batch 4, seq 20")  # passes

    model = onnx.load(report.path)
    weight = next(t for t in model.graph.initializer if "block2" in t.name and t.dims[0] > 1)
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) * 1.01, weight.name))
    onnx.save(model, tmp_path / "wrong.onnx")
    (wrong,) = open_session(tmp_path / "wrong.onnx").run(None, {"tokens": tokens})
    with pytest.raises(ExportError) as caught:
        compare_outputs(["tags"], [want], [wrong], atols, "batch 4, seq 20")
    assert caught.value.codes == ["DLS502"]
    assert np.abs(wrong - want).max() > 10 * atols["tags"]


def test_one_model_of_a_trained_gan_exports_with_its_own_weights(tmp_path):
    """--model generator exports the run's EMA generator, taking noise as it is (the data's
    rescaling belongs to the discriminator, which exports with it)."""
    import torch

    from dlspec.api import check_spec, compile_module, train_spec
    from dlspec.train.engine.model_set import one_model
    from dlspec.train.run_folder.checkpoint import apply_checkpoint, load_checkpoint

    spec = Path(__file__).resolve().parents[1] / "specs" / "dcgan-digits.yaml"
    run = train_spec(spec, ["train.epochs=1"], out_root=tmp_path, run_name="gan", quiet=True)
    best = load_checkpoint(Path(run.run_dir) / "checkpoints" / "best.safetensors")
    generator = compile_module(check_spec(spec, model="generator"))
    apply_checkpoint(generator, one_model(best, "generator"))
    z = np.random.default_rng(0).standard_normal((5, 32)).astype(np.float32)
    with torch.no_grad():
        expected = generator.eval()(torch.from_numpy(z)).numpy()

    export_spec(run.run_dir, tmp_path / "g.onnx", model="generator")
    (got,) = open_session(tmp_path / "g.onnx").run(None, {"z": z})
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert one_model(best, "generator").metadata["weights_of"] == "ema.generator"
    assert read_metadata(tmp_path / "g.onnx")["preprocessing"] == "none"
    export_spec(run.run_dir, tmp_path / "d.onnx", model="discriminator")
    assert read_metadata(tmp_path / "d.onnx")["preprocessing"] == "standardize"


def test_a_model_of_two_inputs_exports_behind_the_scaling_of_each(tmp_path):
    """Each standardized input of a two-input model is standardized inside the exported
    model too, so that it takes raw values like a model of one input."""
    import torch

    from dlspec.api import check, compile_module, load_data, train_spec
    from dlspec.train.run_folder.checkpoint import apply_checkpoint, load_checkpoint

    spec = Path(__file__).resolve().parents[1] / "specs" / "two-input-digits-shift.yaml"
    run = train_spec(spec, ["train.epochs=1"], out_root=tmp_path, run_name="two", quiet=True)
    checked = check(spec)
    data = load_data(checked)
    assert len(data.scaling) == 2  # both inputs were standardized for training
    model = compile_module(checked).eval()
    best = Path(run.run_dir) / "checkpoints" / "best.safetensors"
    apply_checkpoint(model, load_checkpoint(best))
    rng = np.random.default_rng(1)
    raw = {name: rng.uniform(0, 16, (4, *x.shape[1:])).astype(np.float32)
           for name, x in data.test.inputs.items()}
    scaled = [torch.from_numpy((x - data.scaling[n][0]) / data.scaling[n][1]).float()
              for n, x in raw.items()]
    with torch.no_grad():
        expected = model(*scaled).numpy()

    export_spec(run.run_dir, tmp_path / "two.onnx")
    (got,) = open_session(tmp_path / "two.onnx").run(None, raw)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert read_metadata(tmp_path / "two.onnx")["preprocessing"] == "standardize"


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_an_output_that_is_a_folder_or_a_device_is_refused_before_the_export(tmp_path, kind):
    """-o naming a folder was a traceback; run as root, -o /dev/null replaced the device."""
    import os

    spec = tmp_path / "tokens.yaml"
    spec.write_text(TOKENS)
    target = tmp_path / "out"
    if kind == "folder":
        target.mkdir()
    else:
        os.mkfifo(target)
    with pytest.raises(DlspecError, match="DLS501") as caught:
        export_spec(spec, target, untrained=True)
    assert ("is a folder" if kind == "folder" else "is not a regular file") in str(caught.value)
    assert target.is_dir() if kind == "folder" else target.is_fifo()
