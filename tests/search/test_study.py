"""dlspec.search.driver/study/trials/report in one process: the study, its trials as run
folders, resuming, failed and pruned trials, best.yaml."""

from __future__ import annotations

import json

import pytest
from optuna.trial import TrialState
from search_fixtures import GRID_2X2, write_spec

from dlspec.api import check
from dlspec.errors import SearchError
from dlspec.search.driver import SearchRequest, search
from dlspec.search.space import search_plan
from dlspec.search.study import StudyFolder, make_sampler
from dlspec.search.trials import best_value


def run(spec, out, **options):
    lines: list[str] = []
    options.setdefault("plots", False)
    outcome = search(SearchRequest(spec, out=out, quiet=True, **options), said=lines.append)
    return outcome, lines


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grid")
    spec = write_spec(folder, GRID_2X2)
    outcome, lines = run(spec, folder / "studies", plots=True)
    return spec, folder, outcome, lines


def test_grid_2x2_runs_exactly_four_trials_and_finds_the_known_best(grid):
    spec, folder, outcome, lines = grid
    trials = outcome.study.get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state == TrialState.COMPLETE for t in trials)
    points = {(t.params["optimizer.lr"], t.params["params.hidden"]) for t in trials}
    assert points == {(1e-4, 4), (1e-4, 32), (3e-2, 4), (3e-2, 32)}
    best = outcome.best
    assert (best.params["optimizer.lr"], best.params["params.hidden"]) == (3e-2, 32)
    assert best.value > 0.85 > max(t.value for t in trials if t.number != best.number)
    assert f"best: trial {best.number}, val_accuracy {best.value:.4f}" in "\n".join(lines)
    assert outcome.ran == 4 and outcome.budget == 4


def test_each_trial_is_a_normal_run_folder_marked_with_its_state(grid):
    _, folder, outcome, _ = grid
    for trial in outcome.study.get_trials():
        run_dir = StudyFolder(folder / "studies" / "tiny").trials / str(trial.number)
        record = json.loads((run_dir / "run.json").read_text())
        lr, hidden = trial.params["optimizer.lr"], trial.params["params.hidden"]
        assert record["overrides"] == [f"optimizer.lr={lr!r}", f"params.hidden={hidden}"]
        assert (run_dir / "checkpoints" / "best.safetensors").is_file()
        assert len((run_dir / "metrics.csv").read_text().strip().splitlines()) == 1 + 2
        marked = json.loads((run_dir / "trial.json").read_text())
        assert (marked["number"], marked["state"]) == (trial.number, "COMPLETE")
        assert marked["value"] == pytest.approx(trial.value)


def test_best_yaml_is_the_best_trials_resolved_spec_without_search(grid):
    _, folder, outcome, _ = grid
    assert outcome.best_yaml == folder / "studies" / "tiny" / "best.yaml"
    checked = check(outcome.best_yaml)  # trainable as is
    assert checked.spec.search is None
    assert checked.loaded.params["hidden"] == 32 and checked.spec.optimizer.lr == 3e-2
    assert "search" not in outcome.best_yaml.read_text()
    assert {p.name for p in outcome.plots} == {"history.png", "parallel_coordinate.png",
                                               "slice.png"}
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in outcome.plots)
    assert set(outcome.importances) == {"optimizer.lr", "params.hidden"}


def test_a_finished_study_resumes_without_running_a_trial_again(grid):
    spec, folder, _, _ = grid
    again, lines = run(spec, folder / "studies", trials=10)  # a grid holds 4 points
    assert again.ran == 0 and len(again.study.get_trials()) == 4
    assert "the grid has 4 points: 4 trials, not 10" in lines
    assert "(resumed: 4 trials so far)" in lines[1]


def test_a_study_of_another_spec_is_refused(grid):
    spec, folder, _, _ = grid
    with pytest.raises(SearchError) as caught:
        run(spec, folder / "studies", overrides=("train.epochs=3",))
    [problem] = caught.value.diagnostics
    assert problem.code == "DLS710"
    assert "the --set values differ ([] then, ['train.epochs=3'] now)" in problem.message


def test_a_folder_holding_another_study_of_the_same_name_is_refused(grid):
    """Another storage (or a removed study.db) would put a new trial 0 onto trials/0."""
    spec, folder, outcome, _ = grid
    marker = json.loads((outcome.folder.root / "study.json").read_text())
    assert marker == {"study": "tiny", "uid": outcome.study.user_attrs["dlspec"]["uid"]}
    with pytest.raises(SearchError) as caught:
        run(spec, folder / "studies", storage=f"journal://{folder / 'other.log'}")
    [problem] = caught.value.diagnostics
    assert problem.code == "DLS710"
    assert problem.message == (f"{folder / 'studies' / 'tiny'} holds the trials of another "
                               "study named 'tiny' (see its study.json), not of the study in "
                               "this storage")
    assert sorted(p.name for p in outcome.folder.trials.iterdir()) == ["0", "1", "2", "3"]


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".."])
def test_a_study_name_must_be_a_plain_folder_name(grid, name):
    spec, folder, _, _ = grid
    with pytest.raises(SearchError) as caught:
        run(spec, folder / "studies", study=name)
    assert caught.value.diagnostics[0].code == "DLS710"
    assert not (folder / "escape").exists() and not (folder / "studies" / "a").exists()


