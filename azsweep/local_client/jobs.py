"""``LocalClient.jobs``: ``MLClient.jobs`` for sweeps, each run on this machine by a detached driver process.

``create_or_update`` returns at once; the sweep runs on in its driver (it outlives the calling script,
as an Azure job does). The name of an interrupted sweep resumes it; the name of one that has ended is
refused, as Azure refuses a job name that is taken.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azsweep.errors import ArgumentError, AzsweepError, SweepFailed
from azsweep.local_client.common import Done, Operations, require_name
from azsweep.runner.layout import Settings
from azsweep.runner.record import JobStatus, SweepRecord, Trial

if TYPE_CHECKING:
    from azsweep.local_client import LocalClient

NAMED_OUTPUTS = "named-outputs"  # where a trial's run holds each named output, as on Azure


@dataclass
class LocalJob:
    """What ``jobs.get`` / ``jobs.list`` return: the fields of an azure-ai-ml job that matter locally."""

    name: str
    status: str
    type: str = "sweep"
    display_name: str | None = None
    experiment_name: str | None = None
    parent_job_name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)  # trials: the sampled values
    score: float | None = None  # trials: best primary-metric value; sweeps: the best trial's
    studio_url: str | None = None  # locally: how to open the record in ``mlflow ui``


class LocalJobOperations(Operations):
    """``create_or_update``, ``stream``, ``get``, ``list``, ``cancel`` for local sweeps."""

    group = "jobs"
    reason = (
        "not available for local sweeps "
        "(LocalClient.jobs has create_or_update, get, list, stream, cancel, begin_cancel and download)"
    )
    reasons = {
        "validate": "azsweep.validate(job) checks a sweep locally, with Azure's rules",
    }

    def __init__(self, client: LocalClient) -> None:
        self._client = client

    @property
    def _settings(self) -> Settings:
        return self._client.settings

    def create_or_update(
        self,
        job: Any,
        *,
        name: str | None = None,
        experiment_name: str | None = None,
        max_total_trials: int | None = None,
        max_concurrent_trials: int | None = None,
        inputs: dict[str, str] | None = None,
        keep_going: bool | None = None,
        **_: Any,
    ) -> LocalJob:
        """Validate and start ``job`` (a ``SweepJob``, the ``.sweep()`` node, or a YAML path); returns at once.

        ``name``: the job's name (default: ``job.name``, else a new one). The name of a sweep that was
        interrupted continues it; the name of one that has ended is refused. ``keep_going`` is passed to
        ``azsweep.runner.prepare`` when given.
        """
        from azsweep.runner import launch_background, prepare

        _refuse_non_sweep(job)
        if experiment_name is not None and hasattr(job, "experiment_name"):
            job.experiment_name = experiment_name
        if name is not None:
            name = require_name(name, "name")
        elif _job_name(job):
            name = require_name(_job_name(job), "job.name")
        existing = SweepRecord.load(self._settings.folder(name)) if name else None
        if existing is not None and existing.status == JobStatus.RUNNING and _alive(existing.pid):
            return self.get(existing.name)  # as with Azure: the job of that name, still running
        extra: dict[str, Any] = {} if keep_going is None else {"keep_going": keep_going}
        prepared = prepare(
            job,
            settings=self._settings,
            name=name,
            max_total_trials=max_total_trials,
            max_concurrent_trials=max_concurrent_trials,
            inputs=inputs,
            resume=name is not None and self._settings.folder(name).definition.exists(),
            **extra,
        )
        if prepared.finished:  # Azure refuses a name that is taken; only an interrupted sweep continues
            status = existing.status.value if existing is not None else "ended"
            raise ArgumentError(
                f"{{arg}}: the local sweep {prepared.name!r} has already ended ({status}); choose another {{arg}} "
                f"to run it again (jobs.get({prepared.name!r}) reads it)",
                argument="name",
            )
        for note in prepared.notes:
            print(note)
        record_path = prepared.folder.record
        started_before = record_path.stat().st_mtime if record_path.exists() else None
        launch_background(prepared)
        deadline = time.monotonic() + 60

        def driver_ready() -> bool:
            return record_path.exists() and (started_before is None or record_path.stat().st_mtime > started_before)

        while not driver_ready():  # the driver records the parent run before trials start
            if time.monotonic() > deadline:
                raise SweepFailed(f"the local sweep driver did not start; see {prepared.folder.driver_log}")
            time.sleep(0.05)
        return self.get(prepared.name)

    def get(self, name: str) -> LocalJob:
        """The sweep ``name`` (status, best trial in ``properties``) or one of its trials (by its job name,
        e.g. ``keen_otter_x_3``, what ``best_child_run_id`` and ``list(parent_job_name=...)`` give)."""
        name = require_name(name, "name")
        record = self._record(name)
        if record is None:
            found = self._trial(name)
            if found is not None:
                return _trial_job(*found)
            raise AzsweepError(f"no local job named {name!r} in {self._settings.home}")
        properties: dict[str, Any] = {
            "primary_metric_config": json.dumps({"name": record.primary_metric, "goal": record.goal}),
            "azsweep.folder": str(self._settings.folder(name).root),
            "mlflow.run_id": record.parent_run_id,
        }
        best = record.best()
        if best is not None:  # as on Azure, where a sweep's child runs are jobs: the best trial's job name
            properties.update(
                {
                    "best_child_run_id": best.name,
                    "best_child_name": best.name,
                    "best_child_mlflow_run_id": best.run_id,
                    "score": record.best_score,
                }
            )
        uri = record.tracking_uri
        return LocalJob(
            name=name,
            status=record.status.value,
            experiment_name=record.experiment_name,
            properties=properties,
            score=record.best_score,
            studio_url=f"mlflow ui --backend-store-uri {uri}" if uri else None,
        )

    def list(self, parent_job_name: str | None = None, **_: Any) -> Iterator[LocalJob]:
        """The trials of ``parent_job_name`` (with params, status and score); without it, every local sweep."""
        if parent_job_name is None:
            for name in self._settings.sweep_names():
                yield self.get(name)
            return
        parent_job_name = require_name(parent_job_name, "parent_job_name")
        record = self._record(parent_job_name)
        if record is None:
            raise AzsweepError(f"no local sweep named {parent_job_name!r} in {self._settings.home}")
        for t in record.trials:
            yield _trial_job(record, t)

    def download(
        self, name: str, *, download_path: str | os.PathLike[str] = ".", output_name: str | None = None, all: bool = False
    ) -> None:
        """``MLClient.jobs.download``: a trial's files, read from its MLflow run's artifacts; for a sweep, its best
        trial's. Laid out as ``az ml job download`` does: the default artifacts (``outputs/``, ``logs/``,
        ``user_logs/``, ...) under ``<download_path>/artifacts/``, a named output ``x`` under
        ``<download_path>/named-outputs/x/``. ``output_name``: that named output only; ``all``: both."""
        name = require_name(name, "name")
        record = self._record(name)
        if record is not None and not record.status.terminal:
            raise AzsweepError(
                f"LocalClient.jobs.download: the local sweep {name!r} is {record.status.value}; as on Azure, a job "
                "is downloaded once it has ended (jobs.stream waits for it)"
            )
        try:
            sweep, trial = self.trial_run(name)
        except AzsweepError as exc:
            raise AzsweepError(f"LocalClient.jobs.download: {exc}") from None
        if not trial.status.terminal:
            raise AzsweepError(
                f"LocalClient.jobs.download: trial {trial.name!r} is {trial.status.value}; as on Azure, a job is "
                "downloaded once it has ended"
            )
        from azsweep.runner.tracking import Tracker

        tracker = Tracker.for_settings(self._settings, sweep.tracking_uri or None)
        target = Path(download_path)
        top = tracker.list_artifacts(trial.run_id)
        named = (
            [Path(p).name for p, is_dir in tracker.list_artifacts(trial.run_id, NAMED_OUTPUTS) if is_dir]
            if any(p == NAMED_OUTPUTS for p, _ in top)
            else []
        )
        if output_name is not None:
            if output_name not in named:
                have = ", ".join(sorted(named)) or "none"
                raise AzsweepError(
                    f"LocalClient.jobs.download: trial {trial.name!r} has no output named {output_name!r} (named outputs: {have})"
                )
            tracker.download_artifacts(trial.run_id, f"{NAMED_OUTPUTS}/{output_name}", target / NAMED_OUTPUTS)
            return
        for path, _ in top:
            if path != NAMED_OUTPUTS:
                tracker.download_artifacts(trial.run_id, path, target / "artifacts")
        if all:
            for output in named:
                tracker.download_artifacts(trial.run_id, f"{NAMED_OUTPUTS}/{output}", target / NAMED_OUTPUTS)

    def stream(self, name: str, *, poll_seconds: float = 0.5) -> None:
        """Wait for the sweep to end, printing each trial as it ends; raises ``SweepFailed`` if it failed."""
        name = require_name(name, "name")
        printed: set[str] = set()
        folder = self._settings.folder(name)
        record = self._require(name)
        print(f"streaming local sweep {name} ({folder.root})")
        while True:
            for t in record.trials:
                if t.status.terminal and t.name not in printed:
                    printed.add(t.name)
                    score = "N/A" if t.score is None else f"{t.score:.6g}"
                    reason = f" ({t.reason})" if t.reason else ""
                    print(f"{t.name}: {t.status.value.lower()}, {record.primary_metric} = {score}{reason}")
            if record.status.terminal:
                break
            if not _alive(record.pid):
                time.sleep(poll_seconds)  # the driver may have written its last record just now
                record = self._require(name)
                if not record.status.terminal:
                    raise SweepFailed(f"the local sweep driver of {name!r} stopped unexpectedly; see {folder.driver_log}")
                continue
            time.sleep(poll_seconds)
            record = self._require(name)
        summary = f"sweep {name}: {record.status.value}"
        if record.best_trial and record.best_score is not None:
            summary += f"; best trial {record.best_trial} with {record.primary_metric} = {record.best_score:.6g}"
        print(summary + (f" ({record.message})" if record.message else ""))
        if record.status == JobStatus.FAILED:
            raise SweepFailed(f"local sweep {name!r} failed: {record.message}")

    def cancel(self, name: str) -> None:
        """Stop the sweep: its running trials are stopped and recorded as canceled."""
        record = self._require(require_name(name, "name"))
        if record.status == JobStatus.RUNNING and _alive(record.pid):
            os.kill(record.pid, signal.SIGTERM)

    def begin_cancel(self, name: str, **_: Any) -> Done[None]:
        """``cancel``, with the poller ``MLClient.jobs.begin_cancel`` returns (the stop is asked for at once)."""
        self.cancel(name)
        return Done(None)

    def __repr__(self) -> str:
        return f"<LocalClient.jobs: local sweeps in {self._settings.sweeps}>"

    # -- helpers ---------------------------------------------------------------------------------

    def _record(self, name: str) -> SweepRecord | None:
        return SweepRecord.load(self._settings.folder(name))

    def _trial(self, name: str) -> tuple[SweepRecord, Trial] | None:
        """The trial whose job name is ``name`` (``<sweep>_<index>``), with its sweep's record, or None."""
        head, _, index = name.rpartition("_")
        likely = [head] if head and index.isdigit() and self._settings.folder(head).record.exists() else []
        for parent in likely + [n for n in self._settings.sweep_names() if n not in likely]:
            record = self._record(parent)
            if record is None:
                continue
            for trial in record.trials:
                if trial.name == name:
                    return record, trial
        return None

    def trial_run(self, name: str) -> tuple[SweepRecord, Trial]:
        """azsweep's own: the trial a job name stands for, as in ``azureml://jobs/<name>/...`` (a sweep's name:
        its best trial)."""
        name = require_name(name, "name")
        record = self._record(name)
        if record is not None:
            best = record.best()
            if best is None:
                raise AzsweepError(
                    f"the local sweep {name!r} has no best trial ({record.status.value}, {len(record.trials)} trial(s), "
                    f"none with a {record.primary_metric} value); name one of its trials (jobs.list(parent_job_name=...))"
                )
            return record, best
        found = self._trial(name)
        if found is None:
            raise AzsweepError(f"no local job named {name!r} in {self._settings.home}")
        return found

    def _require(self, name: str) -> SweepRecord:
        record = self._record(name)
        if record is None:
            raise AzsweepError(f"no local sweep named {name!r} in {self._settings.home}")
        return record


