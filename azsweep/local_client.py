"""``LocalClient``: ``MLClient.jobs`` for sweeps, on this machine.

Change one line of an Azure sweep script — ``ml_client = LocalClient()`` instead of
``MLClient(...)`` — and ``create_or_update`` runs the sweep here: it returns at once, and the sweep
runs on in a detached driver process (it outlives the calling script, as an Azure job does).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azsweep.errors import AzsweepError, SweepFailed


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

    def create_or_update(self, job: Any, *, name: str | None = None, experiment_name: str | None = None,
                         max_total_trials: int | None = None, max_concurrent_trials: int | None = None,
                         inputs: dict[str, str] | None = None, **_: Any) -> LocalJob:
        """Validate and start ``job`` (a ``SweepJob``, the ``.sweep()`` node, or a YAML path); returns at once."""
        from azsweep.runner import launch_background, prepare

        with self._client._environment():
            if experiment_name is not None and hasattr(job, "experiment_name"):
                job.experiment_name = experiment_name
            name = name or getattr(job, "name", None)
            existing = self._record(name) if name else None
            if existing is not None and existing.get("status") == "Running" and _alive(existing.get("pid")):
                return self.get(name)  # as with Azure: the job of that name, still running
            prepared = prepare(job, name=name, max_total_trials=max_total_trials,
                               max_concurrent_trials=max_concurrent_trials, inputs=inputs, resume=existing is not None)
            for note in prepared.notes:
                print(note)
            if prepared.finished:  # nothing to continue: the job of that name as it ended
                return self.get(prepared.name)
            started_before = (prepared.folder / "sweep.json").stat().st_mtime if existing is not None else None
            folder = launch_background(prepared)
        deadline = time.monotonic() + 60

        def driver_ready() -> bool:
            path = folder / "sweep.json"
            return path.exists() and (started_before is None or path.stat().st_mtime > started_before)

        while not driver_ready():  # the driver records the parent run before trials start
            if time.monotonic() > deadline:
                raise SweepFailed(f"the local sweep driver did not start; see {folder / 'driver.log'}")
            time.sleep(0.05)
        return self.get(prepared.name)

    def get(self, name: str) -> LocalJob:
        """The sweep ``name`` (status, best trial in ``properties``) or one of its trials."""
        record = self._record(name)
        if record is None:
            for parent in self._sweep_names():
                for trial in self.list(parent_job_name=parent):
                    if trial.name == name:
                        return trial
            raise AzsweepError(f"no local job named {name!r} in {self._client.home}")
        best = record.get("best_trial")
        trial = next((t for t in record.get("trials", []) if t["name"] == best), None)
        properties = {"primary_metric_config": json.dumps({"name": record.get("primary_metric"), "goal": record.get("goal")}),
                      "azsweep.folder": str(self._folder(name))}
        if trial is not None:
            properties.update({"best_child_run_id": trial["run_id"], "best_child_name": trial["name"],
                               "score": record.get("best_score")})
        uri = record.get("tracking_uri")
        return LocalJob(name=name, status=record.get("status", "Unknown"), experiment_name=record.get("experiment_name"),
                        properties=properties, score=record.get("best_score"),
                        studio_url=f"mlflow ui --backend-store-uri {uri}" if uri else None)

    def list(self, parent_job_name: str | None = None) -> Iterator[LocalJob]:
        """The trials of ``parent_job_name`` (with params, status and score); without it, every local sweep."""
        if parent_job_name is None:
            for name in self._sweep_names():
                yield self.get(name)
            return
        record = self._record(parent_job_name)
        if record is None:
            raise AzsweepError(f"no local sweep named {parent_job_name!r} in {self._client.home}")
        for t in record.get("trials", []):
            yield LocalJob(name=t["name"], status=t["status"], type="command", parent_job_name=parent_job_name,
                           experiment_name=record.get("experiment_name"), params=t["params"], score=t["score"],
                           properties={"run_id": t["run_id"], "reason": t.get("reason", ""),
                                       "std_log": str(Path(t["workdir"]) / "user_logs" / "std_log.txt")})

    def stream(self, name: str, *, poll_seconds: float = 0.5) -> None:
        """Wait for the sweep to end, printing each trial as it ends; raises ``SweepFailed`` if it failed."""
        from azsweep.runner import TERMINAL

        printed: set[str] = set()
        record = self._record(name) or {}
        print(f"streaming local sweep {name} ({self._folder(name)})")
        while True:
            record = self._record(name) or {}
            for t in record.get("trials", []):
                if t["status"] != "Running" and t["name"] not in printed:
                    printed.add(t["name"])
                    score = "N/A" if t["score"] is None else f"{t['score']:.6g}"
                    reason = f" ({t['reason']})" if t.get("reason") else ""
                    print(f"{t['name']}: {t['status'].lower()}, {record.get('primary_metric')} = {score}{reason}")
            if record.get("status") in TERMINAL:
                break
            if not _alive(record.get("pid")):
                time.sleep(poll_seconds)  # the driver may have written its last record just now
                record = self._record(name) or {}
                if record.get("status") not in TERMINAL:
                    raise SweepFailed(f"the local sweep driver of {name!r} stopped unexpectedly; "
                                      f"see {self._folder(name) / 'driver.log'}")
                continue
            time.sleep(poll_seconds)
        status, message = record.get("status"), record.get("message", "")
        best = record.get("best_trial")
        summary = f"sweep {name}: {status}"
        if best:
            summary += f"; best trial {best} with {record.get('primary_metric')} = {record.get('best_score'):.6g}"
        print(summary + (f" ({message})" if message else ""))
        if status == "Failed":
            raise SweepFailed(f"local sweep {name!r} failed: {message}")

    def cancel(self, name: str) -> None:
        """Stop the sweep: its running trials are stopped and recorded as canceled."""
        record = self._record(name)
        if record is None:
            raise AzsweepError(f"no local sweep named {name!r} in {self._client.home}")
        pid = record.get("pid")
        if record.get("status") == "Running" and _alive(pid):
            os.kill(pid, 15)

    begin_cancel = cancel

    # -- helpers ---------------------------------------------------------------------------------

    def _folder(self, name: str) -> Path:
        return self._client.home / "sweeps" / name

    def _record(self, name: str) -> dict[str, Any] | None:
        path = self._folder(name) / "sweep.json"
        for _ in range(20):
            try:
                return json.loads(path.read_text())
            except FileNotFoundError:
                return None
            except ValueError:  # replaced while being read
                time.sleep(0.01)
        return None

    def _sweep_names(self) -> list[str]:
        root = self._client.home / "sweeps"
        return sorted(p.name for p in root.iterdir() if (p / "sweep.json").exists()) if root.is_dir() else []


def _alive(pid: Any) -> bool:
    """The driver process lives (a zombie, exited but not yet reaped, does not)."""
    from azsweep.runner._journal import process_start_time

    return isinstance(pid, int) and process_start_time(pid) is not None


class LocalClient:
    """A stand-in for ``MLClient`` that runs sweeps on this machine.

    Args:
        tracking_uri: the MLflow store (default: ``MLFLOW_TRACKING_URI``, else a SQLite store in ``home``).
        home: where sweeps keep their folders (default: ``AZSWEEP_HOME``, else ``./.azsweep``).
    """

    def __init__(self, *, tracking_uri: str | None = None, home: str | os.PathLike[str] | None = None, **_: Any) -> None:
        from azsweep.runner import azsweep_home

        self.home = Path(home).resolve() if home else azsweep_home()
        self.tracking_uri = tracking_uri
        self.jobs = LocalJobOperations(self)

    def _environment(self) -> Any:
        import contextlib

        @contextlib.contextmanager
        def scoped() -> Iterator[None]:
            saved = {k: os.environ.get(k) for k in ("AZSWEEP_HOME", "MLFLOW_TRACKING_URI")}
            os.environ["AZSWEEP_HOME"] = str(self.home)
            if self.tracking_uri:
                os.environ["MLFLOW_TRACKING_URI"] = self.tracking_uri
            try:
                yield
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v

        return scoped()
