"""A resume checkpoint's header is validated as a whole before any of it is used: every
damaged or hand-edited field is DLS404 naming it (never a traceback, never a run that trains
extra epochs), its weights file stays inside the run's checkpoints/, and a resume that fails
writes nothing."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from train_data_fixtures import classification_data, mlp

from dlspec.errors import TrainError
from dlspec.train.engine.loop import fit
from dlspec.train.engine.setup import FitOptions
from dlspec.train.engine.steps import Stepper
from dlspec.train.recipe import Recipe
from dlspec.train.recipe.config import TrainConfig
from dlspec.train.recipe.schedule_config import ExponentialSchedule


def train(run_dir: Path, resume: bool = False, epochs: int = 3):
    """A 3-layer perceptron on blobs, with a schedule (exponential: not shaped over the run,
    so 2 epochs resumed to 3 equal 3 uninterrupted ones)."""
    recipe = Recipe.from_sections(
        "classification", train=TrainConfig(epochs=epochs, checkpoint_every_steps=6),
        schedule=[ExponentialSchedule(gamma=0.9)])
    return fit(mlp(), classification_data(), recipe, run_dir, device="cpu", seed=0,
               metadata={}, quiet=True, options=FitOptions(resume=resume))


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> Path:
    """A run folder as a run killed after epoch 2 leaves it (resumable)."""
    run_dir = tmp_path_factory.mktemp("stopped")
    train(run_dir, epochs=2)
    (run_dir / "result.json").unlink()
    return run_dir


def header_and_buffers(run_dir: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    with safe_open(run_dir / "checkpoints" / "resume.safetensors", framework="pt") as handle:
        return (json.loads(handle.metadata()["dlspec_resume"]),
                {k: handle.get_tensor(k) for k in handle.keys()})  # noqa: SIM118


def rewrite(run_dir: Path, header: object, buffers: dict[str, torch.Tensor]) -> None:
    save_file(buffers, run_dir / "checkpoints" / "resume.safetensors",
              metadata={"dlspec_resume": json.dumps(header)})


def files_of(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes()
            for p in sorted(run_dir.rglob("*")) if p.is_file()}


def changed(change: Callable[[dict], object]) -> Callable[[dict, dict], object]:
    def edit(header: dict, buffers: dict) -> object:
        return change(header)
    return edit


def setting(path: str, value: object) -> Callable[[dict, dict], object]:
    """Set a dotted path of the header (a missing last key: delete it with value DELETE)."""
    def edit(header: dict, buffers: dict) -> dict:
        *parents, last = path.split(".")
        node = header
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
        return header
    return edit


def in_layout(name: str, index: int, value: object) -> Callable[[dict, dict], object]:
    """Change where the layout puts tensor `name` (its buffer, offset or shape)."""
    def edit(header: dict, buffers: dict) -> dict:
        header["layout"][name][index] = value
        return header
    return edit


DELETE = object()
EXP_AVG = "optimizer.loss.state.0.exp_avg"  # the first layer's weight: [16, 2]

CASES = {
    "a list, not an object": (changed(lambda h: [h]), "header: a JSON list, not an object"),
    "no rng": (setting("rng", DELETE), "rng: Field required"),
    "epoch a word": (setting("epoch", "two"), "epoch: Input should be a valid integer"),
    "epoch negative": (setting("epoch", -5), "epoch: Input should be greater than or equal"),
    "step too large": (setting("step", 10**30), "step: Input should be less than or equal"),
    "step off the plan": (setting("step", 7), "step: 7, but 2 epochs of 4 steps make 8"),
    "history not a list": (setting("history", "x"), "history: Input should be a valid array"),
    "history shorter": (changed(lambda h: {**h, "history": h["history"][:1]}),
                        "epoch: 2 epochs done, but the history holds 1 records"),
    "optimizer state a number": (setting("optimizers.loss.state", 5),
                                 "optimizers.loss.state: Input should be"),
    "optimizer moment reshaped": (in_layout(EXP_AVG, 2, [2, 16]),
                                  "optimizers.loss.state.0.exp_avg: shape [2, 16], but its "
                                  "parameter 0.weight has [16, 2]"),
    "layout past the buffer": (in_layout(EXP_AVG, 1, 10**6),
                               f"layout.{EXP_AVG}: shape [16, 2] at offset 1000000"),
    "rng state cut": (in_layout("rng.torch", 2, [5000]), "rng: does not load"),
    "unknown tensor": (setting("rng.torch", {"__tensor__": "nowhere"}),
                       "rng.torch: names the tensor 'nowhere', which is not in the layout"),
    "scheduler field a word": (setting("schedulers.loss.step_count", "x"),
                               "schedulers.loss.step_count: str 'x', expected int"),
    "monitor best epoch later": (setting("monitor.best_epoch", 9),
                                 "monitor.best_epoch: 9, after the 2 epochs done"),
    "an unknown field": (setting("evil", 1), "evil: Extra inputs are not permitted"),
    "weights absolute": (setting("weights", "/etc/passwd"),
                         "weights: Value error, must name a resume-<step>.weights"),
    "weights outside": (setting("weights", "../../outside.safetensors"),
                        "weights: Value error, must name a resume-<step>.weights"),
    "weights missing": (setting("weights", "resume-000000099.weights.safetensors"),
                        "resume-000000099.weights.safetensors is missing or not a regular file"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_damaged_header_is_refused_naming_the_field_and_nothing_is_written(stopped,
                                                                             tmp_path, case):
    edit, message = CASES[case]
    run_dir = tmp_path / "run"
    shutil.copytree(stopped, run_dir)
    header, buffers = header_and_buffers(run_dir)
    rewrite(run_dir, edit(header, buffers), buffers)
    before = files_of(run_dir)
    with pytest.raises(TrainError, match=re.escape(message)) as caught:
        train(run_dir, resume=True)
    assert caught.value.codes == ["DLS404"]
    assert "is damaged" in str(caught.value)
    assert files_of(run_dir) == before  # no checkpoint rewritten, no TensorBoard file


def test_a_weights_link_leading_out_of_the_checkpoints_is_refused(stopped, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(stopped, run_dir)
    header, _ = header_and_buffers(run_dir)
    link = run_dir / "checkpoints" / header["weights"]
    outside = tmp_path / "outside.safetensors"
    shutil.copyfile(link, outside)
    link.unlink()
    os.symlink(outside, link)
    with pytest.raises(TrainError, match=r"weights: .* leads out of .*checkpoints \(to "
                                         r".*outside.safetensors\)") as caught:
        train(run_dir, resume=True)
    assert caught.value.codes == ["DLS404"]
    link.unlink()
    os.symlink("last.safetensors", link)  # a link inside checkpoints/ is fine
    assert train(run_dir, resume=True).epochs_run == 3


@pytest.mark.parametrize("name", ["metrics.csv", "grad_norms.csv"])
def test_a_damaged_metrics_csv_is_refused_before_an_epoch_runs(stopped, tmp_path, name):
    """Found at the end of the first resumed epoch, it had rewritten the checkpoints and
    run.json before the error: read back before anything is written."""
    run_dir = tmp_path / "run"
    shutil.copytree(stopped, run_dir)
    if not (run_dir / name).exists():
        (run_dir / name).write_text("epoch,step\n", encoding="utf-8")
    with open(run_dir / name, "a", encoding="utf-8") as handle:
        handle.write("1,x,3,4,5,6,7,8,9,10,11,12\n")
    before = files_of(run_dir)
    with pytest.raises(TrainError, match=re.escape(name) + r" of the run in .* is damaged"
                       ) as caught:
        train(run_dir, resume=True)
    assert caught.value.codes == ["DLS419"]
    assert files_of(run_dir) == before


def test_an_intact_header_resumes_to_the_uninterrupted_run(stopped, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(stopped, run_dir)
    resumed = train(run_dir, resume=True)
    whole = train(tmp_path / "whole")
    drop = ("seconds",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in resumed.history] == \
        [{k: v for k, v in r.items() if k not in drop} for r in whole.history]
    assert len(resumed.history) == 3 and math.isfinite(resumed.history[-1]["val_loss"])


def test_a_resume_that_fails_in_its_first_step_writes_nothing(stopped, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    shutil.copytree(stopped, run_dir)
    # as a crashed run leaves it: a metrics row after the checkpoint's step
    with open(run_dir / "metrics.csv", "a") as handle:
        handle.write("3,12,0.001,0.5,0.5,0.5,0,0.1\n")
    before = files_of(run_dir)

    def broken(*args, **kwargs):
        raise RuntimeError("the device fell over")

    monkeypatch.setattr(Stepper, "train_epoch", broken)
    with pytest.raises(RuntimeError, match="the device fell over"):
        train(run_dir, resume=True)
    assert files_of(run_dir) == before  # no new TensorBoard file, metrics.csv as it was


def test_a_slow_checkpoint_write_records_the_history_of_its_own_epoch(tmp_path, monkeypatch):
    """The header is serialized on the writer thread while training goes on: it must hold
    the history as it was when the checkpoint was taken, not the epochs appended since."""
    import time

    import dlspec.train.run_folder.resume as resume_module

    slow_copy, real_save = resume_module.copy_checkpoint, resume_module.save_file
    headers = []

    def copy_slowly(source, target):
        time.sleep(0.3)  # a slow disk: the next epoch ends meanwhile
        slow_copy(source, target)

    def save_file(tensors, filename, metadata=None):
        headers.append(json.loads(metadata["dlspec_resume"]))
        real_save(tensors, filename, metadata=metadata)

    monkeypatch.setattr(resume_module, "copy_checkpoint", copy_slowly)
    monkeypatch.setattr(resume_module, "save_file", save_file)
    train(tmp_path, epochs=3)
    assert [(h["epoch"], len(h["history"])) for h in headers if h["partial"] is None] == \
        [(1, 1), (2, 2), (3, 3)]


def test_a_group_setting_one_device_leaves_unset_fits_but_a_wrong_kind_does_not(tmp_path):
    from dlspec.train.run_folder.resume_fit import same_structure

    where = "optimizers.loss.param_groups.0"
    on_gpu = {"lr": 1, "fused": None, "betas": (0.9, 0.99), "param_names": ["w"]}
    on_cpu = {"lr": 0.1, "fused": True, "betas": (0.9, 0.999), "param_names": ["w"]}
    same_structure(tmp_path, where, on_gpu, on_cpu)  # a run moved from a GPU to the CPU
    with pytest.raises(TrainError, match=re.escape(f"{where}.lr: str 'x', expected float "
                                                   "0.1")):
        same_structure(tmp_path, where, {**on_gpu, "lr": "x"}, on_cpu)
    with pytest.raises(TrainError, match=re.escape(f"{where}.betas: tuple (0.9,), expected "
                                                   "a list of 2")):
        same_structure(tmp_path, where, {**on_gpu, "betas": (0.9,)}, on_cpu)
    with pytest.raises(TrainError, match=re.escape(f"{where}: has the fields ['betas', "
                                                   "'fused', 'lr', 'param_names'], not "
                                                   "['momentum']")):
        same_structure(tmp_path, where, on_gpu, {**on_cpu, "momentum": 0.9})


def leaf_paths(data: object, path: tuple = ()) -> list[tuple]:
    """The path of every value in a JSON tree, containers included."""
    found = [path] if path else []
    if isinstance(data, dict):
        found += [p for key, value in data.items() for p in leaf_paths(value, (*path, key))]
    elif isinstance(data, list):
        found += [p for i, value in enumerate(data) for p in leaf_paths(value, (*path, i))]
    return found


@pytest.mark.slow
def test_any_field_set_to_a_wrong_value_is_a_dls_error_never_a_traceback(stopped, tmp_path):
    """Every field of the header (the history's first record standing for all) set to a
    word, null, a negative number or an empty object: refused with DLS404, or harmless."""
    header, buffers = header_and_buffers(stopped)
    paths = [p for p in leaf_paths(header) if not (p[0] == "history" and len(p) > 1
                                                   and p[1] != 0)]
    tracebacks = []
    for path in paths:
        for value in ("x", None, -1, {}):
            run_dir = tmp_path / "run"  # afresh: a harmless edit trains on and changes it
            shutil.rmtree(run_dir, ignore_errors=True)
            shutil.copytree(stopped, run_dir)
            edited = json.loads(json.dumps(header))
            node = edited
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
            rewrite(run_dir, edited, buffers)
            try:
                train(run_dir, resume=True)
            except TrainError as error:
                assert error.codes == ["DLS404"], (path, value)
            except Exception as error:  # noqa: BLE001 - what the test looks for
                tracebacks.append((path, value, repr(error)[:100]))
    assert len(paths) > 100 and tracebacks == []
