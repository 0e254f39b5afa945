"""The masked_lm objective (train/objectives/masked_lm.py): the masking's statistics, the
loss on the masked positions only, its evaluation numbers, a resumed run's masking, the
located refusals of `dlspec validate`, and bert-chars learning the shipped text."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dlspec.api import check, evaluate_spec, train_spec
from dlspec.data.types import PreparedData, Split
from dlspec.errors import DlspecError, TrainError
from dlspec.train.engine.batch import split_tensors
from dlspec.train.engine.interrupt import RunInterrupted
from dlspec.train.engine.loop import fit
from dlspec.train.engine.setup import FitOptions
from dlspec.train.objectives import objective_class
from dlspec.train.objectives.base import Context
from dlspec.train.objectives.masked_lm import IGNORED, MaskedLM, MaskedLMConfig, mask_tokens
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import TrainConfig
from dlspec.train.recipe.optim_config import AdamConfig
from dlspec.train.run_folder.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[3]
BERT = ROOT / "specs" / "bert-chars.yaml"
HEAD = 8  # the index of bert-chars's output layer under `model:`
VOCAB = 12  # ids 0..11, 0 pads; the mask id is 12


def statistics(config: MaskedLMConfig, seed: int = 0):
    """A masking of 400 x 500 ids in 1..11 with a quarter of them padding (0)."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, VOCAB, (400, 500), generator=generator)
    ids[torch.rand(ids.shape, generator=generator) < 0.25] = 0
    choices = torch.arange(1, VOCAB)
    inputs, targets = mask_tokens(ids, config, VOCAB, choices, generator)
    return ids, inputs, targets


def test_the_masking_chooses_15_percent_of_the_tokens_and_changes_them_80_10_10():
    ids, inputs, targets = statistics(MaskedLMConfig(op="masked_lm"))
    chosen = targets != IGNORED
    tokens = ids != 0
    assert torch.equal(targets[chosen], ids[chosen])  # the targets are the original ids
    assert not chosen[~tokens].any()  # padding is never chosen
    assert torch.equal(inputs[~tokens], ids[~tokens]) and torch.equal(inputs[~chosen],
                                                                       ids[~chosen])
    rate = chosen.sum().item() / tokens.sum().item()  # of 150,000 tokens: sd 0.0009
    assert rate == pytest.approx(0.15, abs=0.005)
    n = chosen.sum().item()  # about 22,500: a share's sd is below 0.003
    masked = (inputs[chosen] == VOCAB).sum().item() / n
    changed = inputs[chosen] != ids[chosen]
    randomized = (changed & (inputs[chosen] != VOCAB)).sum().item() / n
    kept = (~changed).sum().item() / n
    # a random replacement draws the original id again 1 time in 11
    assert masked == pytest.approx(0.8, abs=0.01)
    assert randomized == pytest.approx(0.1 * 10 / 11, abs=0.01)
    assert kept == pytest.approx(0.1 + 0.1 / 11, abs=0.01)
    replaced = inputs[chosen & (inputs != VOCAB) & (inputs != ids)]
    # random replacements are real vocabulary ids, never padding nor the mask: all 11 drawn
    assert set(replaced.tolist()) == set(range(1, VOCAB))


def test_the_replace_fractions_and_never_are_honoured():
    ids, inputs, targets = statistics(MaskedLMConfig(op="masked_lm", replace=(0, 1, 0),
                                                     never=(0, 3), rate=0.5))
    chosen = targets != IGNORED
    assert not chosen[(ids == 0) | (ids == 3)].any()
    assert chosen.sum().item() / ((ids != 0) & (ids != 3)).sum().item() == pytest.approx(
        0.5, abs=0.01)
    assert not (inputs == VOCAB).any()  # none masked: all randomized
    assert (inputs[chosen] != ids[chosen]).float().mean().item() == pytest.approx(
        10 / 11, abs=0.01)
    ids, inputs, targets = statistics(MaskedLMConfig(op="masked_lm", replace=(0, 0, 1)))
    assert (targets != IGNORED).any() and torch.equal(inputs, ids)  # chosen, all kept
    with pytest.raises(ValueError, match="must be >= 0 and sum to 1, got \\[0.8, 0.1, 0.2\\]"):
        MaskedLMConfig(op="masked_lm", replace=(0.8, 0.1, 0.2))


class Tagger(nn.Module):
    """(N, T) ids -> (N, T, VOCAB) logits: an embedding with a row for the mask id, one
    position mixed with its neighbours, and a linear head."""

    def __init__(self, rows: int = VOCAB + 1, out: int = VOCAB):
        super().__init__()
        torch.manual_seed(0)
        self.embed, self.mix = nn.Embedding(rows, 8), nn.Conv1d(8, 8, 3, padding=1)
        self.head = nn.Linear(8, out)

    def forward(self, ids):
        x = self.embed(ids)
        return self.head(torch.tanh(self.mix(x.transpose(1, 2)).transpose(1, 2)))


