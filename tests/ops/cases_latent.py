"""Op-table rows of the latent-variable ops (dlspec/ops/latent.py). The table runs modules in
eval mode, where reparameterize returns the mean; the sampling is tested in test_latent.py."""

from __future__ import annotations

import random

from harness import Case, Reject, Row, T, sample_shape

OP = {"op": "reparameterize"}


def reparameterize_cases(rng: random.Random) -> list[Case]:
    """[mean, log_var] of one shape: (N, D), (N, seq, D), (N, C, H, W), some symbolic."""
    shapes = [sample_shape(rng, rank) for rank in (1, 2, 3)]
    shapes += [["seq", rng.randint(1, 8)], [rng.randint(1, 4), "H", "W"], [rng.randint(2, 32)]]
    return [Case(dict(OP), (T("N", *shape), T("N", *shape))) for shape in shapes]


ROWS: dict[str, Row] = {
    "reparameterize": Row(reparameterize_cases, rejects=(
        Reject("different sizes", OP, (T("N", 8), T("N", 4))),
        Reject("symbolic against fixed", OP, (T("N", "seq", 4), T("N", 5, 4))),
        Reject("different ranks", OP, (T("N", 4), T("N", 4, 1))),
        Reject("a scalar per sample", OP, (T("N"), T("N"))),
        Reject("int64 mean", OP, (T("N", 4, dtype="int64"), T("N", 4)), code="DLS202"),
        Reject("int64 log_var", OP, (T("N", 4), T("N", 4, dtype="int64")), code="DLS202"),
        Reject("float32 against float64", OP, (T("N", 4), T("N", 4, dtype="float64")),
               code="DLS202"),
    )),
}
