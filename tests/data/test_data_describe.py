"""Static fit checks for sequence data and the new tasks (tabular ones: test_data_prepare)."""

from pathlib import Path

import pytest

from dlspec.data import DataConfig, ModelIO, describe_data, fit_diagnostics
from dlspec.data.augment_config import AugmentConfig, target_losses
from dlspec.data.describe import augment_diagnostics, readable_tasks


def info(dataset, **params):
    return describe_data(DataConfig(dataset=dataset, **params), Path("."))


def messages(dataset, model, task, **params):
    return [(d.message, d.hint) for d in fit_diagnostics(info(dataset, **params), model, task)]


def tokens(output=(2,), shape=("seq",), dims=None, vocabulary=3, dtype="int64"):
    return ModelIO(shape, output, dtype, vocabulary, dims or {})


def test_fitting_sequence_models_have_no_problems():
    assert messages("brackets", tokens(), "classification") == []
    assert messages("brackets", tokens((1,)), "binary") == []
    assert messages("copy", tokens(("seq", 10), vocabulary=10), "tagging") == []
    assert messages("chars", tokens(("seq", 49), vocabulary=49), "language_model") == []
    assert messages("sine", ModelIO(("seq", 1), (1,)), "regression") == []
    assert messages("brackets", tokens(shape=(16,)), "classification") == []


@pytest.mark.parametrize("dataset, model, task, words, hint", [
    ("brackets", tokens(dtype="float32", vocabulary=None), "classification",
     "brackets holds token ids (int64), but the model's input is float32", "dtype: int64"),
    ("sine", tokens((1,), dtype="int64", vocabulary=None), "regression",
     "sine holds float values (float32)", "dtype: float32"),
    ("brackets", tokens(shape=(12,)), "classification",
     "input shape [12] does not fit the samples of brackets, of shape [16]", "[16]"),
    ("brackets", tokens(dims={"seq": (1, 8)}), "classification",
     "bounded to 1..8, but the sequences of brackets have 16 positions", "let 'seq' take 16"),
    ("copy", tokens(("seq", 10), vocabulary=6), "tagging",
     "has 6 rows, but copy has token ids 0..9", "num_embeddings to 10"),
    ("copy", tokens(("seq", 8), vocabulary=10), "tagging",
     "copy has 10 classes per token, but the model has 8 outputs", "out_features to 10"),
    ("copy", tokens((10, 10), shape=(12,), vocabulary=10), "tagging",
     "the sequences of copy have 12 positions", "keep the sequence dim"),
    ("chars", tokens(("seq", 64), vocabulary=49), "language_model",
     "chars has a vocabulary of 49 tokens, but the model has 64 outputs", "out_features to 49"),
    ("copy", tokens((10,), vocabulary=10), "classification",
     "copy has one class per token, but the task is classification", "data.task to tagging"),
    ("brackets", tokens(("seq", 2)), "tagging",
     "brackets has one class per sample, but the task is tagging", "classification or binary"),
    ("digits_multilabel", ModelIO((64,), (3,)), "classification",
     "digits_multilabel has 3 0/1 labels per sample, but the task is classification",
     "data.task to multilabel"),
    ("digits_multilabel", ModelIO((64,), (4,)), "multilabel",
     "digits_multilabel has 3 labels, but the model has 4 outputs", "out_features to 3"),
    ("digits", ModelIO(("seq",), (10,)), "classification", "has symbolic dims", "[64]"),
    ("digits", ModelIO((64,), (10,), "int64"), "classification", "float features", "float32"),
])
def test_misfits_name_the_fix(dataset, model, task, words, hint):
    found = messages(dataset, model, task)
    assert any(words in message and hint in (fix or "") for message, fix in found), found


def test_the_tasks_a_dataset_can_train():
    assert readable_tasks(info("brackets")) == ("classification", "binary")
    assert readable_tasks(info("parity")) == ("classification", "binary")
    assert readable_tasks(info("digits")) == ("classification",)
    assert readable_tasks(info("copy")) == ("tagging",)
    assert readable_tasks(info("chars")) == ("language_model",)
    assert readable_tasks(info("sine")) == ("regression",)
    assert readable_tasks(info("digits_multilabel")) == ("multilabel",)


@pytest.mark.parametrize("augment, model, task, field, words", [
    ({"hflip": 0.5}, ModelIO((64,), (10,)), "classification", "hflip", "images (C, H, W)"),
    ({"rotate": 10}, tokens(), "classification", "rotate", "int64 (N, seq)"),
    ({"noise": 0.1}, tokens(), "classification", "noise", "token ids"),
    ({"mask": 0.1}, ModelIO((64,), (10,)), "classification", "mask", "float32"),
    ({"mixup": 0.2}, ModelIO(("seq", 1), ("seq", 3)), "tagging", "mixup", "task is tagging"),
    ({"mask": 0.1, "mask_token": 3}, tokens(), "classification", "mask_token", "0..2"),
])
def test_augmentations_that_cannot_apply(augment, model, task, field, words):
    found = augment_diagnostics(AugmentConfig(**augment), model, task)
    assert list(found) == [field] and words in found[field].message
    assert found[field].code == "DLS402" and f"data.augment.{field}" in found[field].message


def test_mixup_on_classes_needs_cross_entropy():
    image = ModelIO((1, 8, 8), (10,))
    mixup = AugmentConfig(mixup=0.2)
    found = augment_diagnostics(mixup, image, "classification", ("nll",))
    assert "only cross_entropy takes, not nll" in found["mixup"].message
    assert augment_diagnostics(mixup, image, "classification", ("cross_entropy",)) == {}
    assert augment_diagnostics(mixup, ModelIO((4,), (1,)), "binary", ("bce",)) == {}


def test_target_losses_skip_terms_that_compare_with_an_input():
    from dlspec.train.recipe.loss_config import CrossEntropyConfig, MSEConfig, NLLConfig

    assert target_losses(CrossEntropyConfig()) == ("cross_entropy",)
    assert target_losses([NLLConfig(), MSEConfig(target="image")]) == ("nll",)
    assert target_losses(None) == ()


def test_augmentations_that_apply():
    image = ModelIO((1, 8, 8), (10,))
    every_image_one = AugmentConfig(hflip=0.5, vflip=0.1, crop_padding=1, rotate=10,
                                    brightness=0.1, contrast=0.1, noise=0.1, mixup=0.2)
    assert augment_diagnostics(every_image_one, image, "classification") == {}
    assert augment_diagnostics(AugmentConfig(mask=0.1), tokens(), "classification") == {}
    assert augment_diagnostics(None, image, "classification") == {}