def token_data(n: int = 64, length: int = 10) -> PreparedData:
    """Sequences of a repeating pattern 1..11 (a masked id follows from its neighbours),
    padded with 0 at the end; the vocabulary names ids 0..11."""
    rng = np.random.default_rng(0)
    start = rng.integers(0, VOCAB - 1, size=(n, 1))
    ids = (start + np.arange(length)) % (VOCAB - 1) + 1
    ids[:, length - 2:] = 0
    y = np.zeros_like(ids)
    cuts = [0, n // 2, 3 * n // 4, n]
    splits = [Split({"ids": ids[a:b].astype(np.int64)}, y[a:b]) for a, b in
              zip(cuts, cuts[1:], strict=False)]
    return PreparedData(*splits, "language_model", [f"t{i}" for i in range(length)],
                        ["<pad>", *"abcdefghijk"])


def made(config: MaskedLMConfig, model: nn.Module | None = None,
         data: PreparedData | None = None) -> MaskedLM:
    data = data or token_data()
    recipe = Recipe.from_sections(data.task, train=TrainConfig(epochs=2), batch_size=8,
                                  inputs=("ids",), objective=config)
    context = Context({"model": model or Tagger()}, data, recipe, torch.device("cpu"), {}, {},
                      {})
    objective = objective_class(config)(config, context)
    objective.prepare(split_tensors(data.train, "cpu"))
    return objective


CONFIG = MaskedLMConfig(op="masked_lm", rate=0.3)


def test_the_loss_is_the_cross_entropy_of_the_masked_positions_only():
    objective = made(CONFIG)
    assert (objective.vocab, objective.mask_id) == (VOCAB, VOCAB)
    assert objective.choices.tolist() == list(range(1, VOCAB))
    batch = split_tensors(token_data().train, "cpu").rows(slice(0, 6))
    torch.manual_seed(7)
    loss = objective.losses(objective.update, batch)["loss"]
    torch.manual_seed(7)  # the same draws, from the run's generator
    inputs, targets = mask_tokens(batch.inputs["ids"], CONFIG, VOCAB, torch.arange(1, VOCAB))
    log_p = torch.log_softmax(objective.model(inputs), -1).detach().numpy()
    chosen = [(i, t) for i in range(6) for t in range(10) if targets[i, t] != IGNORED]
    assert 6 <= len(chosen) < 30  # some, not all, of the 48 tokens; never the 12 paddings
    by_hand = -sum(log_p[i, t, targets[i, t]] for i, t in chosen) / len(chosen)
    assert loss.item() == pytest.approx(by_hand, rel=1e-6)
    loss.backward()
    assert objective.model.head.weight.grad.abs().sum() > 0
    torch.manual_seed(7)
    assert objective.losses(objective.update, batch)["loss"].item() == loss.item()
    empty = batch.replace({"ids": torch.zeros_like(batch.inputs["ids"])})  # all padding
    assert objective.losses(objective.update, empty)["loss"].item() == 0.0


def test_evaluation_masks_with_a_fixed_seed_and_reports_accuracy_and_perplexity():
    objective = made(CONFIG)
    val = split_tensors(token_data().val, "cpu")
    state = torch.get_rng_state()
    first = objective.evaluate(val, "val", 1024)
    assert torch.get_rng_state().equal(state)  # its seed is its own: training's draws go on
    assert objective.evaluate(val, "val", 3) == pytest.approx(first, rel=1e-6)  # any batch
    assert set(first) == {"val_loss", "val_masked_accuracy", "val_perplexity"}
    draws = torch.Generator().manual_seed(0)
    inputs, targets = mask_tokens(val.inputs["ids"], CONFIG, VOCAB, torch.arange(1, VOCAB),
                                  draws)
    with torch.no_grad():
        logits = objective.model(inputs)
    chosen = targets != IGNORED
    loss = nn.functional.cross_entropy(logits[chosen], targets[chosen]).item()
    right = (logits[chosen].argmax(-1) == targets[chosen]).float().mean().item()
    assert first["val_loss"] == pytest.approx(loss, rel=1e-6)
    assert first["val_masked_accuracy"] == pytest.approx(right)
    assert first["val_perplexity"] == pytest.approx(math.exp(loss), rel=1e-6)
    assert objective.model.training
    assert objective.evaluate(val.rows(slice(0, 0)), "test", 8) == {}


def test_a_model_that_does_not_fit_the_masking_is_refused_before_training():
    with pytest.raises(TrainError, match="DLS402.*cannot take the mask id 12.*\n.*"
                                         "num_embeddings: 13"):
        made(CONFIG, Tagger(rows=VOCAB))
    with pytest.raises(TrainError, match=r"DLS402.*logits have shape \(2, 10, 11\), but the "
                                         r"\(2, 10\) token ids need \(2, 10, 12\)"):
        made(CONFIG, Tagger(out=VOCAB - 1))
    floats = token_data()
    floats = PreparedData(*(Split({"ids": s.inputs["ids"].astype(np.float32)}, s.y)
                            for s in (floats.train, floats.val, floats.test)),
                          "language_model", floats.feature_names, floats.class_names)
    with pytest.raises(TrainError, match="masks the token ids of input 'ids', but the data "
                                         "gives torch.float32"):
        made(CONFIG, data=floats)


def test_a_short_run_learns_the_pattern(tmp_path):
    data = token_data(n=256)
    recipe = Recipe.from_sections("language_model", train=TrainConfig(epochs=10),
                                  batch_size=16, optimizer=AdamConfig(op="adam", lr=0.02),
                                  inputs=("ids",), objective=CONFIG)
    result = fit(Tagger(), data, recipe, tmp_path / "run", device="cpu", seed=0,
                 metadata={}, quiet=True)
    first, last = result.history[0], result.history[-1]
    assert last["train_loss"] < first["train_loss"]
    assert last["val_masked_accuracy"] > 0.75  # chance: 1 in 11; measured 0.88
    assert set(result.test_metrics) == {"test_loss", "test_masked_accuracy", "test_perplexity"}


def test_an_interrupted_run_resumes_with_the_same_maskings(tmp_path, monkeypatch):
    """The maskings are drawn from the run's generator, which a resumed run restores."""
    data = token_data(n=128)  # 64 train sequences: 4 steps per epoch
    recipe = Recipe.from_sections("language_model", batch_size=16, inputs=("ids",),
                                  objective=CONFIG,
                                  train=TrainConfig(epochs=3, seed=1, checkpoint_every_steps=3))

    def train(folder: str, resume: bool = False):
        return fit(Tagger(), data, recipe, tmp_path / folder, device="cpu", seed=1,
                   metadata={}, quiet=True, options=FitOptions(resume=resume))

    original, seen = MaskedLM.masked, {"whole": [], "cut": []}
    record = seen["whole"]

    def recording(self, batch, generator=None):
        masked, targets = original(self, batch, generator)
        if generator is None:  # a training step's masking
            record.append(targets.clone())
        return masked, targets

    monkeypatch.setattr(MaskedLM, "masked", recording)
    whole = train("whole")
    calls = {"n": 0}
    original_losses = MaskedLM.losses

    def stop_at_step_eight(self, update, batch):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return original_losses(self, update, batch)

    record = seen["cut"]
    monkeypatch.setattr(MaskedLM, "losses", stop_at_step_eight)
    with pytest.raises(RunInterrupted, match="step 6"):  # in epoch 2, after a checkpoint
        train("cut")
    monkeypatch.setattr(MaskedLM, "losses", original_losses)
    del record[6:]  # the steps after the checkpoint of step 6 are done again
    resumed = train("cut", resume=True)
    assert len(seen["whole"]) == len(seen["cut"]) == 12
    assert all(torch.equal(a, b) for a, b in zip(seen["whole"], seen["cut"], strict=True))
    assert len({tuple(t.flatten().tolist()) for t in seen["whole"]}) == 12  # fresh each step
    a = load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.safetensors").state_dict
    b = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.safetensors").state_dict
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    assert [r["val_masked_accuracy"] for r in resumed.history] == \
        [r["val_masked_accuracy"] for r in whole.history]


def validate(tmp_path, *overrides: str, text: str | None = None) -> list[str]:
    """What `dlspec validate` says of bert-chars (or `text`) with the overrides."""
    path = tmp_path / "spec.yaml"
    path.write_text(text if text is not None else BERT.read_text())
    try:
        check(path, list(overrides))
    except DlspecError as error:
        return [d.format().replace(f"{path}:", "") for d in error.diagnostics]
    return []


def line_of(start: str, text: str | None = None) -> int:
    lines = (text or BERT.read_text()).splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.lstrip().startswith(start))


