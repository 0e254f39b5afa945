"""`train.distributed` as a spec writes it: defaults, choices, and located refusals (no torch)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dlspec.api import check
from dlspec.errors import DlspecError
from dlspec.train.recipe.config import TrainConfig
from dlspec.train.recipe.distributed_config import DistributedConfig, default_backend

MLP = Path(__file__).resolve().parents[3] / "specs" / "mlp-digits.yaml"


def test_defaults_are_ddp_with_the_backend_of_the_device():
    config = TrainConfig().distributed
    assert (config.strategy, config.backend, config.find_unused_parameters,
            config.timeout_s) == ("ddp", "auto", False, 600)
    assert (default_backend("cpu"), default_backend("cuda")) == ("gloo", "nccl")
    chosen = TrainConfig.model_validate({"distributed": {"strategy": "fsdp",
                                                         "backend": "gloo"}}).distributed
    assert chosen == DistributedConfig(strategy="fsdp", backend="gloo")


@pytest.mark.parametrize("bad", [
    {"strategy": "deepspeed"}, {"backend": "mpi"}, {"timeout_s": 5},
    {"find_unused_parameters": "yes"}, {"world_size": 2},
])
def test_bad_choices_are_refused(bad):
    with pytest.raises(ValidationError):
        TrainConfig.model_validate({"distributed": bad})


def test_nccl_on_the_cpu_is_a_located_error():
    with pytest.raises(DlspecError) as caught:
        check(MLP, ["train.device=cpu", "train.distributed.backend=nccl"])
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "DLS102"
    assert "backend nccl needs CUDA, but train.device is cpu" in diagnostic.message


def test_an_unknown_strategy_names_the_choices():
    with pytest.raises(DlspecError) as caught:
        check(MLP, ["train.distributed.strategy=ddpp"])
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "DLS102" and "'ddp' or 'fsdp'" in diagnostic.message
