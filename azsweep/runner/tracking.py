"""The MLflow side of a local sweep: experiment, parent run, one child run per trial, best trial.

The only module of azsweep that uses mlflow's client (``store_server`` runs its tracking server), and the one
home of the tag names azsweep writes.
The store is given by the caller (``Settings.tracking_uri``: the user's ``MLFLOW_TRACKING_URI``,
else a SQLite store in the home folder). Every call retries briefly while a SQLite store is locked.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import shutil
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from azsweep.runner.command import format_value
from azsweep.runner.layout import Settings, SweepFolder
from azsweep.runner.record import JobStatus, SweepRecord, Trial
from azsweep.spec import best_value

# tags on the parent run (the sweep)
SWEEP_TAG = "azsweep.sweep"  # the sweep name
RUN_TYPE_TAG = "azureml.runType"  # "sweep", as Azure tags a sweep's run ("command": a command job's run)
JOB_TAG = "azsweep.job"  # a command job's name, on its run
DISPLAY_NAME_TAG = "azureml.displayName"
PRIMARY_METRIC_TAG = "azsweep.primary_metric"
GOAL_TAG = "azsweep.goal"
FOLDER_TAG = "azsweep.folder"  # the sweep's local folder
MESSAGE_TAG = "azsweep.message"
BEST_TRIAL_TAG = "azsweep.best_trial"
BEST_CHILD_TAG = "best_child_run_id"  # Azure's names for the best trial and its score
SCORE_TAG = "score"
BEST_METRIC_STATUS_TAG = "best_metric_status"
# tags on a child run (a trial)
PARENT_TAG = "mlflow.parentRunId"
TRIAL_TAG = "azsweep.trial"  # the trial index
ATTEMPT_TAG = "azsweep.attempt"
REASON_TAG = "azsweep.reason"
NOTE_TAG = "azsweep.note"
STOPPED_BY_TAG = "azsweep.stopped_by"
STOPPED_AT_TAG = "azsweep.stopped_at_interval"
GPUS_TAG = "azsweep.gpus"  # the GPUs the trial was given (CUDA_VISIBLE_DEVICES)
PARAM_TAG_PREFIX = "azsweep.param."  # + a search-space name: the sampled value (``format_value``), set when the run starts
# on both
STATUS_TAG = "azsweep.status"  # a JobStatus value

# MLflow's usage telemetry (on by default since MLflow 3.2) switched off: an offline tool sends nothing. Set in the
# environment of the driver (the CLI, the detached driver) and of every trial, before MLflow is used there.
TELEMETRY_OFF: Mapping[str, str] = {"MLFLOW_DISABLE_TELEMETRY": "true"}

MAX_TAG_VALUE = 5000  # MLflow's limit on a tag value (5000 in MLflow 2.10, 8000 later)
MAX_PARAM_VALUE = 6000
PARAM_CONFLICT = "Changing param values is not allowed"  # MLflow's error when a param is logged again with other text

T = TypeVar("T")


def param_tag(name: str) -> str:
    """The tag that holds the sampled value of ``name`` on a trial's run (``tags."azsweep.param.lr"`` in a search)."""
    return PARAM_TAG_PREFIX + name


def _retry(fn: Callable[..., T], *args: Any, attempts: int = 8, **kwargs: Any) -> T:
    """Call an MLflow client method, retrying briefly when the store is busy (SQLite locks).

    A call that has not returned after ``OUTAGE_NOTE_SECONDS`` (a lock held, a tracking server down while
    MLflow retries) is reported once, and again when the store answers (``_StoreWatch``).
    """
    token = _WATCH.begin(fn)
    ok = False
    try:
        for attempt in range(attempts):
            try:
                result = fn(*args, **kwargs)
                ok = True
                return result
            except Exception as exc:
                if attempt == attempts - 1 or "locked" not in str(exc).lower() and "busy" not in str(exc).lower():
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")
    finally:
        _WATCH.end(token, ok)


OUTAGE_NOTE_SECONDS = 5.0  # a store call taking longer than this is reported (once per outage)