def test_validate_locates_what_keeps_a_spec_from_masked_language_modelling(tmp_path):
    assert validate(tmp_path) == []
    embed, head = line_of("- {op: embedding"), line_of("- {op: linear, name: chars_out")
    (said,) = validate(tmp_path, "model.0.num_embeddings=${vocab}")
    assert said == (f"{embed}:5: error DLS402: embedding 'embed' has 49 rows (ids 0..48), but "
                    "masked_lm feeds it the mask id 49 (by default the vocabulary size, one "
                    "past the last id)\n  help: give it num_embeddings: 50 (the vocabulary, "
                    "49, and the mask token)")
    (said,) = validate(tmp_path, "objective.mask_id=60")
    assert said.startswith(f"{embed}:5: error DLS402: embedding 'embed' has 50 rows (ids "
                           "0..49), but masked_lm feeds it the mask id 60\n")
    (said,) = validate(tmp_path, f"model.{HEAD}.out_features=50")
    assert said.startswith(f"{head}:5: error DLS402: masked_lm reads output 'chars_out' as "
                           "logits over the vocabulary at every position, (N, T, 49), but it "
                           "is (N, seq, 50)\n  help: end the model with a linear layer of "
                           "out_features: 49")
    said = validate(tmp_path, "objective.input=char", "objective.output=chars")
    assert [s.split(" error ")[1] for s in said] == [
        "DLS402: objective.input: 'char' is not an input of model 'bert-chars': did you "
        "mean 'chars'?",
        "DLS305: objective.output: 'chars' is not an output of model 'bert-chars': did you "
        "mean 'chars_out'?\n  help: list the layer under the model's `outputs:`"]
    (said,) = validate(tmp_path, "outputs=[block3, chars_out]")
    assert "model 'bert-chars' has 2 outputs (block3, chars_out), and nothing says which " \
        "gives the masked_lm logits\n  help: name it: `objective: {op: masked_lm, output: " \
        "chars_out}`" in said
    assert validate(tmp_path, "outputs=[block3, chars_out]", "objective.output=chars_out") == []
    (said,) = validate(tmp_path, "loss={op: cross_entropy}")
    assert "the masked_lm objective computes its own losses" in said
    (said,) = validate(tmp_path, "objective.replace=[0.5, 0.1, 0.1]")
    assert "must be >= 0 and sum to 1, got [0.5, 0.1, 0.1]" in said


