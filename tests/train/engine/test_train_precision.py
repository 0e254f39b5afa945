"""Mixed precision (bf16 autocast, fp16 refused on CPU) and torch.compile."""

from __future__ import annotations

import copy

import pytest
import torch
from train_data_fixtures import classification_data, mlp, supervised_stepper

from dlspec.errors import TrainError
from dlspec.train.engine.batch import Tensors
from dlspec.train.engine.loop import fit
from dlspec.train.engine.precision import Precision
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import CrossEntropyConfig, TrainConfig
from dlspec.train.recipe.losses import build_loss


def test_bf16_steps_compute_the_loss_under_autocast():
    x, y = torch.randn(16, 2), torch.randint(0, 3, (16,))
    model = mlp()
    before = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    stepper = supervised_stepper(model, build_loss(CrossEntropyConfig(), "classification"),
                                 optimizer, Precision("bf16", "cpu"))
    result = stepper.step(Tensors({"x": x}, y), [(slice(0, 16), 16)])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = before(x)
        expected = torch.nn.functional.cross_entropy(logits, y)
    assert logits.dtype == torch.bfloat16
    assert result.loss == expected.float().item()
    fp32 = torch.nn.functional.cross_entropy(before(x), y).item()
    assert result.loss != fp32 and result.loss == pytest.approx(fp32, rel=2e-2)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay fp32


def test_fp16_is_refused_on_a_cpu_before_any_file_is_written(tmp_path):
    recipe = Recipe.from_sections("classification", train=TrainConfig(precision="fp16"))
    with pytest.raises(TrainError, match="fp16 needs a CUDA GPU, but training runs on cpu") \
            as error:
        fit(mlp(), classification_data(), recipe, tmp_path / "run", device="cpu", seed=0,
            metadata={}, quiet=True)
    assert error.value.codes == ["DLS102"] and "use precision: bf16" in str(error.value)
    assert not (tmp_path / "run").exists()


def compile_failures() -> tuple[type[Exception], ...]:
    """The errors of a machine where inductor cannot compile (no C++ compiler, ...)."""
    from torch._dynamo.exc import BackendCompilerFailed
    from torch._inductor.exc import InductorError

    return BackendCompilerFailed, InductorError


def test_a_compiled_model_trains_like_the_eager_one(tmp_path):
    data = classification_data()
    empty = data.val.rows(slice(0, 0))
    data = type(data)(data.train, empty, empty, data.task, data.feature_names,
                      data.class_names)  # no evaluation: one compiled graph
    losses = []
    for compiled in (False, True):
        recipe = Recipe.from_sections("classification", batch_size=70,  # 3 equal batches
                                      train=TrainConfig(epochs=2, compile=compiled))
        try:
            result = fit(mlp(), data, recipe, tmp_path / str(compiled), device="cpu", seed=0,
                         metadata={}, quiet=True)
        except compile_failures() as error:
            pytest.skip(f"torch.compile (inductor) cannot compile on this machine: {error}")
        losses.append([r["train_loss"] for r in result.history])
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)
