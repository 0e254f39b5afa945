"""The task table: target kinds and the output each task trains on."""

import pytest

from dlspec.data.tasks import TARGET_KIND, TASKS, output_shape, same_targets, shape_text


@pytest.mark.parametrize("task, target_shape, classes, expected", [
    ("classification", (), 10, (10,)),
    ("binary", (1,), 2, (1,)),
    ("multilabel", (3,), 3, (3,)),
    ("regression", (2,), 0, (2,)),
    ("tagging", (12,), 10, (12, 10)),
    ("language_model", ("seq",), 49, ("seq", 49)),
])
def test_output_shape_per_task(task, target_shape, classes, expected):
    assert output_shape(task, target_shape, classes) == expected


def test_tasks_with_the_same_targets_share_losses():
    assert same_targets("classification", "tagging") and same_targets("binary", "multilabel")
    assert not same_targets("classification", "binary")
    assert not same_targets("regression", "language_model")
    assert set(TARGET_KIND) == set(TASKS)


def test_shape_text_writes_the_batch_dim():
    assert shape_text((16, "seq")) == "(N, 16, seq)" and shape_text(()) == "(N)"
