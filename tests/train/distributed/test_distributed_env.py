"""What torchrun tells a process, read without torch, and refused when it does not add up."""

from __future__ import annotations

import pytest

from dlspec.errors import TrainError
from dlspec.train.distributed.env import Launch, is_main_process, launch_from_env

TORCHRUN = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": "29500"}


def test_torchrun_variables_give_the_rank():
    assert launch_from_env(TORCHRUN) == Launch(rank=1, world=2, local_rank=1)
    assert launch_from_env({}) == Launch() and not Launch().several
    assert launch_from_env({"WORLD_SIZE": "1", "RANK": "0"}) == Launch()
    assert is_main_process({}) and is_main_process({"RANK": "0"})
    assert not is_main_process(TORCHRUN)


@pytest.mark.parametrize(("change", "message"), [
    ({"MASTER_PORT": ""}, "WORLD_SIZE is 2 but MASTER_PORT is not set"),
    ({"RANK": "2"}, "RANK 2 is outside 0..1 (WORLD_SIZE 2)"),
    ({"LOCAL_RANK": "one"}, "LOCAL_RANK is 'one', not a whole number"),
])
def test_a_launch_that_does_not_add_up_is_refused(change, message):
    with pytest.raises(TrainError) as caught:
        launch_from_env({**TORCHRUN, **change})
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.message) == ("DLS403", message)
