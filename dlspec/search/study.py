"""The Optuna study of a search: where it is stored, its sampler and pruner, and which spec it
belongs to.

A study lives in `<out>/<study>/`: `study.db` (SQLite, the default storage), `trials/<n>/`
(one run folder per trial), `best.yaml` and `plots/`. `--storage` takes any Optuna storage
URL instead (PostgreSQL, MySQL: several machines on one study) or `journal:///abs/path.log`
(Optuna's journal file, for a shared file system). The study records the spec's sha256, the
--set overrides and the search plan, so that a second `dlspec search` on the same study
resumes it and a different spec is refused.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna

from dlspec.errors import Diagnostic, SearchError

JOURNAL = "journal://"
MAX_RETRY = 2  # a trial whose worker died is run again at most this often


@dataclass(frozen=True)
class StudyFolder:
    """The files of a study on this machine."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "study.db"

    @property
    def trials(self) -> Path:
        return self.root / "trials"

    @property
    def best_yaml(self) -> Path:
        return self.root / "best.yaml"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def lock(self) -> Path:
        return self.root / ".trials.lock"

    @property
    def marker(self) -> Path:
        return self.root / "study.json"


def study_name_problem(name: str) -> str | None:
    """Why `name` cannot name a study folder under --out (None: it can)."""
    if not name.strip():
        return "a study needs a name"
    if "/" in name or "\\" in name or name in (".", ".."):
        return (f"a study's name names its folder under --out, and '{name}' is not a plain "
                "folder name (no '/', '\\', '.' or '..')")
    return None


def claim_folder(folder: StudyFolder, name: str, uid: str | None) -> None:
    """The folder of study `name` (its uid) on this machine: its trial folders are those of
    that study only. study.json records the study; a folder of another study of the same name
    (another storage, or a study.db removed) is refused (DLS710), never mixed."""
    if uid is None:
        return
    hint = (f"give another --study or --out, or remove {folder.root} to start the "
            "study there afresh")
    if folder.marker.is_file():
        try:
            recorded = json.loads(folder.marker.read_text(encoding="utf-8")).get("uid")
        except (OSError, ValueError, AttributeError):
            recorded = None
        if recorded == uid:
            return
        raise SearchError(Diagnostic(
            "DLS710", f"{folder.root} holds the trials of another study named '{name}' "
                      f"(see its {folder.marker.name}), not of the study in this storage",
            hint=hint))
    if folder.trials.is_dir() and any(folder.trials.iterdir()):
        raise SearchError(Diagnostic(
            "DLS710", f"{folder.trials} holds trial folders that belong to no study in this "
                      "storage", hint=hint))
    from dlspec.files import atomic_write_text

    atomic_write_text(folder.marker, json.dumps({"study": name, "uid": uid}, indent=2) + "\n")


def storage_url(url: str | None, folder: StudyFolder) -> str:
    """The storage URL: `url`, else SQLite in the study folder (an absolute path)."""
    if url:
        return url
    return f"sqlite:///{folder.database.resolve()}"


def open_storage(url: str, heartbeat: float | None = 30.0) -> optuna.storages.BaseStorage:
    """The storage behind `url`. An RDB storage (SQLite, PostgreSQL, MySQL) records a
    heartbeat of each running trial every `heartbeat` seconds; a trial whose worker stopped
    beating for twice that is failed by the next worker and run again (same parameters).
    SearchError DLS710 when the URL cannot be opened."""
    try:
        if url.startswith(JOURNAL):
            from optuna.storages.journal import JournalFileBackend

            path = Path(url[len(JOURNAL):])
            path.parent.mkdir(parents=True, exist_ok=True)
            return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        return _rdb_storage(url, heartbeat)
    except Exception as error:  # sqlalchemy: bad URL, missing driver, server down
        message = _first_line(error)
        hint = ("give --storage an Optuna storage URL: sqlite:///abs/path.db, "
                "postgresql://user:password@host/db, mysql+pymysql://user:password@host/db "
                "or journal:///abs/path.log")
        if isinstance(error, OSError):  # the folder of a file storage
            hint = "give --out (or --storage) a folder that can be written"
        elif "Failed to import DB access module" in message:
            message = "the database's Python driver is not installed"
            hint = ("install it: pip install psycopg2-binary (postgresql://), pymysql "
                    "(mysql+pymysql://)")
        raise SearchError(Diagnostic(
            "DLS710", f"cannot open the study storage {shown_url(url)}: {message}",
            hint=hint)) from None


def _rdb_storage(url: str, heartbeat: float | None,
                 attempts: int = 4) -> optuna.storages.RDBStorage:
    """Two processes opening a new database at once (workers started together, machines
    joining a new study) race to create its tables: the loser tries again."""
    import sqlalchemy.exc

    def make() -> optuna.storages.RDBStorage:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, engine_kwargs=_engine_kwargs(url),
                heartbeat_interval=int(heartbeat) if heartbeat else None,
                grace_period=int(2 * heartbeat) if heartbeat else None,
                heartbeat_stale_trial_callback=retry_callback())

    for attempt in range(attempts - 1):
        try:
            return make()
        except sqlalchemy.exc.IntegrityError:
            pass
        except sqlalchemy.exc.OperationalError as error:
            if "already exists" not in str(error):
                raise
        time.sleep(0.2 * (attempt + 1))
    return make()


