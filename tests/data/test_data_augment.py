"""Augmentations against their formulas on fixed tensors, the random draws of `Augmenter`,
and a training run whose validation and test batches are left untouched."""

import math

import numpy as np
import pytest
import torch

from dlspec.data.augment import (
    Augmenter,
    brightness,
    contrast,
    crop,
    flip,
    make_augmenter,
    mask_tokens,
    mixup,
    rotate,
)
from dlspec.data.augment_config import AugmentConfig
from dlspec.data.types import PreparedData, Split
from dlspec.errors import TrainError

IMAGES = torch.arange(2 * 2 * 3 * 4, dtype=torch.float32).reshape(2, 2, 3, 4)


def augmenter(**config) -> Augmenter:
    return Augmenter(AugmentConfig(**config), "classification", 10)


def test_flip_mirrors_exactly_the_chosen_samples():
    chosen = torch.tensor([True, False])
    left_right = flip(IMAGES, chosen, -1)
    assert torch.equal(left_right[0], IMAGES[0].flip(-1)) and torch.equal(left_right[1], IMAGES[1])
    upside_down = flip(IMAGES, ~chosen, -2)
    assert torch.equal(upside_down[1], IMAGES[1].flip(-2)) and torch.equal(upside_down[0],
                                                                          IMAGES[0])


def shifted(image: np.ndarray, down: int, right: int) -> np.ndarray:
    """image (C, H, W) moved down/right (negative: up/left), zeros coming in."""
    out = np.zeros_like(image)
    _, h, w = image.shape
    rows, cols = slice(max(down, 0), h + min(down, 0)), slice(max(right, 0), w + min(right, 0))
    src_rows = slice(max(-down, 0), h + min(-down, 0))
    src_cols = slice(max(-right, 0), w + min(-right, 0))
    out[:, rows, cols] = image[:, src_rows, src_cols]
    return out


def test_crop_with_padding_shifts_each_sample_by_its_offset():
    dy, dx = torch.tensor([0, 3]), torch.tensor([2, 1])
    out = crop(IMAGES, 2, dy, dx).numpy()
    assert np.array_equal(out[0], shifted(IMAGES[0].numpy(), 2, 0))  # corner (0, 2): down 2
    assert np.array_equal(out[1], shifted(IMAGES[1].numpy(), -1, 1))
    assert torch.equal(crop(IMAGES, 2, torch.tensor([2, 2]), torch.tensor([2, 2])), IMAGES)


def test_rotation_by_a_quarter_turn_is_rot90_and_by_zero_is_identity():
    square = torch.arange(32, dtype=torch.float32).reshape(2, 1, 4, 4)
    turned = rotate(square, torch.tensor([math.pi / 2, 0.0]))
    assert torch.allclose(turned[0], torch.rot90(square[0], 1, (1, 2)), atol=1e-5)
    assert torch.allclose(turned[1], square[1], atol=1e-6)
    half = rotate(IMAGES, torch.tensor([math.pi, math.pi]))  # 3 x 4: not square
    assert torch.allclose(half, IMAGES.flip(-1).flip(-2), atol=1e-5)


def test_brightness_adds_and_contrast_scales_around_the_mean():
    assert torch.equal(brightness(IMAGES, torch.tensor([0.5, -1.0]))[1], IMAGES[1] - 1)
    out = contrast(IMAGES, torch.tensor([2.0, 0.0]))
    mean = IMAGES[0].mean()
    assert torch.allclose(out[0], mean + 2 * (IMAGES[0] - mean))
    assert torch.allclose(out[1], torch.full_like(IMAGES[1], float(IMAGES[1].mean())))


def test_masking_replaces_chosen_tokens_but_not_padding():
    ids = torch.tensor([[5, 6, 0, 0], [7, 8, 9, 0]])
    chosen = torch.tensor([[True, False, True, False], [False, True, True, True]])
    assert mask_tokens(ids, chosen, 1).tolist() == [[1, 6, 0, 0], [7, 1, 1, 0]]


def test_mixup_blends_inputs_and_one_hot_targets():
    x, y = torch.tensor([[1.0], [3.0]]), torch.tensor([0, 2])
    mixed_x, mixed_y = mixup(x, y, 0.25, torch.tensor([1, 0]), 3, "classification")
    assert mixed_x.tolist() == [[2.5], [1.5]]
    assert mixed_y.tolist() == [[0.25, 0.0, 0.75], [0.75, 0.0, 0.25]]
    _, regression = mixup(x, x, 0.5, torch.tensor([1, 0]), 0, "regression")
    assert regression.tolist() == [[2.0], [2.0]]