def _stderr_line(line: str) -> None:
    print(f"azsweep: {line}", file=sys.stderr, flush=True)


class _StoreWatch:
    """Watches the calls in flight to the tracking stores from one thread that wakes while there are any.

    When a call to a store has taken ``OUTAGE_NOTE_SECONDS``, one line says the store is not answering and
    that azsweep keeps retrying; when a call to it then returns, one line says it answers again. The line
    goes to the ``on_outage`` of the store's ``Tracker`` (stderr unless set).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[int, tuple[float, int, str]] = {}  # token -> (started, client id, what)
        self._down: dict[int, float] = {}  # client id -> since when its store is reported as not answering
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None
        self.trackers: weakref.WeakValueDictionary[int, Tracker] = weakref.WeakValueDictionary()

    def begin(self, fn: Callable[..., Any]) -> int:
        client = id(getattr(fn, "__self__", None))
        with self._lock:
            token = next(self._tokens)
            self._calls[token] = (time.monotonic(), client, getattr(fn, "__name__", "a call"))
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="tracking-store-watch", daemon=True)
                self._thread.start()
        return token

    def end(self, token: int, ok: bool) -> None:
        with self._lock:
            _, client, _ = self._calls.pop(token)
            since = self._down.get(client)
            if since is None or any(c == client for _, c, _ in self._calls.values()):
                return
            del self._down[client]
        if ok:
            self._report(client, f"answering again after {time.monotonic() - since:.0f} s")

    def _watch(self) -> None:
        while True:
            time.sleep(min(0.5, OUTAGE_NOTE_SECONDS / 4))
            reports = []
            with self._lock:
                if not self._calls:
                    self._thread = None
                    return
                now = time.monotonic()
                for started, client, what in self._calls.values():
                    if client not in self._down and now - started >= OUTAGE_NOTE_SECONDS:
                        self._down[client] = started
                        reports.append((client, f"no answer for {now - started:.0f} s ({what}); retrying until it answers"))
            for client, text in reports:
                self._report(client, text)

    def _report(self, client: int, text: str) -> None:
        tracker = self.trackers.get(client)
        where = f"tracking store {tracker.uri}" if tracker is not None else "tracking store"
        report = (tracker.on_outage if tracker is not None else None) or _stderr_line
        with contextlib.suppress(Exception):
            report(f"{where}: {text}")


_WATCH = _StoreWatch()


@dataclass(frozen=True)
class RunState:
    """A run as the runner needs it back: its id, MLflow status and tags."""

    run_id: str
    status: str  # MLflow's: RUNNING, FINISHED, FAILED, KILLED, SCHEDULED
    tags: Mapping[str, str]


class Tracker:
    """Writes a sweep's record into an MLflow tracking store, and reads it back."""

    def __init__(self, uri: str | None = None, *, artifact_root: Path | None = None) -> None:
        if uri is None:
            settings = Settings.resolve()
            uri, artifact_root = settings.tracking_uri, settings.artifacts
        self.uri = uri
        self.artifact_root = artifact_root
        if uri.startswith("sqlite:///"):
            Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        self.on_outage: Callable[[str], None] | None = None  # where a store outage is reported (stderr when None)
        _WATCH.trackers[id(self.client)] = self

    @classmethod
    def for_settings(cls, settings: Settings, uri: str | None = None) -> Tracker:
        """The store of ``settings`` (or ``uri``, a sweep's recorded store)."""
        return cls(uri or settings.tracking_uri, artifact_root=settings.artifacts)

    # -- writing -----------------------------------------------------------------------------------

    def experiment_id(self, name: str) -> str:
        found = _retry(self.client.get_experiment_by_name, name)
        if found is not None:
            return str(found.experiment_id)
        location = None
        if self.uri.startswith("sqlite:") and self.artifact_root is not None:
            location = self.artifact_root.as_uri()
        try:
            return str(_retry(self.client.create_experiment, name, artifact_location=location))
        except Exception:  # created concurrently by another sweep
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return str(found.experiment_id)

    def start_parent(self, experiment_id: str, sweep_name: str, tags: Mapping[str, str], run_type: str = "sweep") -> str:
        """A top-level run: a sweep's parent run, or (``run_type="command"``) a command job's only run."""
        name_tag = SWEEP_TAG if run_type == "sweep" else JOB_TAG
        run = _retry(
            self.client.create_run,
            experiment_id,
            run_name=sweep_name,
            tags={name_tag: sweep_name, RUN_TYPE_TAG: run_type, **tags},
        )
        return str(run.info.run_id)

    def log_params(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Log params as text (sampled values as ``format_value`` writes them, cut to MLflow's limit)."""
        from mlflow.entities import Param

        params = [Param(k, format_value(v)[:MAX_PARAM_VALUE]) for k, v in values.items()]
        _retry(self.client.log_batch, run_id, params=params)

    def start_child(
        self, experiment_id: str, parent_id: str, sweep_name: str, index: int, params: Mapping[str, Any], attempt: int = 1
    ) -> str:
        """A trial's run, its sampled values in ``azsweep.param.<name>`` tags (never params: the script may log
        the same names itself, with other text, and MLflow refuses a param logged twice with different values)."""
        tags = {PARENT_TAG: parent_id, SWEEP_TAG: sweep_name, TRIAL_TAG: str(index)}
        tags.update({param_tag(k): format_value(v)[:MAX_TAG_VALUE] for k, v in params.items()})
        if attempt > 1:
            tags[ATTEMPT_TAG] = str(attempt)
        run = _retry(self.client.create_run, experiment_id, run_name=f"{sweep_name}_{index}", tags=tags)
        return str(run.info.run_id)

    def log_missing_params(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Log as params the ``values`` the run has no param of that name for (a value the script logged wins)."""
        for _ in range(3):
            have = _retry(self.client.get_run, run_id).data.params
            missing = {k: v for k, v in values.items() if k not in have}
            if not missing:
                return
            try:
                self.log_params(run_id, missing)
                return
            except Exception as exc:  # a process the trial left behind logged one of them meanwhile: read again
                if PARAM_CONFLICT not in str(exc):
                    raise

    def finish(self, run_id: str, status: JobStatus, tags: Mapping[str, str] | None = None) -> None:
        """Tag the run and end it with the MLflow status of ``status``."""
        self.set_tags(run_id, tags or {})
        _retry(self.client.set_terminated, run_id, status.mlflow)

    def set_running(self, run_id: str) -> None:
        """Reopen a run (a resumed sweep's parent)."""
        _retry(self.client.update_run, run_id, status="RUNNING")
        self.set_tags(run_id, {STATUS_TAG: JobStatus.RUNNING.value})

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Set the tags in one call to the store (a call costs milliseconds on SQLite, whatever its size)."""
        if not tags:
            return
        from mlflow.entities import RunTag

        _retry(self.client.log_batch, run_id, tags=[RunTag(k, v[:MAX_TAG_VALUE]) for k, v in tags.items()])

    def log_best(self, parent_id: str, best_run_id: str | None, score: float | None, metric: str) -> None:
        """Mark the best trial on the parent as Azure does (``best_child_run_id``, ``score``)."""
        if best_run_id is None or score is None:
            self.set_tags(parent_id, {BEST_METRIC_STATUS_TAG: "NotAvailable"})
            return
        self.set_tags(parent_id, {BEST_CHILD_TAG: best_run_id, SCORE_TAG: repr(score), BEST_METRIC_STATUS_TAG: "Succeeded"})
        if math.isfinite(score):
            _retry(self.client.log_metric, parent_id, f"best_child_by_primary_metric.{metric}", score)

    def log_artifacts(self, run_id: str, paths: Iterable[Path], artifact_path: str) -> None:
        for path in paths:
            _retry(self.client.log_artifact, run_id, str(path), artifact_path=artifact_path)

    def log_artifact_folder(self, run_id: str, folder: Path, artifact_path: str) -> None:
        """Upload the files under ``folder`` (its tree kept) as artifacts of ``run_id`` under ``artifact_path``."""
        _retry(self.client.log_artifacts, run_id, str(folder), artifact_path=artifact_path)

    # -- reading -----------------------------------------------------------------------------------

    def run_state(self, run_id: str) -> RunState:
        run = _retry(self.client.get_run, run_id)
        return RunState(run.info.run_id, run.info.status, dict(run.data.tags))

    def children(self, experiment_id: str, parent_id: str) -> list[RunState]:
        """Every child run of ``parent_id``."""
        runs = _retry(self.client.search_runs, [experiment_id], _equals(f"tags.`{PARENT_TAG}`", parent_id), max_results=50000)
        return [
            RunState(r.info.run_id, r.info.status, dict(r.data.tags)) for r in runs if r.data.tags.get(PARENT_TAG) == parent_id
        ]

    def metric_values(self, run_id: str, key: str) -> list[float]:
        """Every value logged for ``key``, in logging order (one value = one interval)."""
        return [value for value, _ in self.metric_history(run_id, key)]

    def metric_history(self, run_id: str, key: str) -> list[tuple[float, float]]:
        """(value, timestamp in ms) for every value logged for ``key``, in logging order."""
        history = _retry(self.client.get_metric_history, run_id, key)
        history = sorted(history, key=lambda m: (m.timestamp, m.step))
        return [(m.value, m.timestamp) for m in history]

    def metric_names(self, run_id: str) -> list[str]:
        return sorted(_retry(self.client.get_run, run_id).data.metrics)

    def read_sweep(self, name: str) -> SweepRecord | None:
        """The sweep ``name`` as MLflow records it (parent run tagged with the name, and its child runs).

        Trial params are the sampled values as recorded text (the ``azsweep.param.<name>`` tags; the run's
        params for runs recorded before those tags), ``logged_params`` every other param the script logged;
        each trial's score is the best of its primary-metric values (``spec.best_value``). Attempts a stop of the
        driver interrupted are listed in ``interrupted``.
        """
        experiments = [e.experiment_id for e in _retry(self.client.search_experiments)]
        if not experiments:
            return None
        query = f"{_equals(f'tags.`{SWEEP_TAG}`', name)} and tags.`{RUN_TYPE_TAG}` = 'sweep'"
        parents = [
            p for p in _retry(self.client.search_runs, experiments, query, max_results=5) if p.data.tags.get(SWEEP_TAG) == name
        ]
        if not parents:
            return None
        parent = parents[0]
        tags = parent.data.tags
        params = parent.data.params
        metric = tags.get(PRIMARY_METRIC_TAG, "")
        goal = tags.get(GOAL_TAG, "minimize")
        children = _retry(
            self.client.search_runs,
            [parent.info.experiment_id],
            _equals(f"tags.`{PARENT_TAG}`", parent.info.run_id),
            max_results=50000,
        )
        trials: list[Trial] = []
        interrupted: list[str] = []
        for run in children:
            ctags = run.data.tags
            if ctags.get(STATUS_TAG) == JobStatus.INTERRUPTED.value:  # an attempt cut short; it was run again
                interrupted.append(run.info.run_id)
                continue
            values = self.metric_values(run.info.run_id, metric) if metric else []
            reason = "; ".join(x for x in (ctags.get(REASON_TAG, ""), ctags.get(NOTE_TAG, "")) if x)
            stopped_at = ctags.get(STOPPED_AT_TAG)
            sampled, logged = _sampled_and_logged(ctags, run.data.params)
            trials.append(
                Trial(
                    index=int(ctags.get(TRIAL_TAG, -1)),
                    name=run.info.run_name,
                    params=sampled,
                    run_id=run.info.run_id,
                    status=JobStatus.from_mlflow(run.info.status),
                    score=best_value(values, goal == "maximize"),
                    intervals=len(values),
                    reason=reason,
                    started=run.info.start_time / 1000,
                    ended=run.info.end_time / 1000 if run.info.end_time else None,
                    stopped_by=ctags.get(STOPPED_BY_TAG),
                    stopped_at=int(stopped_at) if stopped_at else None,
                    attempt=int(ctags.get(ATTEMPT_TAG, 1)),
                    workdir=_trial_folder(tags.get(FOLDER_TAG), run.info.run_name),
                    logged_params=logged,
                    gpus=[g for g in ctags.get(GPUS_TAG, "").split(",") if g],
                )
            )
        trials.sort(key=lambda t: t.index)
        if parent.info.status == "RUNNING":
            status = JobStatus.RUNNING
        else:
            status = (
                JobStatus(tags[STATUS_TAG])
                if tags.get(STATUS_TAG) in JobStatus._value2member_map_
                else JobStatus.from_mlflow(parent.info.status)
            )
        score = tags.get(SCORE_TAG)
        best_id = tags.get(BEST_CHILD_TAG)
        seed = params.get("seed")
        return SweepRecord(
            name=name,
            status=status,
            experiment_name=_retry(self.client.get_experiment, parent.info.experiment_id).name,
            experiment_id=parent.info.experiment_id,
            parent_run_id=parent.info.run_id,
            tracking_uri=self.uri,
            primary_metric=metric,
            goal=goal,
            algorithm=params.get("sampling_algorithm", ""),
            seed=int(seed) if seed and seed.isdigit() else None,
            max_total_trials=int(params.get("max_total_trials", len(trials))),
            max_concurrent_trials=int(params.get("max_concurrent_trials", 1)),
            pid=0,
            started=parent.info.start_time / 1000,
            ended=parent.info.end_time / 1000 if parent.info.end_time else None,
            message=tags.get(MESSAGE_TAG, ""),
            best_trial=next((t.name for t in trials if t.run_id == best_id), None),
            best_score=float(score) if score else None,
            trials=trials,
            interrupted=interrupted,
        )

    # -- artifacts (read back) ---------------------------------------------------------------------

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[tuple[str, bool]]:
        """(path, is_dir) of each artifact of the run directly under ``path`` (the root when None)."""
        return [(f.path, f.is_dir) for f in _retry(self.client.list_artifacts, run_id, path)]

    def download_artifacts(self, run_id: str, path: str, dst: Path) -> Path:
        """Copy the run's artifact ``path`` (a file or folder) into ``dst``, as ``dst/<last part of path>``; returns it."""
        dst.mkdir(parents=True, exist_ok=True)
        return Path(_retry(self.client.download_artifacts, run_id, path, str(dst)))

    def download_logged_model(self, run_id: str, name: str, dst: Path) -> Path | None:
        """Copy the files of the model the run logged as ``name`` (MLflow 3 keeps a model logged with
        ``log_model(name=...)`` / ``artifact_path=...`` apart from the run's artifacts) into ``dst/<name>``;
        None when the run logged no model of that name (or this MLflow has no logged models)."""
        search = getattr(self.client, "search_logged_models", None)
        if search is None:
            return None
        experiment_id = _retry(self.client.get_run, run_id).info.experiment_id
        found = _retry(search, experiment_ids=[experiment_id], filter_string=_equals("source_run_id", run_id))
        model = next((m for m in found if m.name == name and m.source_run_id == run_id), None)
        if model is None:
            return None
        from mlflow.artifacts import download_artifacts

        dst.mkdir(parents=True, exist_ok=True)
        fetched = dst / ".logged-model"
        local = _retry(download_artifacts, artifact_uri=model.artifact_location, dst_path=str(fetched), tracking_uri=self.uri)
        target = dst / name
        Path(local).rename(target)  # the model's files themselves, not the folder that holds them
        shutil.rmtree(fetched, ignore_errors=True)
        return target

    def logged_model_names(self, run_id: str) -> list[str]:
        """The names of the models the run logged (MLflow 3's logged models; none with MLflow 2)."""
        search = getattr(self.client, "search_logged_models", None)
        if search is None:
            return []
        experiment_id = _retry(self.client.get_run, run_id).info.experiment_id
        found = _retry(search, experiment_ids=[experiment_id], filter_string=_equals("source_run_id", run_id))
        return sorted(m.name for m in found if m.source_run_id == run_id)

    # -- the model registry ------------------------------------------------------------------------

    def register_model_version(
        self, name: str, source: str, *, run_id: str | None, description: str | None, tags: Mapping[str, str]
    ) -> ModelVersionInfo:
        """A new version of the registered model ``name`` (created when missing) whose files are at ``source``."""
        from mlflow.exceptions import MlflowException

        try:
            _retry(self.client.get_registered_model, name)
        except MlflowException:
            try:
                _retry(self.client.create_registered_model, name)
            except MlflowException:  # registered concurrently
                _retry(self.client.get_registered_model, name)
        version = _retry(
            self.client.create_model_version,
            name,
            source,
            run_id=run_id,
            tags={k: v[:MAX_TAG_VALUE] for k, v in tags.items()},
            description=description,
        )
        return _model_version(version)

    def model_version(self, name: str, version: str) -> ModelVersionInfo | None:
        """Version ``version`` of the registered model ``name``, or None."""
        from mlflow.exceptions import MlflowException

        try:
            return _model_version(_retry(self.client.get_model_version, name, version))
        except MlflowException:
            return None

    def model_versions(self, name: str | None = None) -> list[ModelVersionInfo]:
        """Every version of ``name`` (every registered model's when None), oldest first."""
        query = None if name is None else _equals("name", name)
        found = [v for v in _retry(self.client.search_model_versions, query) if name is None or v.name == name]
        return sorted((_model_version(v) for v in found), key=lambda v: (v.name, v.created, int(v.version)))

    def folder_of(self, record: SweepRecord) -> SweepFolder | None:
        """The local folder tagged on the sweep's parent run."""
        root = self.run_state(record.parent_run_id).tags.get(FOLDER_TAG)
        return SweepFolder.at(root) if root else None


@dataclass(frozen=True)
class ModelVersionInfo:
    """A version of a model in MLflow's model registry, as LocalClient needs it back."""

    name: str
    version: str
    source: str
    run_id: str | None
    description: str | None
    tags: Mapping[str, str]
    created: float  # ms since the epoch


def _model_version(v: Any) -> ModelVersionInfo:
    return ModelVersionInfo(
        name=v.name,
        version=str(v.version),
        source=v.source,
        run_id=v.run_id or None,
        description=v.description or None,
        tags=dict(v.tags or {}),
        created=float(v.creation_timestamp or 0),
    )


def _sampled_and_logged(tags: Mapping[str, str], params: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """A trial run's sampled values (from its param tags) and the other params its script logged."""
    sampled = {k[len(PARAM_TAG_PREFIX) :]: v for k, v in tags.items() if k.startswith(PARAM_TAG_PREFIX)}
    if not sampled:  # recorded before the param tags: the sampled values were logged as params
        return dict(params), {}
    return sampled, {k: v for k, v in params.items() if k not in sampled}


def _trial_folder(sweep_folder: str | None, trial_name: str) -> str:
    return str(SweepFolder.at(sweep_folder).trial(trial_name).root) if sweep_folder else ""


def _equals(field: str, value: str) -> str:
    """An MLflow filter clause ``field = value`` for any text ``value``.

    MLflow's filter strings have no escapes: a literal is whatever lies between its quotes, taken as it is
    (a backslash included). So the value is quoted with the quote it does not contain; a value with both
    (never a run id or a job name) is matched with ``LIKE``, each quote a ``_`` wildcard, and the caller keeps
    only exact matches, as every caller does (``LIKE`` is also blind to case on SQLite).
    """
    if "'" not in value:
        return f"{field} = '{value}'"
    if '"' not in value:
        return f'{field} = "{value}"'
    return f"{field} LIKE '{value.replace(chr(39), '_')}'"