def shown_url(url: str) -> str:
    """`url` as printed: a database password as ***."""
    if url.startswith((JOURNAL, "sqlite")) or "@" not in url:
        return url
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL sqlalchemy reads: keep nothing after the scheme's user
        return url.split("://", 1)[0] + "://***@" + url.rsplit("@", 1)[1]


def retry_callback() -> optuna.storages.RetryHeartbeatStaleTrialCallback:
    """Enqueues a trial that did not finish (its worker died or was interrupted) once more,
    with its parameters; the trial records the numbers it replaces (`retry_history`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(MAX_RETRY)


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):  # several worker processes write: wait for the lock
        return {"connect_args": {"timeout": 120}}
    return {"pool_pre_ping": True}


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def heartbeat_enabled(storage: optuna.storages.BaseStorage) -> bool:
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return is_heartbeat_enabled(storage)


def worker_seed(seed: int, worker: int, started_after: int) -> int:
    """The sampler seed of a worker: the plan's seed for the first worker of a new study,
    another (deterministic) one for each other worker and each resumption, so that two
    samplers never draw the same sequence."""
    if worker == 0 and started_after == 0:
        return seed
    import numpy as np

    return int(np.random.SeedSequence([seed, worker, started_after]).generate_state(1)[0])


def make_sampler(plan: Any, seed: int, parallel: bool = False
                 ) -> optuna.samplers.BaseSampler:
    """grid, random or tpe, seeded (TPE with the constant liar in a worker process: other
    workers' running trials count as bad, so that workers do not sample one point)."""
    if plan.sampler == "grid":
        from dlspec.search.space import grid_space

        return optuna.samplers.GridSampler(grid_space(plan), seed=seed)
    if plan.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True,
                                          constant_liar=parallel)


def make_pruner(plan: Any, epochs: int) -> optuna.pruners.BasePruner:
    """none, median (after 1 epoch of each trial, once 5 trials finished: Optuna's default,
    so that a few lucky early trials do not set the bar for all the others) or hyperband
    (from 1 epoch to all of them)."""
    if plan.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if plan.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1))
    return optuna.pruners.NopPruner()


@dataclass(frozen=True)
class StudyIdentity:
    """What a study was started with: a study resumed on another spec is refused."""

    spec_name: str
    spec_sha256: str
    overrides: tuple[str, ...]
    metric: str
    direction: str
    space: str  # the dimensions, as JSON

    @classmethod
    def of(cls, checked: Any, overrides: Sequence[str], plan: Any) -> StudyIdentity:
        space = json.dumps([_dimension_json(d) for d in plan.dimensions], sort_keys=True)
        return cls(checked.spec.name, checked.loaded.sha256, tuple(overrides), plan.metric,
                   plan.direction, space)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


def _dimension_json(dimension: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(dimension).items()}


IDENTITY_ATTR = "dlspec"


def open_study(name: str, storage: optuna.storages.BaseStorage, identity: StudyIdentity,
               sampler: optuna.samplers.BaseSampler, pruner: optuna.pruners.BasePruner,
               *, create: bool = True) -> optuna.Study:
    """The study `name` in `storage`: created (with `identity`) when `create` and it does not
    exist, else loaded and checked against `identity` (SearchError DLS710 when it belongs to
    another spec, other overrides or another space)."""
    try:
        if create:
            study = optuna.create_study(study_name=name, storage=storage, sampler=sampler,
                                        pruner=pruner, direction=identity.direction,
                                        load_if_exists=True)
        else:
            study = optuna.load_study(study_name=name, storage=storage, sampler=sampler,
                                      pruner=pruner)
    except KeyError:
        raise SearchError(Diagnostic(
            "DLS710", f"there is no study '{name}' in the storage",
            hint="start it with `dlspec search SPEC --study NAME` first")) from None
    except ValueError as error:  # a study of the same name with another direction
        raise SearchError(Diagnostic("DLS710", f"study '{name}': {_first_line(error)}",
                                     hint="give another --study")) from None
    saved = study.user_attrs.get(IDENTITY_ATTR)
    if saved is None:
        study.set_user_attr(IDENTITY_ATTR, asdict(identity) | {"digest": identity.digest(),
                                                                "uid": uuid.uuid4().hex})
    elif saved.get("digest") != identity.digest():
        raise SearchError(Diagnostic(
            "DLS710", f"study '{name}' was started with another search: "
                      f"{_difference(saved, asdict(identity))}",
            hint="resume it with the same spec file and --set values, or give another "
                 "--study (a new study)"))
    return study


def study_uid(study: optuna.Study) -> str | None:
    """The unique id dlspec gave the study when it created it (None: a study of before)."""
    saved = study.user_attrs.get(IDENTITY_ATTR)
    return saved.get("uid") if isinstance(saved, dict) else None


def _difference(saved: dict[str, Any], now: dict[str, Any]) -> str:
    labels = {"spec_sha256": "the spec file differs", "spec_name": "the spec name differs",
              "overrides": "the --set values differ", "metric": "the metric differs",
              "direction": "the direction differs", "space": "the search space differs"}
    for key, label in labels.items():
        before, after = saved.get(key), now.get(key)
        if key == "overrides":
            before, after = list(before or []), list(after)
        if before != after:
            if key in ("overrides", "metric", "direction"):
                return f"{label} ({before} then, {after} now)"
            return label
    return "its settings differ"