def test_a_stopped_search_resumes_up_to_the_requested_trials(tmp_path):
    spec = write_spec(tmp_path, "  sampler: random\n  trials: 2\n  space:\n"
                                "    optimizer.lr: {float: [1.0e-3, 1.0e-1], log: true}\n",
                      epochs=1)
    first, _ = run(spec, tmp_path / "studies")
    second, _ = run(spec, tmp_path / "studies", trials=3)
    assert (first.ran, second.ran) == (2, 1)
    lrs = [t.params["optimizer.lr"] for t in second.study.get_trials()]
    assert len(set(lrs)) == 3  # the resumed sampler draws new values, not the first again
    assert sorted(p.name for p in (tmp_path / "studies/tiny/trials").iterdir()) == \
        ["0", "1", "2"]


def test_a_failing_trial_is_recorded_with_its_message_and_the_search_goes_on(tmp_path):
    spec = write_spec(tmp_path, "  sampler: grid\n  space:\n"
                                "    optimizer.lr: {choice: [1.0e+30, 3.0e-2]}\n")
    outcome, lines = run(spec, tmp_path / "studies")
    states = {t.params["optimizer.lr"]: t for t in outcome.study.get_trials()}
    failed = states[1e30]
    assert failed.state == TrialState.FAIL
    assert "DLS403: the training loss stayed non-finite" in failed.user_attrs["fail_reason"]
    assert states[3e-2].state == TrialState.COMPLETE and outcome.best.number == \
        states[3e-2].number
    assert any(line.startswith(f"trial {failed.number}  FAIL") and "DLS403" in line
               for line in lines)


@pytest.mark.slow
def test_the_hyperband_pruner_stops_a_third_of_the_trials_with_bad_learning_rates(tmp_path):
    spec = write_spec(tmp_path, "  sampler: random\n  pruner: hyperband\n  trials: 12\n"
                                "  seed: 0\n  space:\n"
                                "    optimizer.lr: {float: [1.0e-7, 1.0e-1], log: true}\n",
                      epochs=6)
    outcome, _ = run(spec, tmp_path / "studies")
    trials = outcome.study.get_trials()
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert len(trials) == 12 and len(pruned) >= 4, [(t.state, t.params) for t in trials]
    for trial in pruned:  # stopped after an epoch, with its files complete and resumable
        run_dir = outcome.folder.trials / str(trial.number)
        epochs = max(trial.intermediate_values)
        assert epochs < 6
        assert len((run_dir / "metrics.csv").read_text().strip().splitlines()) == 1 + epochs
        assert (run_dir / "checkpoints").is_dir()
        assert json.loads((run_dir / "trial.json").read_text())["state"] == "PRUNED"


def test_best_value_is_the_best_finite_epoch_in_the_metrics_direction():
    history = [{"val_loss": 0.5}, {"val_loss": float("nan")}, {"val_loss": 0.3},
               {"val_loss": 0.4}]
    assert best_value(history, "val_loss", "minimize") == 0.3
    assert best_value(history, "val_loss", "maximize") == 0.5
    assert best_value([{"val_loss": float("nan")}], "val_loss", "minimize") is None


