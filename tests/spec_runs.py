"""What `dlspec train` does with a spec, cut short for tests: shared by the promise test over
the shipped specs and the generated-spec test, and one-epoch runs of shipped specs."""

from __future__ import annotations

from pathlib import Path

from spec_mutations import walk

SPECS = Path(__file__).resolve().parents[1] / "specs"


def one_epoch_run(tmp_path_factory, spec: str, *overrides: str) -> Path:
    """The run folder of one epoch of the shipped `specs/<spec>.yaml` with `overrides`."""
    from dlspec import api

    out = tmp_path_factory.mktemp(spec)
    result = api.train_spec(SPECS / f"{spec}.yaml", ["train.epochs=1", *overrides],
                            out_root=out, run_name="run", quiet=True)
    return Path(result.run_dir)


def train_steps(checked, folder: Path, max_samples: int | None = None,
                finite: bool = False) -> bool:
    """For a spec with data: what `dlspec train` does before its first epoch (load the
    data, compile, check the globs, set up the objective, monitor, optimizers, schedules
    and augmentation), the epoch's first optimizer steps, enough for every update of the
    objective to run once, and its last, with the spec's batch size; then the validation
    that ends an epoch. False when the spec has no data, or asks for more than a test should
    make (a dataset of over `max_samples` numbers, a compiled model). With `finite`, every
    step must have a finite loss and gradient."""
    import torch

    from dlspec.api import training_inputs
    from dlspec.train.engine.setup import FitOptions, setup_run
    from dlspec.train.run_folder.run_dir import RunFiles

    spec = checked.spec
    if spec.data is None:
        return False
    sizes = [v for _, v in walk(spec.data.model_dump()) if isinstance(v, int | float)]
    if spec.train.compile or (max_samples and any(abs(v) > max_samples for v in sizes)):
        return False
    data, module, recipe = training_inputs(checked)
    run = setup_run(module, data, recipe, RunFiles(folder / "run"), "cpu", {},
                    FitOptions(base_dir=checked.loaded.base_dir))
    run.model.train()
    last = run.plan.steps_per_epoch
    every = max(update.every for update in run.objective.updates())
    for step in sorted({*range(1, min(every, last) + 1), last}):
        result = run.stepper.step(run.splits["train"], run.plan.batches(step - 1, None),
                                  step=step)
        assert result.finite or not finite, f"step {step} of {checked.loaded.path}: NaN/inf"
    if run.has_val:
        with torch.no_grad():
            run.objective.evaluate(run.splits["val"], "val", 1024)
    return True
