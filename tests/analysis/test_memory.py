"""Memory estimates follow their documented rules, checked by hand on small graphs."""

import typing

import pytest

from dlspec.analysis.memory import estimate_memory, optimizer_states, peak_live_bytes
from dlspec.compiler import check_spec
from dlspec.train.recipe.optim_config import OptimizerConfig

CHAIN = ["{op: linear, name: fc1, out_features: 128}", "{op: relu}",
         "{op: linear, name: fc2, out_features: 10}"]
BRANCH = ["{op: linear, name: a, out_features: 8}", "{op: linear, name: b, out_features: 8}",
          "{op: add, name: s, inputs: [a, b]}"]


def checked(tmp_path, features: int, layers: list[str]):
    path = tmp_path / "spec.yaml"
    path.write_text(f"dlspec: 1\nname: t\ninputs: {{x: {{shape: [{features}]}}}}\nmodel:\n"
                    + "".join(f"  - {layer}\n" for layer in layers))
    return check_spec(path)


def test_training_counts_weights_grads_state_and_every_tensor(tmp_path):
    graph = checked(tmp_path, 64, CHAIN).graph
    params = 64 * 128 + 128 + 128 * 10 + 10
    memory = estimate_memory(graph, {"N": 32}, params=params,
                             optimizer=optimizers()["sgd"](lr=0.1, momentum=0.9))
    assert memory.weights == memory.gradients == memory.optimizer_state == 4 * params
    assert memory.activations == 4 * 32 * (64 + 128 + 128 + 10)
    assert memory.training == 3 * 4 * params + memory.activations
    # inference: at relu, fc1's output and relu's are alive together (x is freed)
    assert memory.inference_activations == 4 * 32 * (128 + 128)
    assert memory.inference == 4 * params + memory.inference_activations


def test_a_residual_input_stays_alive_until_its_last_reader(tmp_path):
    graph = checked(tmp_path, 4, BRANCH).graph
    sizes = {node.name: 8 * 4 if node.name != "x" else 4 * 4 for node in graph.nodes()}
    # x+a, then a+b (x freed), then a+b+s: 24 floats at the add
    assert peak_live_bytes(graph, sizes) == 3 * 32


def optimizers() -> dict[str, type]:
    """Every optimizer config a spec can name, by op."""
    classes = typing.get_args(typing.get_args(OptimizerConfig)[0])
    return {cls.model_fields["op"].default: cls for cls in classes}


@pytest.mark.parametrize(("op", "settings", "states"), [
    ("sgd", {"lr": 0.1}, 0), ("sgd", {"lr": 0.1, "momentum": 0.9}, 1),
    ("adam", {}, 2), ("adamw", {}, 2), ("adam", {"amsgrad": True}, 3),
    ("adagrad", {}, 1), ("rmsprop", {}, 1), ("rmsprop", {"momentum": 0.9, "centered": True}, 3),
])
def test_optimizer_state_sizes_are_torchs(op, settings, states):
    """torch.optim keeps exp_avg, exp_avg_sq (+ max_exp_avg_sq); momentum_buffer; sum;
    square_avg (+ momentum_buffer, grad_avg)."""
    assert optimizer_states(optimizers()[op](**settings)) == states


def test_without_an_optimizer_the_trainers_default_adam_is_assumed():
    assert optimizer_states(None) == 2


def test_every_optimizer_a_spec_can_name_has_a_known_state_size():
    for op, cls in optimizers().items():
        required = {"lr": 0.1} if cls.model_fields["lr"].is_required() else {}
        assert optimizer_states(cls(**required)) in (0, 1, 2), op


def test_token_ids_count_eight_bytes_each():
    from pathlib import Path

    tiny_lm = Path(__file__).resolve().parents[1] / "specs" / "valid" / "tiny-lm.yaml"
    graph = check_spec(tiny_lm).graph  # ids (N, seq) int64, four (N, seq, 8) layers, head 11
    memory = estimate_memory(graph, {"N": 2, "seq": 6}, params=0)
    assert memory.activations == 2 * 6 * (8 + 4 * 8 * 4 + 4 * 11)
