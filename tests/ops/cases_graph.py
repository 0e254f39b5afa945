"""Op-table rows of the graph layers (dlspec/ops/graph.py). Edge indices are drawn below the
node count (`int_high`); the symbolic node count is `seq` (5 in the table, 16 and more in the
ONNX check) and the symbolic edge count `L`."""

from __future__ import annotations

import random
from collections.abc import Callable

from harness import Case, Reject, Row, T

from dlspec.ir.types import Dim, TensorType


def _graph(nodes: Dim, edge_index: bool, edges: Dim) -> TensorType:
    if edge_index:
        return T("N", 2, edges, dtype="int64")
    return T("N", nodes, nodes)


def graph_cases(name: str, attributes: Callable[[random.Random], dict]
                ) -> Callable[[random.Random], list[Case]]:
    def cases(rng: random.Random) -> list[Case]:
        out = []
        # the first symbolic case is the one exported: gcn by edge index, gat by adjacency
        forms = [True, False, True, False] if name == "gcn" else [False, True, False, True]
        for i, edge_index in enumerate(forms):
            nodes: Dim = "seq" if i < 2 else rng.randint(2, 6)
            edges: Dim = "L" if i % 2 else rng.randint(1, 12)
            config = {"op": name, "out_features": rng.randint(1, 8),
                      "bias": rng.random() < 0.6, "add_self_loops": i != 3, **attributes(rng)}
            inputs = (T("N", nodes, rng.randint(1, 8)), _graph(nodes, edge_index, edges))
            out.append(Case(config, inputs, int_high=5 if nodes == "seq" else nodes))
        return out
    return cases


def gat_attributes(rng: random.Random) -> dict:
    return {"heads": rng.randint(1, 4), "concat": rng.random() < 0.6,
            "negative_slope": rng.choice([0.2, 0.1]), "dropout": rng.choice([0.0, 0.6])}


def graph_rejects(name: str, config: dict) -> tuple[Reject, ...]:
    config = {"op": name, **config}
    return (
        Reject("features without a node dim", config, (T("N", 8), T("N", 5, 5))),
        Reject("symbolic features", config, (T("N", 5, "L"), T("N", 5, 5))),
        Reject("adjacency for another node count", config, (T("N", 5, 8), T("N", 4, 4))),
        Reject("adjacency of the wrong rank", config, (T("N", 5, 8), T("N", 5))),
        Reject("edge index without two rows", config,
               (T("N", 5, 8), T("N", 3, 7, dtype="int64"))),
        Reject("an int32 adjacency", config, (T("N", 5, 8), T("N", 5, 5, dtype="int32")),
               code="DLS202"),
        Reject("int64 features", config, (T("N", 5, 8, dtype="int64"), T("N", 5, 5)),
               code="DLS202"),
    )


ROWS: dict[str, Row] = {
    "gcn": Row(graph_cases("gcn", lambda rng: {}),
               rejects=graph_rejects("gcn", {"out_features": 4})),
    "gat": Row(graph_cases("gat", gat_attributes),
               rejects=graph_rejects("gat", {"out_features": 4, "heads": 2})),
}
