"""The deploy tests share one small digits run and its fp32 export (deploy_runs.py)."""

from __future__ import annotations

import pytest
from deploy_runs import DigitsRun, make_digits_run


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> DigitsRun:
    return make_digits_run(tmp_path_factory.mktemp("digits"))
