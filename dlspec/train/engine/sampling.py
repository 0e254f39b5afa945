"""Each epoch's global sample order: a permutation of the train split, or a class-balanced
draw from it (`data.sampling`).

- none: a permutation (shuffle), or None: in order (`data.shuffle: false`);
- weighted: len(train) draws with replacement, each sample with probability proportional to
  1 / (its class's count), as torch's WeightedRandomSampler(1 / count[y], len(y)) draws:
  every class is expected equally often;
- oversample: every sample of every class, plus random duplicates (with replacement) until
  each class has as many as the largest (imbalanced-learn's RandomOverSampler);
- undersample: of each class, as many samples as the smallest class has, drawn without
  replacement (imbalanced-learn's RandomUnderSampler).

The order is a plain int64 index tensor drawn from the run's seeded generator, so it is saved
in the resume state and every process of a distributed run draws the same one. Its length
(`Sampler.samples`) is fixed for the run, so the epoch's step plan is built from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

METHODS = ("none", "weighted", "oversample", "undersample")


@dataclass(frozen=True)
class Sampler:
    """How a run draws its epochs' orders: `labels` are the train split's class indices
    (CPU int64, one per sample; None without class labels)."""

    method: str
    shuffle: bool
    labels: torch.Tensor | None
    size: int  # the train split's size

    @classmethod
    def create(cls, method: str, shuffle: bool, targets: torch.Tensor) -> Sampler:
        """The sampler of a train split whose targets are `targets` (class indices (n,), or
        a binary task's 0/1 floats (n, 1)); class labels are read only for a method that
        balances classes."""
        labels = None
        if method != "none":
            labels = targets.detach().cpu().reshape(len(targets)).round().long()
        return cls(method, shuffle, labels, len(targets))

    @property
    def counts(self) -> torch.Tensor:
        """Samples per class in the train split (classes 0..max label)."""
        return torch.bincount(self.labels) if self.labels is not None else torch.zeros(0)

    @property
    def samples(self) -> int:
        """The length of every epoch's order."""
        present = self.counts[self.counts > 0]
        if self.method == "oversample":
            return int(present.max()) * len(present)
        if self.method == "undersample":
            return int(present.min()) * len(present)
        return self.size

    def order(self, generator: torch.Generator, device: torch.device | str
              ) -> torch.Tensor | None:
        """The next epoch's global order (None: the split in order)."""
        if self.method == "none":
            if not self.shuffle:
                return None
            return torch.randperm(self.size, generator=generator).to(device)
        if self.method == "weighted":
            weights = (1.0 / self.counts.double())[self.labels]
            drawn = torch.multinomial(weights, self.size, replacement=True, generator=generator)
            return drawn.to(device)
        pieces = []
        target = int(self.counts[self.counts > 0].max() if self.method == "oversample"
                     else self.counts[self.counts > 0].min())
        for c in torch.nonzero(self.counts).flatten().tolist():
            members = torch.nonzero(self.labels == c).flatten()
            if self.method == "undersample":
                pieces.append(members[torch.randperm(len(members), generator=generator)
                                      [:target]])
            else:
                extra = torch.randint(len(members), (target - len(members),),
                                      generator=generator)
                pieces.append(torch.cat([members, members[extra]]))
        drawn = torch.cat(pieces)
        return drawn[torch.randperm(len(drawn), generator=generator)].to(device)

    def expected_counts(self) -> list[float]:
        """Samples per class in an epoch's order (expected ones for `weighted`)."""
        counts = self.counts
        present = counts > 0
        if self.method == "weighted":
            return [self.size / int(present.sum()) if p else 0.0 for p in present.tolist()]
        if self.method in ("oversample", "undersample"):
            each = self.samples // int(present.sum())
            return [float(each) if p else 0.0 for p in present.tolist()]
        return [float(c) for c in counts.tolist()]

    def note(self, class_names: list[str]) -> str | None:
        """The class counts before and after sampling, for the console (None: no sampling)."""
        if self.method == "none":
            return None
        names = class_names or [str(c) for c in range(len(self.counts))]
        before = ", ".join(f"{names[c]} {n}" for c, n in enumerate(self.counts.tolist()))
        after = ", ".join(f"{names[c]} {_count(n)}" for c, n in
                          enumerate(self.expected_counts()))
        what = "expected per epoch" if self.method == "weighted" else "per epoch"
        return (f"sampling: {self.method}: train classes {before} ({self.size} samples); "
                f"{what}: {after} ({self.samples} samples)")


def _count(n: float) -> str:
    return str(int(n)) if n == int(n) else f"{n:.1f}"
