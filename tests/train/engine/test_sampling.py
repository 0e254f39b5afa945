"""data.sampling: each epoch's order drawn class-balanced (sampling.py), counted exactly,
equal to torch's WeightedRandomSampler, resumed exactly mid-epoch, and better minority
recall on a skewed set than plain shuffling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from train_data_fixtures import mlp, split_three

import dlspec.train.engine.loop as loop_module
from dlspec.data.types import PreparedData
from dlspec.train.engine.loop import fit
from dlspec.train.engine.sampling import Sampler
from dlspec.train.engine.setup import FitOptions
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import AdamConfig, TrainConfig
from dlspec.train.run_folder.checkpoint import load_checkpoint

LABELS = torch.tensor([0] * 90 + [1] * 8 + [2] * 2)


def orders(method: str, epochs: int = 3, seed: int = 0) -> list[torch.Tensor]:
    sampler = Sampler.create(method, True, LABELS)
    generator = torch.Generator().manual_seed(seed)
    return [sampler.order(generator, "cpu") for _ in range(epochs)]


@pytest.mark.parametrize(("method", "each"), [("oversample", 90), ("undersample", 2)])
def test_over_and_under_sampling_give_every_class_the_same_exact_count(method, each):
    sampler = Sampler.create(method, True, LABELS)
    assert sampler.samples == 3 * each
    for order in orders(method):
        assert order.dtype == torch.int64 and len(order) == 3 * each
        assert torch.bincount(LABELS[order]).tolist() == [each, each, each]
    if method == "oversample":  # every original sample is kept, duplicates are added
        assert set(orders(method)[0].tolist()) == set(range(100))
    else:  # undersampling keeps each drawn sample once, and draws anew each epoch
        first, second = orders(method, 2)
        assert len(set(first.tolist())) == 6 and not torch.equal(first.sort().values,
                                                                   second.sort().values)


def test_weighted_draws_are_torchs_weighted_random_sampler():
    generator = torch.Generator().manual_seed(5)
    weights = 1.0 / torch.bincount(LABELS).double()[LABELS]
    expected = list(torch.utils.data.WeightedRandomSampler(weights, 100, generator=generator))
    assert orders("weighted", 1, seed=5)[0].tolist() == expected
    counts = torch.bincount(LABELS[torch.cat(orders("weighted", 30))], minlength=3)
    assert (abs(counts / counts.sum() - 1 / 3) < 0.03).all()  # each class a third


def test_no_sampling_is_the_permutation_and_the_note_counts_classes():
    assert orders("none", 1)[0].tolist() == torch.randperm(
        100, generator=torch.Generator().manual_seed(0)).tolist()
    assert Sampler.create("none", False, LABELS).order(torch.Generator(), "cpu") is None
    note = Sampler.create("oversample", True, LABELS).note(["a", "b", "c"])
    assert note == ("sampling: oversample: train classes a 90, b 8, c 2 (100 samples); per "
                    "epoch: a 90, b 90, c 90 (270 samples)")
    note = Sampler.create("weighted", True, LABELS).note(["a", "b", "c"])
    assert note.endswith("expected per epoch: a 33.3, b 33.3, c 33.3 (100 samples)")


def skewed(n_major: int = 600, n_minor: int = 30, seed: int = 0,
           sampling: str = "none") -> PreparedData:
    """Two overlapping classes, 20:1: a plain model hardly ever predicts the minority."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0.0, 1.0, (n_major, 2)), rng.normal(1.5, 1.0, (n_minor, 2))])
    y = np.repeat([0, 1], [n_major, n_minor])
    order = rng.permutation(len(y))
    train, val, test = split_three(x[order].astype(np.float32), y[order].astype(np.int64),
                                   (0.6, 0.2, 0.2))
    return PreparedData(train, val, test, "classification", ["a", "b"], ["major", "minor"],
                        sampling=sampling)


def recipe(epochs: int = 4, **train) -> Recipe:
    return Recipe.from_sections("classification", optimizer=AdamConfig(lr=0.02),
                                train=TrainConfig(epochs=epochs, **train), batch_size=32)


def minority_recall(model, split) -> float:
    with torch.no_grad():
        predicted = model(torch.from_numpy(split.x)).argmax(1).numpy()
    return float((predicted[split.y == 1] == 1).mean())


def test_weighted_sampling_raises_minority_recall(tmp_path):
    recalls, held_out = {}, skewed(n_major=300, n_minor=300, seed=9)
    for method in ("none", "weighted", "oversample"):
        model = mlp(outputs=2)
        result = fit(model, skewed(sampling=method), recipe(), tmp_path / method,
                     device="cpu", seed=0, metadata={}, quiet=True)
        recalls[method] = minority_recall(model, held_out.train)
        if method == "oversample":  # 363 major, 15 minor in train: 2 * 363 per epoch
            assert result.history[0]["step"] == -(-2 * 363 // 32)
    # measured: none 0.39, weighted 0.86, oversample 0.92 (of 180 minority samples)
    assert recalls["none"] <= 0.5
    assert recalls["weighted"] >= 0.75 and recalls["oversample"] >= 0.75


def test_an_oversampled_run_resumes_mid_epoch_exactly(tmp_path, monkeypatch):
    data = skewed(n_major=200, n_minor=20, sampling="oversample")
    options = {"checkpoint_every_steps": 3}
    reference = mlp(outputs=2)
    fit(reference, data, recipe(2, **options), tmp_path / "ref", device="cpu", seed=1,
        metadata={}, quiet=True)

    original = loop_module._Training.after_step

    def crash_after_step_4(self, step, result):
        original(self, step, result)
        if step == 4:  # a checkpoint was saved at step 3, inside the first epoch
            raise KeyboardInterrupt

    monkeypatch.setattr(loop_module._Training, "after_step", crash_after_step_4)
    with pytest.raises(KeyboardInterrupt):
        fit(mlp(outputs=2), data, recipe(2, **options), tmp_path / "run", device="cpu",
            seed=1, metadata={}, quiet=True)
    monkeypatch.setattr(loop_module._Training, "after_step", original)
    resumed = mlp(outputs=2, seed=7)  # other initial weights: the checkpoint's must win
    fit(resumed, data, recipe(2, **options), tmp_path / "run", device="cpu", seed=1,
        metadata={}, quiet=True, options=FitOptions(resume=True))
    for name, value in reference.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value), name
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.safetensors")
    assert int(last.metadata["step"]) == 2 * -(-2 * 120 // 32)
