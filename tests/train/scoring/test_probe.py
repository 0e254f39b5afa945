"""The few-label judges of an embedding: labelled draws, the linear probe, the k-NN vote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlspec.train.scoring.probe import encoder_probes, knn_accuracy, labelled_draw, linear_probe


def test_labelled_draw_takes_per_class_distinct_examples_of_every_class():
    labels = np.repeat([0, 1, 2], [5, 7, 4])
    chosen = labelled_draw(labels, 3, np.random.default_rng(0))
    assert len(set(chosen.tolist())) == 9
    assert np.bincount(labels[chosen]).tolist() == [3, 3, 3]
    again = labelled_draw(labels, 3, np.random.default_rng(0))
    other = labelled_draw(labels, 3, np.random.default_rng(1))
    assert chosen.tolist() == again.tolist() != other.tolist()
    with pytest.raises(ValueError, match="class 2 has 4 examples, fewer than the 5 per class"):
        labelled_draw(labels, 5, np.random.default_rng(0))


def _blobs(n: int, informative: bool, rng: np.random.Generator):
    labels = rng.integers(0, 4, n)
    features = rng.normal(size=(n, 2, 3))
    if informative:
        features[:, 0, 0] += 6 * (labels % 2)  # two features tell the classes apart
        features[:, 1, 2] += 6 * (labels // 2)
    return features, labels


def test_linear_probe_reads_a_class_signal_and_finds_none_in_noise():
    rng = np.random.default_rng(0)
    train, test = _blobs(400, True, rng), _blobs(200, True, rng)
    result = linear_probe(*train, *test, per_class=10, draws=3, seed=0)
    assert len(result.accuracies) == 3 and result.mean > 0.95
    noise_train, noise_test = _blobs(400, False, rng), _blobs(400, False, rng)
    assert linear_probe(*noise_train, *noise_test, per_class=10, draws=3).mean < 0.4
    # the draws come from the seed: the same seed gives the same accuracies
    assert linear_probe(*train, *test, per_class=2, draws=2, seed=5).accuracies == \
        linear_probe(*train, *test, per_class=2, draws=2, seed=5).accuracies


def test_knn_accuracy_votes_among_the_other_samples_by_cosine():
    # unit vectors at these angles; the one at 33 degrees is labelled 1 among class 0's
    degrees = np.array([0, 10, 25, 80, 90, 33])
    labels = np.array([0, 0, 0, 1, 1, 1])
    features = 2.5 * np.stack([np.cos(np.radians(degrees)), np.sin(np.radians(degrees))], 1)
    # k=1: 25 and 33 are each other's nearest (both wrong); the others find their class
    assert knn_accuracy(features, labels, k=1) == pytest.approx(4 / 6)
    # k=3: 25 sees 33, 10, 0 (class 0 wins); 80 sees 90, 33, 25 (class 1 wins); 33 sees
    # 25, 10, 0 (wrong)
    assert knn_accuracy(features, labels, k=3) == pytest.approx(5 / 6)


def test_encoder_probes_read_the_spec_model_embedding_with_the_checkpoint_weights(tmp_path):
    import torch

    from dlspec.api import compile_module
    from dlspec.compiler import check_spec
    from dlspec.train.run_folder.checkpoint import save_checkpoint

    spec = Path(__file__).resolve().parents[3] / "specs" / "triplet-digits.yaml"
    overrides = ["width=4", "embed=8", "proj=4"]
    untrained = compile_module(check_spec(spec, overrides))
    save_checkpoint(tmp_path / "same.safetensors", untrained.state_dict(), {})
    probes = encoder_probes(spec, tmp_path / "same.safetensors", overrides, draws=2)
    assert probes["trained"] == probes["untrained"]  # the initial weights: the same numbers
    assert len(probes["raw"].accuracies) == 2 and probes["raw"].mean > 0.8
    with torch.no_grad():
        for weight in untrained.parameters():
            weight.zero_()  # every embedding 0: the probe can only guess one class
    save_checkpoint(tmp_path / "zero.safetensors", untrained.state_dict(), {})
    zero = encoder_probes(spec, tmp_path / "zero.safetensors", overrides, draws=2)
    assert zero["trained"].mean < 0.15 and zero["raw"] == probes["raw"]