def test_noise_has_the_configured_std_and_draws_follow_the_seed():
    zeros = torch.zeros(200, 1, 10, 10)
    torch.manual_seed(0)
    a, _ = augmenter(noise=0.3)(zeros, torch.zeros(200))
    torch.manual_seed(0)
    b, _ = augmenter(noise=0.3)(zeros, torch.zeros(200))
    assert torch.equal(a, b) and float(a.std()) == pytest.approx(0.3, rel=0.03)
    assert abs(float(a.mean())) < 0.01


def test_random_draws_have_the_configured_odds_and_ranges():
    torch.manual_seed(1)
    ones = torch.ones(4000, 1, 5, 5)
    flipped, _ = augmenter(hflip=0.3)(IMAGES.repeat(1000, 1, 1, 1), torch.zeros(2000))
    share = (flipped[:, 0, 0, 0] == IMAGES[0, 0, 0, -1]).float()[::2].mean()
    assert float(share) == pytest.approx(0.3, abs=0.04)
    cropped, _ = augmenter(crop_padding=2)(ones, torch.zeros(4000))
    zero_rows = (cropped[:, 0, :, 2] == 0).sum(1)  # rows shifted out: |dy - 2| <= 2
    assert set(zero_rows.tolist()) == {0, 1, 2}
    bright, _ = augmenter(brightness=0.2)(ones, torch.zeros(4000))
    offsets = bright[:, 0, 0, 0] - 1
    assert -0.2 <= float(offsets.min()) < -0.19 and 0.19 < float(offsets.max()) <= 0.2
    ids = torch.randint(1, 9, (4000, 10))
    masked, _ = augmenter(mask=0.15, mask_token=9)(ids, torch.zeros(4000))
    assert float((masked == 9).float().mean()) == pytest.approx(0.15, abs=0.01)


def test_nothing_to_augment_gives_no_augmenter():
    assert make_augmenter(None, "classification", 3) is None
    assert make_augmenter(AugmentConfig(mask_token=3), "classification", 3) is None
    assert isinstance(make_augmenter(AugmentConfig(vflip=0.5), "binary", 2), Augmenter)
    with pytest.raises(TrainError) as caught:  # soft targets: cross_entropy only
        make_augmenter(AugmentConfig(mixup=0.2), "classification", 3, ("focal",))
    assert caught.value.codes == ["DLS402"] and "not focal" in str(caught.value)


def blobs(n: int, seed: int) -> Split:
    """Three gaussian blobs in 2-D, classes 0..2."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = np.array([[4.0, 0.0], [-2.0, 3.5], [-2.0, -3.5]])
    return Split({"x": (centres[y] + rng.standard_normal((n, 2))).astype(np.float32)}, y)


class Recorder(torch.nn.Module):
    """A small MLP that keeps every batch it is given, by mode (training or eval)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(),
                                       torch.nn.Linear(16, 3))
        self.seen: dict[bool, list[torch.Tensor]] = {True: [], False: []}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen[self.training].append(x.detach().clone())
        return self.net(x)


def rows(*arrays) -> set:
    return {tuple(row) for array in arrays for row in np.asarray(array).tolist()}


def test_training_augments_train_batches_only(tmp_path):
    from dlspec.train.engine.loop import fit
    from dlspec.train.recipe import Recipe
    from dlspec.train.recipe.config import AdamConfig, TrainConfig

    data = PreparedData(blobs(90, 0), blobs(30, 1), blobs(30, 2), "classification",
                        ["a", "b"], ["x", "y", "z"], augment=AugmentConfig(noise=0.5))
    model = Recorder()
    recipe = Recipe.from_sections("classification", optimizer=AdamConfig(lr=0.01),
                                  train=TrainConfig(epochs=2, log_every=0), batch_size=32)
    fit(model, data, recipe, tmp_path / "run", device="cpu", seed=0, metadata={}, quiet=True)
    trained, evaluated = torch.cat(model.seen[True]), torch.cat(model.seen[False])
    train, val, test = (split.inputs["x"] for split in (data.train, data.val, data.test))
    assert len(trained) == 2 * 90 and not rows(trained) & rows(train)  # all noisy
    # evaluation (and the output check on two train samples) saw the data as it is
    assert rows(evaluated) <= rows(val, test, train[:2])
    assert rows(val, test) <= rows(evaluated)
