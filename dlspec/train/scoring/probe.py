"""Judging a learned representation with few labels: a linear probe and a k-NN vote.

A linear probe is a logistic regression fitted on the features of a few labelled examples per
class (the encoder stays frozen) and scored on held-out ones; averaged over several draws of
the labelled examples, it says how much of the class structure a representation makes
linearly readable. The same probe on raw inputs and on an untrained encoder are the baselines
a trained one must beat. The probes take features (numpy and scikit-learn);
`encoder_probes` reads them from a spec's model (it imports torch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ProbeResult:
    """Test accuracy of the probe per draw of the labelled examples, and their mean."""

    accuracies: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))


def labelled_draw(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `per_class` examples of every class of `labels`, drawn without
    replacement (sorted). ValueError when a class has fewer examples than that."""
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise ValueError(f"class {label} has {len(members)} examples, fewer than the "
                             f"{per_class} per class the probe is fitted on")
        chosen.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def linear_probe(train_features: np.ndarray, train_labels: np.ndarray,
                 test_features: np.ndarray, test_labels: np.ndarray, *,
                 per_class: int = 10, draws: int = 5, seed: int = 0) -> ProbeResult:
    """Fit a standardized logistic regression on `per_class` labelled train examples per
    class, `draws` times (the draws come from `seed`), and score each on every test
    example. Features are (n, ...) arrays, flattened per sample."""
    from sklearn.linear_model import LogisticRegression  # lazy: slow to import
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_features = _flat(train_features)
    test_features = _flat(test_features)
    rng = np.random.default_rng(seed)
    accuracies = []
    for _ in range(draws):
        chosen = labelled_draw(train_labels, per_class, rng)
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        probe.fit(train_features[chosen], train_labels[chosen])
        accuracies.append(float(probe.score(test_features, test_labels)))
    return ProbeResult(tuple(accuracies))


def knn_accuracy(features: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Leave-one-out accuracy of a k-nearest-neighbour vote by cosine similarity among
    `features` themselves (ties go to the smaller label): how well an embedding clusters
    the classes of one split, with no other data and no fitting."""
    z = _flat(features).astype(np.float64)
    z = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    similarity = z @ z.T
    np.fill_diagonal(similarity, -np.inf)
    k = min(k, len(z) - 1)
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    classes, codes = np.unique(labels, return_inverse=True)
    votes = np.zeros((len(z), len(classes)))
    np.add.at(votes, (np.arange(len(z))[:, None], codes[nearest]), 1)
    return float(np.mean(classes[votes.argmax(axis=1)] == labels))


def encoder_probes(path, weights, overrides=(), *, per_class: int = 10, draws: int = 5
                   ) -> dict[str, ProbeResult]:
    """The linear probe (fitted on `per_class` labelled train samples per class, `draws`
    times; scored on the test split) on three representations of a spec's data: the raw
    inputs ("raw"), and the output its `objective.embedding` names of the spec's model,
    freshly initialized ("untrained") and with the weights of a checkpoint file ("trained").
    """
    import torch

    from dlspec.api import compile_module, load_data
    from dlspec.compiler import check_spec
    from dlspec.train.run_folder.checkpoint import apply_checkpoint, load_checkpoint

    checked = check_spec(path, overrides)
    data = load_data(checked)
    objective = checked.spec.objective
    output = getattr(objective, "embedding", None) or getattr(objective, "projection", None)
    if output is None:
        raise ValueError(f"{path}: its objective names no embedding output to probe")
    index = list(checked.graph.outputs).index(output)

    def embedding(module):
        module.eval()
        return lambda x: module(torch.from_numpy(x))[index].detach().numpy()

    trained = compile_module(checked)
    apply_checkpoint(trained, load_checkpoint(weights))
    features = {"raw": lambda x: x, "untrained": embedding(compile_module(checked)),
                "trained": embedding(trained)}
    return {name: linear_probe(f(data.train.x), data.train.y, f(data.test.x), data.test.y,
                               per_class=per_class, draws=draws)
            for name, f in features.items()}


def _flat(features: np.ndarray) -> np.ndarray:
    return np.asarray(features).reshape(len(features), -1)
