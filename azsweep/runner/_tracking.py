"""The MLflow side of a local sweep: experiment, parent run, one child run per trial, best trial.

The only runner module that imports mlflow. The store is the user's ``MLFLOW_TRACKING_URI`` when
set, else a local SQLite store under ``AZSWEEP_HOME`` (default ``./.azsweep``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from azsweep.runner._command import format_value

SWEEP_TAG = "azsweep.sweep"  # on the parent: the sweep name
TRIAL_TAG = "azsweep.trial"  # on a child: the trial index
STATUS = {"completed": "FINISHED", "failed": "FAILED", "canceled": "KILLED", "running": "RUNNING"}


def azsweep_home() -> Path:
    """Where local sweeps keep their files (``AZSWEEP_HOME``, default ``./.azsweep``)."""
    return Path(os.environ.get("AZSWEEP_HOME") or ".azsweep").resolve()


def tracking_uri() -> str:
    """The user's ``MLFLOW_TRACKING_URI``, else the local SQLite store."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    home = azsweep_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'mlflow.db'}"


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _retry(fn: Any, *args: Any, attempts: int = 8, **kwargs: Any) -> Any:
    """Call an MLflow client method, retrying briefly when the store is busy (SQLite locks)."""
    for attempt in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if attempt == attempts - 1 or "locked" not in str(exc).lower() and "busy" not in str(exc).lower():
                raise
            time.sleep(0.05 * 2**attempt)
    return None


class Tracker:
    """Writes a sweep's record into an MLflow tracking store."""

    def __init__(self, uri: str | None = None) -> None:
        self.uri = uri or tracking_uri()
        self.client = _client(self.uri)

    def experiment_id(self, name: str) -> str:
        found = _retry(self.client.get_experiment_by_name, name)
        if found is not None:
            return found.experiment_id
        location = None
        if self.uri.startswith("sqlite:"):
            location = (azsweep_home() / "artifacts").as_uri()
        try:
            return _retry(self.client.create_experiment, name, artifact_location=location)
        except Exception:  # created concurrently by another sweep
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def start_parent(self, experiment_id: str, sweep_name: str, tags: Mapping[str, str]) -> str:
        run = _retry(self.client.create_run, experiment_id, run_name=sweep_name,
                     tags={SWEEP_TAG: sweep_name, "azureml.runType": "sweep", **tags})
        return run.info.run_id

    def start_child(self, experiment_id: str, parent_id: str, sweep_name: str, index: int,
                    params: Mapping[str, Any], attempt: int = 1) -> str:
        from mlflow.entities import Param

        tags = {"mlflow.parentRunId": parent_id, SWEEP_TAG: sweep_name, TRIAL_TAG: str(index)}
        if attempt > 1:
            tags["azsweep.attempt"] = str(attempt)
        run = _retry(self.client.create_run, experiment_id, run_name=f"{sweep_name}_{index}", tags=tags)
        flat = {k: format_value(v) for k, v in params.items()}
        _retry(self.client.log_batch, run.info.run_id, params=[Param(k, v[:6000]) for k, v in flat.items()])
        return run.info.run_id

    def finish(self, run_id: str, state: str, tags: Mapping[str, str] | None = None) -> None:
        for key, value in (tags or {}).items():
            _retry(self.client.set_tag, run_id, key, value)
        _retry(self.client.set_terminated, run_id, STATUS[state])

    def children(self, experiment_id: str, parent_id: str) -> list[Any]:
        """Every child run of ``parent_id``."""
        return _retry(self.client.search_runs, [experiment_id], f"tags.`mlflow.parentRunId` = '{parent_id}'",
                      max_results=50000)

    def set_running(self, run_id: str) -> None:
        """Reopen a run (a resumed sweep's parent)."""
        _retry(self.client.update_run, run_id, status="RUNNING")
        self.set_tags(run_id, {"azsweep.status": "Running"})

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            _retry(self.client.set_tag, run_id, key, value)

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

    def log_best(self, parent_id: str, best_run_id: str | None, score: float | None, metric: str) -> None:
        """Mark the best trial on the parent as Azure does (``best_child_run_id``, ``score``)."""
        if best_run_id is None or score is None:
            self.set_tags(parent_id, {"best_metric_status": "NotAvailable"})
            return
        self.set_tags(parent_id, {"best_child_run_id": best_run_id, "score": repr(score), "best_metric_status": "Succeeded"})
        if math.isfinite(score):
            _retry(self.client.log_metric, parent_id, f"best_child_by_primary_metric.{metric}", score)