def _trial_job(record: SweepRecord, t: Trial) -> LocalJob:
    """A trial as ``jobs.get`` / ``jobs.list`` return it: a command job named as Azure names a sweep's child."""
    return LocalJob(
        name=t.name,
        status=t.status.value,
        type="command",
        parent_job_name=record.name,
        experiment_name=record.experiment_name,
        params=t.params,
        score=t.score,
        properties={"run_id": t.run_id, "mlflow.run_id": t.run_id, "reason": t.reason, "std_log": str(t.log or "")},
    )


def _refuse_non_sweep(job: Any) -> None:
    """A job that is not a sweep (a command job, a pipeline) is refused here, in one line naming what it is."""
    if job is None:
        raise ArgumentError(
            "{arg}: expected a sweep (the node .sweep() returns, a SweepJob, or a YAML path), got None", argument="job"
        )
    from azure.ai.ml.entities import Command, CommandJob, Job, Sweep
    from azure.ai.ml.sweep import SweepJob

    if not isinstance(job, Job) or isinstance(job, (Sweep, SweepJob)):
        return
    if isinstance(job, (Command, CommandJob)):
        raise ArgumentError(
            f"{{arg}}: local runs take sweeps, got a command job ({type(job).__name__}); make it one with "
            "command(...)(x=Choice(...)).sweep(...) (running a command job locally is not supported yet), "
            "or submit it with MLClient",
            argument="job",
        )
    raise ArgumentError(f"{{arg}}: local runs take sweeps, got a {type(job).__name__}; submit it with MLClient", argument="job")


def _job_name(job: Any) -> Any:
    """The name ``job`` gives itself (a YAML file's ``name:``), or None."""
    if not isinstance(job, (str, os.PathLike)):
        return getattr(job, "name", None)
    import yaml

    try:
        data = yaml.safe_load(Path(job).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):  # prepare reports what is wrong with the file
        return None
    return data.get("name") if isinstance(data, dict) else None


def _alive(pid: int) -> bool:
    """The driver process lives (a zombie, exited but not yet reaped, does not)."""
    from azsweep.runner.process import process_start_time

    return pid > 0 and process_start_time(pid) is not None
