"""Crash recovery: rebuild a stopped sweep's state from its journal, so the loop can continue it.

Finished trials are kept. Trials that were running when the driver stopped are recorded as
interrupted (their processes ended, their MLflow runs closed as KILLED, nothing deleted) and queued
to run again with the same configuration; sampling continues where it stopped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from azsweep.errors import AzsweepError
from azsweep.runner import tracking as tags
from azsweep.runner.journal import Journal
from azsweep.runner.layout import SweepFolder
from azsweep.runner.loop import Launcher, SweepState, TrackingStore, best_trial
from azsweep.runner.process import process_start_time, same_process_alive
from azsweep.runner.record import JobStatus, SweepRecord, Trial
from azsweep.spec import SweepSpec, best_value

INTERRUPTED_REASON = "interrupted: the sweep driver stopped"


def recover(spec: SweepSpec, folder: SweepFolder, *, tracker: TrackingStore, launcher: Launcher) -> SweepState | None:
    """The state to continue the sweep in ``folder`` from; None when it never got to start (start it afresh).

    Raises ``AzsweepError`` when the sweep's driver is still running, and when its journal is missing or
    unreadable although the sweep got to start (never a silent start over: a new parent run, the old one Running).
    """
    journal = Journal(folder.journal)
    try:
        events = journal.read()
    except (OSError, UnicodeError) as exc:
        raise AzsweepError(f"{folder.journal}: {_cannot_resume(folder, f'unreadable ({exc})')}") from None
    started = next((e for e in events if e["event"] == "sweep_started"), None)
    if started is None:
        failed = next((e for e in events if e["event"] == "start_failed"), None)
        if failed is not None:
            why = f"the sweep failed before it started ({failed.get('message', '')})"
            raise AzsweepError(f"sweep {folder.name!r}: {_cannot_resume(folder, why)}")
        if journal.path.exists():
            why = "empty" if journal.path.stat().st_size == 0 else "unreadable: it records no start of the sweep"
            raise AzsweepError(f"{folder.journal}: {_cannot_resume(folder, why)}")
        if folder.record.exists():
            raise AzsweepError(f"{folder.journal}: {_cannot_resume(folder, 'missing, although the sweep started')}")
        return None  # it never got to start
    for e in events:
        if (
            e["event"] in ("sweep_started", "resumed")
            and e.get("driver_pid") != os.getpid()
            and same_process_alive(e.get("driver_pid"), e.get("driver_start"))
        ):
            raise AzsweepError(
                f"sweep {folder.name!r} is still running (driver pid {e['driver_pid']}); cancel it first or wait for it"
            )
    seed = int(started["seed"])
    old = SweepRecord.load(folder)
    record = SweepRecord(
        name=folder.name,
        status=JobStatus.RUNNING,
        experiment_name=started["experiment_name"],
        experiment_id=started["experiment_id"],
        parent_run_id=started["parent_run_id"],
        tracking_uri=tracker.uri,
        primary_metric=spec.objective.primary_metric,
        goal=spec.objective.goal,
        algorithm=spec.algorithm.kind,
        seed=None if spec.algorithm.kind == "grid" else seed,
        max_total_trials=spec.limits.max_total_trials,
        max_concurrent_trials=spec.limits.max_concurrent_trials,
        started=old.started if old else float(started["time"]),
        notes=list(old.notes) if old else [],
        interrupted=list(old.interrupted) if old else [],
    )
    state = SweepState(record=record, seed=seed, elapsed_before=elapsed(events))
    launcher.stop_leftovers(folder.name, folder.home)  # what the stopped driver's trials left running
    recovery = _Recovery(spec, state, tracker, journal)
    for index, t in sorted(_trials_from(events).items()):
        recovery.adopt(index, t, folder)
    recovery.close_unrecorded_runs()
    best = best_trial(record.trials, spec.objective.maximize)
    if best is not None:
        record.best_trial, record.best_score = best.name, best.score
    tracker.set_running(record.parent_run_id)
    journal.append("resumed", driver_pid=os.getpid(), driver_start=process_start_time(os.getpid()), requeued=state.requeued)
    return state


def _cannot_resume(folder: SweepFolder, why: str) -> str:
    """Why the sweep in ``folder`` cannot be resumed, and how to start over."""
    return (
        f"{why}; the sweep {folder.name!r} cannot be resumed without it. Start over under another name, "
        f"or remove {folder.root} to reuse this one"
    )


def _trials_from(events: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Each proposed trial's last known facts, from the journal."""
    trials: dict[int, dict[str, Any]] = {}
    for e in events:
        if e["event"] == "trial_proposed":
            trials[e["index"]] = {"params": e["params"], "attempt": e.get("attempt", 1)}
        elif e["event"] in ("trial_run", "trial_started", "trial_ended") and e["index"] in trials:
            trials[e["index"]].update({k: v for k, v in e.items() if k not in ("event", "time")})
            if e["event"] == "trial_ended":
                trials[e["index"]]["ended"] = True
        elif e["event"] == "trial_interrupted" and e["index"] in trials:
            trials[e["index"]].pop("run_id", None)
    return trials


