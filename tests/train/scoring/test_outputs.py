"""Training models with several outputs: a weighted sum of loss terms, each reading its own
outputs and comparing them with the data's targets or with the model's input; the metrics
score the output the targets are compared with. Values are recomputed by hand from the
saved weights."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from dlspec.api import check, compile_module, load_data, recipe_for, train_spec
from dlspec.errors import SpecError, TrainError
from dlspec.train.engine.reporting import Reporter
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import CrossEntropyConfig, MSEConfig
from dlspec.train.run_folder.checkpoint import apply_checkpoint, load_checkpoint
from dlspec.train.run_folder.run_dir import read_rows
from dlspec.train.scoring.outputs import ModelOutputs

SPECS = Path(__file__).resolve().parents[3] / "specs"
CLASSIFIER_WITH_DECODER = """dlspec: 1
name: aux
inputs: {pixels: {shape: [64]}}
model:
  - {op: linear, name: hidden, out_features: 32}
  - {op: relu, name: features}
  - {op: linear, name: logits, out_features: 10}
  - {op: linear, name: recon, inputs: features, out_features: 64}
outputs: [recon, logits]
loss:
  - {op: cross_entropy, output: logits}
  - {op: mse, output: recon, target: pixels, weight: 0.5}
optimizer: {op: adam, lr: 3e-3}
data: {dataset: digits, split: [0.8, 0.1, 0.1], seed: 0}
train: {epochs: 3, seed: 0}
"""


def trained_model(spec: Path, run):
    checked = check(spec, ["train.epochs=3"] if spec.parent == SPECS else [])
    model = compile_module(checked)
    apply_checkpoint(model, load_checkpoint(run.last_checkpoint))
    return model.eval(), load_data(checked)


def test_a_vae_trains_on_reconstruction_plus_kl(tmp_path):
    spec = SPECS / "vae-digits.yaml"
    run = train_spec(spec, ["train.epochs=3"], out_root=tmp_path, quiet=True)
    rows = read_rows(Path(run.run_dir) / "metrics.csv")
    for row in rows:  # the total is the sum of its terms (both weigh 1)
        for split in ("train", "val"):
            assert float(row[f"{split}_loss"]) == pytest.approx(
                float(row[f"{split}_loss_mse"]) + float(row[f"{split}_loss_gaussian_kl"]),
                rel=1e-5)
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    model, data = trained_model(spec, run)
    x = torch.from_numpy(next(iter(data.val.inputs.values())))
    with torch.no_grad():
        recon, mu, logvar = model(x)  # eval: z is the mean
    squared = ((recon - x) ** 2).sum(1).mean()  # the mse term, reduction: batchmean
    kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)).mean()
    assert run.val_metrics["val_loss_mse"] == pytest.approx(squared.item(), rel=1e-5)
    assert run.val_metrics["val_loss_gaussian_kl"] == pytest.approx(kl.item(), rel=1e-5)
    assert set(run.val_metrics) == {"val_loss", "val_loss_mse", "val_loss_gaussian_kl"}


def test_the_metrics_score_the_output_compared_with_the_targets(tmp_path):
    spec = tmp_path / "aux.yaml"
    spec.write_text(CLASSIFIER_WITH_DECODER)
    run = train_spec(spec, out_root=tmp_path, quiet=True)
    model, data = trained_model(spec, run)
    x, y = torch.from_numpy(data.val.x), torch.from_numpy(data.val.y)
    with torch.no_grad():
        recon, logits = model(x)
    accuracy = (logits.argmax(1) == y).float().mean().item()
    ce, mse = F.cross_entropy(logits, y).item(), F.mse_loss(recon, x).item()
    assert run.val_metrics["val_accuracy"] == pytest.approx(accuracy)
    assert run.val_metrics["val_loss_cross_entropy"] == pytest.approx(ce, rel=1e-5)
    assert run.val_metrics["val_loss_mse"] == pytest.approx(mse, rel=1e-5)
    assert run.val_metrics["val_loss"] == pytest.approx(ce + 0.5 * mse, rel=1e-5)
    assert accuracy > 0.8  # it learned the digits, not only to rebuild them


def test_metrics_need_an_output_compared_with_the_targets(tmp_path):
    with pytest.raises(SpecError, match="nothing to score") as caught:  # before any run
        train_spec(SPECS / "vae-digits.yaml", ["train.metrics=[accuracy]"],
                   out_root=tmp_path, quiet=True)
    assert caught.value.codes == ["DLS102"]
    assert not list(tmp_path.glob("*/checkpoints/*"))


@pytest.mark.parametrize("outputs, loss, scored", [
    ((), CrossEntropyConfig(), 0),  # one unnamed tensor
    (("logits",), CrossEntropyConfig(), 0),
    (("recon", "logits"), [CrossEntropyConfig(output="logits"),
                           MSEConfig(output="recon", target="x")], 1),
    (("recon",), MSEConfig(target="x"), None),  # compares with the input: nothing scored
])
def test_the_scored_output_is_the_one_the_targets_meet(outputs, loss, scored):
    recipe = Recipe.from_sections("classification", loss=loss, outputs=outputs, inputs=("x",))
    assert ModelOutputs.of(recipe).scored == scored


def test_an_unnamed_term_over_several_outputs_is_refused():
    recipe = Recipe.from_sections("classification", loss=CrossEntropyConfig(),
                                  outputs=("recon", "logits"))
    with pytest.raises(TrainError, match="does not say which one"):
        ModelOutputs.of(recipe)


def test_the_recipe_of_a_spec_names_its_outputs_and_inputs():
    recipe = recipe_for(check(SPECS / "vae-digits.yaml"))
    assert (recipe.outputs, recipe.inputs) == (("recon", "mu", "logvar"), ("image",))


def test_a_run_with_several_terms_resumes_inside_an_epoch(tmp_path, monkeypatch):
    """The per-term sums of an epoch under way are part of the resume checkpoint: a run
    stopped at step 15 (checkpointed at 10) and resumed writes the rows of one that was not."""
    spec = SPECS / "vae-digits.yaml"
    overrides = ["train.epochs=2", "train.checkpoint_every_steps=10", "train.log_every=5"]
    reference = train_spec(spec, overrides, out_root=tmp_path, run_name="whole", quiet=True)

    def crash(self, step, loss):
        if step == 15:
            raise KeyboardInterrupt
    monkeypatch.setattr(Reporter, "step_loss", crash)
    with pytest.raises(KeyboardInterrupt):
        train_spec(spec, overrides, out_root=tmp_path, run_name="stopped", quiet=True)
    monkeypatch.undo()
    resumed = train_spec(None, resume=tmp_path / "stopped", quiet=True)

    def rows(run):
        return [{k: v for k, v in row.items() if k != "seconds"}
                for row in read_rows(Path(run.run_dir) / "metrics.csv")]
    assert rows(resumed) == rows(reference) and len(rows(reference)) == 2
