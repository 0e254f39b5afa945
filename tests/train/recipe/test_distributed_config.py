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


@pytest.mark.parametrize(("overrides", "message"), [
    (["train.distributed.find_unused_parameters=true"],
     "find_unused_parameters is an option of strategy ddp"),
    (["train.precision=fp16"], "strategy fsdp cannot train with precision fp16"),
])
def test_fsdp_choices_that_cannot_work_are_located_errors(tmp_path, overrides, message):
    spec = tmp_path / "mlp.yaml"
    spec.write_text(MLP.read_text(encoding="utf-8").replace(
        "train: {", "train: {distributed: {strategy: fsdp}, ", 1), encoding="utf-8")
    check(spec, [])  # fsdp alone is fine
    with pytest.raises(DlspecError) as caught:
        check(spec, overrides)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "DLS102" and message in diagnostic.message
    line = next(i for i, text in enumerate(spec.read_text().splitlines(), 1)
                if "distributed:" in text)
    assert diagnostic.span.file == str(spec) and diagnostic.span.line == line