class _Recovery:
    def __init__(self, spec: SweepSpec, state: SweepState, tracker: TrackingStore, journal: Journal) -> None:
        self.spec, self.state, self.tracker, self.journal = spec, state, tracker, journal
        self.metric = spec.objective.primary_metric
        self.maximize = spec.objective.maximize

    def adopt(self, index: int, t: Mapping[str, Any], folder: SweepFolder) -> None:
        name = f"{folder.name}_{index}"
        trial = Trial(
            index=index,
            name=name,
            params=t["params"],
            run_id=t.get("run_id", ""),
            attempt=t.get("attempt", 1),
            workdir=str(folder.trial(name).root),
        )
        self.state.record.trials.append(trial)
        if t.get("ended") and not t.get("interrupted"):
            self._keep_end(trial, t)
        elif t.get("ended"):  # stopped by an interruption: its run is closed already; run it again
            self.tracker.set_tags(trial.run_id, {tags.STATUS_TAG: JobStatus.INTERRUPTED.value})
            self._requeue(trial)
        elif not (trial.run_id and self._end_from_store(trial)):
            if trial.run_id:
                self.tracker.finish(
                    trial.run_id,
                    JobStatus.INTERRUPTED,
                    {tags.STATUS_TAG: JobStatus.INTERRUPTED.value, tags.REASON_TAG: INTERRUPTED_REASON},
                )
            self._requeue(trial)

    def _requeue(self, trial: Trial) -> None:
        if trial.run_id:
            self.state.record.interrupted.append(trial.run_id)
        self.journal.append("trial_interrupted", index=trial.index, run_id=trial.run_id, attempt=trial.attempt)
        trial.status, trial.run_id, trial.score = JobStatus.QUEUED, "", None
        self.state.requeued.append(trial.index)

    def _keep_end(self, trial: Trial, t: Mapping[str, Any]) -> None:
        trial.status, trial.exit_code, trial.reason = JobStatus(t["status"]), t.get("exit_code"), t.get("reason", "")
        trial.score, trial.intervals = t.get("score"), t.get("intervals", 0)
        trial.stopped_by, trial.stopped_at, trial.ended = t.get("stopped_by"), t.get("stopped_at"), t.get("time")
        self._load_curve(trial)

    def _load_curve(self, trial: Trial) -> list[float]:
        values = self.tracker.metric_values(trial.run_id, self.metric)
        self.state.curves[trial.index] = values[: trial.stopped_at] if trial.stopped_at else values
        return values

    def _end_from_store(self, trial: Trial) -> bool:
        """The driver stopped after MLflow recorded the trial's end but before the journal did: keep that end."""
        run = self.tracker.run_state(trial.run_id)
        status = run.tags.get(tags.STATUS_TAG)
        if status not in (JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELED.value) or run.status == "RUNNING":
            return False
        stopped_at = run.tags.get(tags.STOPPED_AT_TAG)
        trial.status, trial.reason = JobStatus(status), run.tags.get(tags.REASON_TAG, "")
        trial.stopped_by, trial.stopped_at = run.tags.get(tags.STOPPED_BY_TAG), int(stopped_at) if stopped_at else None
        values = self._load_curve(trial)
        trial.intervals, trial.score = len(values), best_value(values, self.maximize)
        self.journal.append(
            "trial_ended",
            index=trial.index,
            status=trial.status.value,
            score=trial.score,
            intervals=trial.intervals,
            reason=trial.reason,
            stopped_by=trial.stopped_by,
            stopped_at=trial.stopped_at,
            adopted=True,
        )
        return True

    def close_unrecorded_runs(self) -> None:
        """Child runs created just before a stop, before the journal recorded them: close them as interrupted."""
        record = self.state.record
        kept = {t.run_id for t in record.trials if t.run_id}
        for run in self.tracker.children(record.experiment_id, record.parent_run_id):
            if run.run_id in kept or run.tags.get(tags.STATUS_TAG) == JobStatus.INTERRUPTED.value:
                continue
            index = int(run.tags.get(tags.TRIAL_TAG, -1))
            self.tracker.finish(
                run.run_id,
                JobStatus.INTERRUPTED,
                {tags.STATUS_TAG: JobStatus.INTERRUPTED.value, tags.REASON_TAG: INTERRUPTED_REASON},
            )
            record.interrupted.append(run.run_id)
            self.journal.append("trial_interrupted", index=index, run_id=run.run_id, unrecorded=True)


def elapsed(events: list[dict[str, Any]]) -> float:
    """Seconds the sweep ran in earlier sessions: from each (re)start to the last event of that session."""
    total, session_start, last = 0.0, None, None
    for e in events:
        if e["event"] in ("sweep_started", "resumed"):
            if session_start is not None and last is not None:
                total += last - session_start
            session_start = e["time"]
        last = e["time"]
    if session_start is not None and last is not None:
        total += last - session_start
    return total