def test_an_interrupted_search_runs_the_interrupted_trial_again_when_resumed(tmp_path,
                                                                              monkeypatch):
    from dlspec.search import trials

    spec = write_spec(tmp_path, "  sampler: random\n  trials: 2\n  space:\n"
                                "    optimizer.lr: {float: [1.0e-3, 1.0e-1], log: true}\n",
                      epochs=1)

    def ctrl_c(self, epoch, record):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(trials.EpochReporter, "__call__", ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            run(spec, tmp_path / "studies")
    outcome, _ = run(spec, tmp_path / "studies")
    first, *rest = outcome.study.get_trials()
    assert first.state == TrialState.FAIL and first.user_attrs["interrupted"] is True
    again = [t for t in rest if t.system_attrs.get("retry_history") == [0]]
    assert len(again) == 1 and again[0].params == first.params
    assert [t.state for t in outcome.trials] == [TrialState.COMPLETE] * 2
    assert outcome.ran == 2 and 0 not in [t.number for t in outcome.trials]


def test_a_run_stopped_by_on_epoch_keeps_its_files_and_resumes(tmp_path):
    """What a pruned trial leaves: the epochs so far, its checkpoints and resume state."""
    import optuna

    from dlspec.api import train_spec
    from dlspec.train.run_folder.run_dir import RunFiles

    spec = write_spec(tmp_path, GRID_2X2, epochs=3)
    seen = []

    def prune_at_2(epoch, record):
        seen.append((epoch, round(record["val_accuracy"], 6)))
        if epoch == 2:
            raise optuna.TrialPruned("enough")

    with pytest.raises(optuna.TrialPruned):
        train_spec(spec, out_root=tmp_path / "runs", run_name="pruned", quiet=True,
                   on_epoch=prune_at_2)
    files = RunFiles(tmp_path / "runs" / "pruned")
    assert [epoch for epoch, _ in seen] == [1, 2]
    assert len(files.metrics_csv.read_text().strip().splitlines()) == 1 + 2
    assert files.resume.exists() and files.last.is_file() and files.best.is_file()
    result = train_spec(None, resume=files.root, quiet=True)  # goes on from epoch 2
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    assert round(result.history[1]["val_accuracy"], 6) == seen[1][1]


def test_any_optuna_storage_url_holds_the_study_a_journal_file_here(tmp_path):
    spec = write_spec(tmp_path, "  sampler: grid\n  space:\n"
                                "    params.hidden: {choice: [4, 32]}\n", epochs=1)
    journal = tmp_path / "shared" / "search.log"
    outcome, lines = run(spec, tmp_path / "studies", storage=f"journal://{journal}")
    assert f"study 'tiny' in journal://{journal}: 2 trials" in lines[0]
    assert journal.is_file() and not (tmp_path / "studies/tiny/study.db").exists()
    assert [t.state for t in outcome.trials] == [TrialState.COMPLETE] * 2
    assert sorted(p.name for p in outcome.folder.trials.iterdir()) == ["0", "1"]


def test_a_time_budget_starts_no_trial_after_it(tmp_path, monkeypatch):
    import time
    from types import SimpleNamespace

    from dlspec.search import driver, trials, worker

    clock = [1000.0]  # seconds; each trial takes 40 of them
    fake = SimpleNamespace(monotonic=lambda: clock[0], sleep=time.sleep)
    monkeypatch.setattr(driver, "time", fake)
    monkeypatch.setattr(worker, "time", fake)
    train = trials.TrialRunner._train

    def forty_seconds(self, trial, params):
        clock[0] += 40
        return train(self, trial, params)

    monkeypatch.setattr(trials.TrialRunner, "_train", forty_seconds)
    spec = write_spec(tmp_path, "  sampler: random\n  timeout: 60\n  space:\n"
                                "    optimizer.lr: {float: [1.0e-3, 1.0e-1], log: true}\n",
                      epochs=1)
    outcome, lines = run(spec, tmp_path / "studies")
    assert outcome.budget is None and "at most 60 s" in lines[0]
    assert outcome.ran == 2 and len(outcome.trials) == 2  # started at 0 and 40 s


def test_a_combination_the_checker_refuses_fails_its_trial_only(tmp_path, monkeypatch):
    """Two values each fine alone but not together: the trial's run refuses the spec
    (simulated here: the tiny spec has no such pair), no run folder is made."""
    import dlspec.api
    from dlspec.errors import Diagnostic, ShapeError

    train = dlspec.api.train_spec

    def refuse_hidden_4(path, overrides=(), **options):
        if "params.hidden=4" in overrides:
            raise ShapeError(Diagnostic("DLS201", "inputs have shapes (N, 4) and (N, 8)"))
        return train(path, overrides, **options)

    monkeypatch.setattr(dlspec.api, "train_spec", refuse_hidden_4)
    spec = write_spec(tmp_path, "  sampler: grid\n  space:\n"
                                "    params.hidden: {choice: [4, 32]}\n", epochs=1)
    outcome, lines = run(spec, tmp_path / "studies")
    refused, trained = sorted(outcome.trials, key=lambda t: t.params["params.hidden"])
    assert refused.state == TrialState.FAIL and trained.state == TrialState.COMPLETE
    assert refused.user_attrs["fail_reason"] == \
        "error DLS201: inputs have shapes (N, 4) and (N, 8)"
    assert not outcome.folder.trials.joinpath(str(refused.number)).exists()
    assert outcome.best.number == trained.number and outcome.ran == 2
    assert any(f"trial {refused.number}  FAIL" in line and "DLS201" in line for line in lines)


def test_a_storage_whose_tables_another_process_is_creating_is_opened(tmp_path, monkeypatch):
    import optuna
    import sqlalchemy.exc

    from dlspec.search import study

    made = optuna.storages.RDBStorage
    calls = []

    def racing(url, **options):
        calls.append(url)
        if len(calls) == 1:  # the other process created the table first
            raise sqlalchemy.exc.OperationalError("CREATE TABLE studies", (), Exception(
                "table studies already exists"))
        return made(url, **options)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    assert isinstance(study.open_storage(url, 30.0), made) and calls == [url, url]


def test_tpe_in_a_worker_process_lies_about_the_running_trials(tmp_path):
    """--workers W: the worker processes sample (the parent only waits), with the constant
    liar; a search in one process does not need it."""
    spec = write_spec(tmp_path, "  space:\n    params.hidden: {int: [4, 32]}\n")
    worker, _ = run(spec, tmp_path / "studies", worker_index=0, trials=0)
    assert worker.ran == 0 and worker.study.sampler._constant_liar is True
    plan = search_plan(check(spec, search=True))
    assert make_sampler(plan, 0)._constant_liar is False