DIGITS = """\
dlspec: 1
name: mlp
inputs: {pixels: {shape: [64]}}
model:
  - {op: linear, name: logits, out_features: 10}
objective: {op: masked_lm}
data: {dataset: digits}
"""


def test_validate_refuses_an_input_of_no_token_ids_and_data_of_no_tokens(tmp_path):
    said = validate(tmp_path, text=DIGITS)
    assert said == [
        f"{line_of('inputs:', DIGITS)}:18: error DLS402: masked_lm masks the token ids of input "
        "'pixels', but it is float32 of shape [64], not int64 ids of shape (T,)\n  help: "
        "declare it as token ids, e.g. `{shape: [seq], dtype: int64}`",
        f"{line_of('data:', DIGITS)}:17: error DLS402: masked_lm masks token sequences, but "
        "the data 'digits' has no token ids (a vocabulary) to feed the model with\n  help: "
        "train it on token sequences, e.g. `data: {dataset: chars}`"]


def test_evaluate_measures_a_bert_chars_run_with_its_masking(tmp_path):
    overrides = ["train.epochs=1", "data.samples=300", "d=16", "heads=2"]
    result = train_spec(BERT, overrides, out_root=tmp_path, run_name="run", quiet=True)
    evaluation = evaluate_spec(result.run_dir)
    assert set(evaluation.metrics) == {"test_loss", "test_masked_accuracy", "test_perplexity"}
    for key, value in result.test_metrics.items():
        assert evaluation.metrics[key] == pytest.approx(value, rel=1e-5)


def unigram_accuracy() -> float:
    """The masked accuracy of always predicting the most frequent character of the test
    windows (what a model that ignores the context does best)."""
    from dlspec.data.generate import generate

    raw = generate("chars", {"samples": 3000, "length": 64}, 0, (0.8, 0.1, 0.1))
    test = raw.x[2700:]  # the ordered splits: train, val, test
    return np.unique(test, return_counts=True)[1].max() / test.size


@pytest.mark.slow
@pytest.mark.cost(130)
def test_bert_chars_predicts_hidden_characters_far_better_than_their_frequencies(tmp_path):
    # measured: test masked accuracy 0.482 (perplexity 5.63) after 12 epochs, 2.5 minutes of
    # one core; the full 30 epochs: 0.563 (4.89); the character frequencies alone: 0.198
    overrides = ["train.epochs=12"]
    result = train_spec(BERT, overrides, out_root=tmp_path, run_name="run", quiet=True)
    baseline = unigram_accuracy()
    assert baseline == pytest.approx(0.198, abs=0.001)  # the space
    accuracy = result.test_metrics["test_masked_accuracy"]
    assert accuracy >= 2 * baseline, (accuracy, baseline)
    assert result.test_metrics["test_perplexity"] < 8.0
