"""``LocalClient``: ``MLClient.jobs`` for sweeps, on this machine.

Change one line of an Azure sweep script — ``ml_client = LocalClient()`` instead of
``MLClient(...)`` — and ``create_or_update`` runs the sweep here: it returns at once, and the sweep
runs on in a detached driver process (it outlives the calling script, as an Azure job does).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azsweep.errors import AzsweepError, SweepFailed
from azsweep.runner.layout import Settings
from azsweep.runner.record import JobStatus, SweepRecord


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


class LocalJobOperations:
    """``create_or_update``, ``stream``, ``get``, ``list``, ``cancel`` for local sweeps."""

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
        **_: Any,
    ) -> LocalJob:
        """Validate and start ``job`` (a ``SweepJob``, the ``.sweep()`` node, or a YAML path); returns at once."""
        from azsweep.runner import launch_background, prepare

        if experiment_name is not None and hasattr(job, "experiment_name"):
            job.experiment_name = experiment_name
        name = name or getattr(job, "name", None)
        existing = SweepRecord.load(self._settings.folder(name)) if name else None
        if existing is not None and existing.status == JobStatus.RUNNING and _alive(existing.pid):
            return self.get(existing.name)  # as with Azure: the job of that name, still running
        prepared = prepare(
            job,
            settings=self._settings,
            name=name,
            max_total_trials=max_total_trials,
            max_concurrent_trials=max_concurrent_trials,
            inputs=inputs,
            resume=existing is not None,
        )
        for note in prepared.notes:
            print(note)
        if prepared.finished:  # nothing to continue: the job of that name as it ended
            return self.get(prepared.name)
        record_path = prepared.folder.record
        started_before = record_path.stat().st_mtime if existing is not None and record_path.exists() else None
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
        """The sweep ``name`` (status, best trial in ``properties``) or one of its trials."""
        record = self._record(name)
        if record is None:
            for parent in self._settings.sweep_names():
                for trial in self.list(parent_job_name=parent):
                    if trial.name == name:
                        return trial
            raise AzsweepError(f"no local job named {name!r} in {self._settings.home}")
        properties: dict[str, Any] = {
            "primary_metric_config": json.dumps({"name": record.primary_metric, "goal": record.goal}),
            "azsweep.folder": str(self._settings.folder(name).root),
        }
        best = record.best()
        if best is not None:
            properties.update({"best_child_run_id": best.run_id, "best_child_name": best.name, "score": record.best_score})
        uri = record.tracking_uri
        return LocalJob(
            name=name,
            status=record.status.value,
            experiment_name=record.experiment_name,
            properties=properties,
            score=record.best_score,
            studio_url=f"mlflow ui --backend-store-uri {uri}" if uri else None,
        )

    def list(self, parent_job_name: str | None = None) -> Iterator[LocalJob]:
        """The trials of ``parent_job_name`` (with params, status and score); without it, every local sweep."""
        if parent_job_name is None:
            for name in self._settings.sweep_names():
                yield self.get(name)
            return
        record = self._record(parent_job_name)
        if record is None:
            raise AzsweepError(f"no local sweep named {parent_job_name!r} in {self._settings.home}")
        for t in record.trials:
            yield LocalJob(
                name=t.name,
                status=t.status.value,
                type="command",
                parent_job_name=parent_job_name,
                experiment_name=record.experiment_name,
                params=t.params,
                score=t.score,
                properties={"run_id": t.run_id, "reason": t.reason, "std_log": str(t.log or "")},
            )

    def stream(self, name: str, *, poll_seconds: float = 0.5) -> None:
        """Wait for the sweep to end, printing each trial as it ends; raises ``SweepFailed`` if it failed."""
        printed: set[str] = set()
        folder = self._settings.folder(name)
        print(f"streaming local sweep {name} ({folder.root})")
        while True:
            record = self._require(name)
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
                if not self._require(name).status.terminal:
                    raise SweepFailed(f"the local sweep driver of {name!r} stopped unexpectedly; see {folder.driver_log}")
                continue
            time.sleep(poll_seconds)
        summary = f"sweep {name}: {record.status.value}"
        if record.best_trial and record.best_score is not None:
            summary += f"; best trial {record.best_trial} with {record.primary_metric} = {record.best_score:.6g}"
        print(summary + (f" ({record.message})" if record.message else ""))
        if record.status == JobStatus.FAILED:
            raise SweepFailed(f"local sweep {name!r} failed: {record.message}")

    def cancel(self, name: str) -> None:
        """Stop the sweep: its running trials are stopped and recorded as canceled."""
        record = self._require(name)
        if record.status == JobStatus.RUNNING and _alive(record.pid):
            os.kill(record.pid, signal.SIGTERM)

    begin_cancel = cancel

    # -- helpers ---------------------------------------------------------------------------------

    def _record(self, name: str) -> SweepRecord | None:
        return SweepRecord.load(self._settings.folder(name))

    def _require(self, name: str) -> SweepRecord:
        record = self._record(name)
        if record is None:
            raise AzsweepError(f"no local sweep named {name!r} in {self._settings.home}")
        return record


def _alive(pid: int) -> bool:
    """The driver process lives (a zombie, exited but not yet reaped, does not)."""
    from azsweep.runner.process import process_start_time

    return pid > 0 and process_start_time(pid) is not None


class LocalClient:
    """A stand-in for ``MLClient`` that runs sweeps on this machine.

    Args:
        tracking_uri: the MLflow store (default: ``MLFLOW_TRACKING_URI``, else a SQLite store in ``home``).
        home: where sweeps keep their folders (default: ``AZSWEEP_HOME``, else ``./.azsweep``).
    """

    def __init__(self, *, tracking_uri: str | None = None, home: str | os.PathLike[str] | None = None, **_: Any) -> None:
        self.settings = Settings.resolve(home=home, tracking_uri=tracking_uri)
        self.jobs = LocalJobOperations(self)

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def tracking_uri(self) -> str:
        return self.settings.tracking_uri
