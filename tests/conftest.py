"""Tests run torch on one intra-op thread.

The tests build and train tiny models: a second thread brings nothing, and on a busy machine (CI runs
the suite on 2 cores with 2 workers) OpenMP threads spinning against each other make a
one-second test take thirty. One thread also gives every test the same arithmetic as the
training subprocesses of test_train_resume.py.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_collection_modifyitems(items):
    """The files that hold a test marked `cost(seconds)` run first, the costliest first; the
    rest keep their order. Workers take whole files (`--dist loadfile`) as they free up, so a
    three-minute file started last would leave the other core idle for those three minutes."""
    cost: dict[str, float] = {}
    for item in items:
        marker = item.get_closest_marker("cost")
        if marker is not None:
            cost[item.path] = max(cost.get(item.path, 0.0), float(marker.args[0]))
    items.sort(key=lambda item: -cost.get(item.path, 0.0))  # stable: the rest keep their order
