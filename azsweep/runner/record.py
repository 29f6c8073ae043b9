"""The record types of a local sweep: job statuses, trials, the sweep record and the recorded definition.

One owner for each saved form: ``SweepRecord`` reads and writes ``sweep.json``, ``RecordedDefinition``
reads and writes ``definition.json``. The runner writes them; ``LocalClient``, ``show``, ``plot``,
``replay``, ``submit --from-local`` and resume read them through these types (the MLflow copy of the
record is read by ``tracking.read_sweep`` into the same types).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any

from azsweep.errors import AzsweepError
from azsweep.runner.layout import SweepFolder, log_of
from azsweep.spec import (
    CommandSpec,
    SweepSpec,
    format_duration,
    is_command_job,
    job_spec_from_rest,
    rest_name,
    section_from_rest,
    section_to_rest,
)


class JobStatus(str, Enum):
    """Azure's job status names, for a sweep and for each of its trials."""

    QUEUED = "Queued"  # proposed, not running: an interrupted trial waiting to run again after a resume
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"
    INTERRUPTED = "Interrupted"  # an attempt a stop of the driver cut short; the trial runs again as a new attempt

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def terminal(self) -> bool:
        """The job has ended and will not change again."""
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)

    @property
    def mlflow(self) -> str:
        """The MLflow run status that records it."""
        return _TO_MLFLOW[self]

    @property
    def sampler_state(self) -> str:
        """How a sampler sees the trial: running (pending, queued included), completed, failed or canceled."""
        return "running" if self in (JobStatus.QUEUED, JobStatus.RUNNING) else self.value.lower()

    @classmethod
    def from_mlflow(cls, status: str) -> JobStatus:
        return _FROM_MLFLOW.get(status, cls.FAILED)


_TO_MLFLOW = {
    JobStatus.QUEUED: "SCHEDULED",
    JobStatus.RUNNING: "RUNNING",
    JobStatus.COMPLETED: "FINISHED",
    JobStatus.FAILED: "FAILED",
    JobStatus.CANCELED: "KILLED",
    JobStatus.INTERRUPTED: "KILLED",
}
_FROM_MLFLOW = {
    "SCHEDULED": JobStatus.QUEUED,
    "RUNNING": JobStatus.RUNNING,
    "FINISHED": JobStatus.COMPLETED,
    "FAILED": JobStatus.FAILED,
    "KILLED": JobStatus.CANCELED,
}
STOPPED_BY_POLICY = "stopped by the early-termination policy: "  # how a policy stop's reason starts
MAX_REASON_CHARS = 300  # of an error's text in a failure reason


def failure_reason(what: str, exc: BaseException) -> str:
    """One line: ``what`` failed, and the error that made it (its type and the first line of its text, cut)."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 3] + "..."
    return f"{what}: {type(exc).__name__}" + (f": {text}" if text else "")


def attempt_each(steps: Iterable[Callable[[], object]]) -> None:
    """Run every step even when some raise (closing a job after an error: each part is tried on its own)."""
    for step in steps:
        with contextlib.suppress(Exception):
            step()


@dataclass
class Trial:
    """One trial of a local sweep, as recorded."""

    index: int
    name: str
    params: dict[str, Any]  # sampled values (as text when read back from MLflow)
    run_id: str
    status: JobStatus = JobStatus.RUNNING
    score: float | None = None  # best primary-metric value logged
    intervals: int = 0  # primary-metric values logged so far
    exit_code: int | None = None
    reason: str = ""
    started: float = field(default_factory=time.time)
    ended: float | None = None
    workdir: str = ""
    stopped_by: str | None = None  # the early-termination policy that stopped it
    stopped_at: int | None = None  # ... at this interval
    attempt: int = 1  # > 1 when earlier attempts were interrupted by a stop of the driver
    logged_params: dict[str, str] = field(default_factory=dict)  # what the script logged itself (read from MLflow)
    gpus: list[str] = field(default_factory=list)  # the GPUs it was given (CUDA_VISIBLE_DEVICES)

    def __post_init__(self) -> None:
        self.status = JobStatus(self.status)

    @property
    def log(self) -> Path | None:
        """``user_logs/std_log.txt`` of the trial's folder, when it has one."""
        return log_of(self.workdir) if self.workdir else None

    @property
    def note(self) -> str:
        """A short note for tables: who stopped it, or why it failed."""
        if self.stopped_by:
            return f"{self.stopped_by} at {self.stopped_at}"
        return self.reason if len(self.reason) <= 60 else self.reason[:57] + "..."

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trial:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class SweepRecord:
    """A local job's state: what ``sweep.json`` holds, and what ``show`` reads back from MLflow.

    A command job (``type == "command"``) is recorded in the same form: one trial, named as the job,
    whose run is the job's own (``parent_run_id`` is that run too; no search, no best trial).
    """

    name: str
    status: JobStatus
    experiment_name: str
    experiment_id: str
    parent_run_id: str
    tracking_uri: str
    primary_metric: str
    goal: str
    algorithm: str
    seed: int | None
    max_total_trials: int
    max_concurrent_trials: int
    pid: int = field(default_factory=os.getpid)  # the driver process
    started: float = field(default_factory=time.time)
    ended: float | None = None
    message: str = ""
    best_trial: str | None = None
    best_score: float | None = None
    trials: list[Trial] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)  # run ids of attempts a stop of the driver interrupted
    type: str = "sweep"  # or "command"

    def __post_init__(self) -> None:
        self.status = JobStatus(self.status)

    @property
    def is_command(self) -> bool:
        return self.type == "command"

    @property
    def maximize(self) -> bool:
        return self.goal == "maximize"

    def best(self) -> Trial | None:
        """The best trial as recorded (``best_child_run_id`` on the parent run)."""
        return next((t for t in self.trials if t.name == self.best_trial), None)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self.trials:
            counts[t.status.value] = counts.get(t.status.value, 0) + 1
        return counts

    def save(self, folder: SweepFolder) -> None:
        """Replace ``sweep.json`` atomically."""
        tmp = folder.record.with_name("sweep.json.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1, default=str))
        os.replace(tmp, folder.record)

    @classmethod
    def load(cls, folder: SweepFolder) -> SweepRecord | None:
        """The recorded state, or None when the sweep has no record yet."""
        for _ in range(20):
            try:
                data = json.loads(folder.record.read_text())
                break
            except FileNotFoundError:
                return None
            except ValueError:  # replaced while being read
                time.sleep(0.01)
            except OSError as exc:
                raise AzsweepError(f"{folder.record}: not a readable sweep record ({exc})") from None
        else:
            raise AzsweepError(f"{folder.record}: not a readable sweep record (corrupt JSON)")
        try:
            return cls.from_json(data)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise AzsweepError(f"{folder.record}: not a sweep record ({type(exc).__name__}: {str(exc)[:200]})") from None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SweepRecord:
        known = {f.name for f in fields(cls)}
        record = cls(**{k: v for k, v in data.items() if k in known})
        record.trials = [Trial.from_json(t) for t in data.get("trials", [])]
        return record


@dataclass
class RecordedDefinition:
    """``definition.json``: the user's definition and the effective one a local sweep runs.

    ``props`` is the REST form of the user's definition, as written (what ``submit --from-local``
    sends); ``effective`` is the same form with every local override applied (limits, concurrency,
    smoke timeouts, a smoke run's policy switched off): what the sweep runs, and what a resume runs.
    """

    name: str
    props: dict[str, Any]
    effective: dict[str, Any]
    base_dir: str
    source_path: str | None = None  # the user's original YAML, when the sweep came from a file
    overrides: dict[str, Any] = field(default_factory=dict)  # the local-only overrides asked for
    input_overrides: dict[str, str] = field(default_factory=dict)  # inputs given as local paths or values
    input_values: dict[str, str] = field(default_factory=dict)  # what ${{inputs.x}} became in the trials' commands
    tracking_uri: str = ""
    home: str = ""
    environment: dict[str, Any] | None = None  # what the job's environment declares (environment_spec)

    @property
    def is_command(self) -> bool:
        """A command job's definition (``jobType: Command``), not a sweep's."""
        return is_command_job(self.effective)

    def spec(self) -> SweepSpec:
        """The effective sweep spec (built once: reports ask for it often)."""
        spec = self._effective_spec
        if isinstance(spec, CommandSpec):
            raise AzsweepError(f"{self.name!r} is a command job, not a sweep")
        return spec

    def command_spec(self) -> CommandSpec:
        """The effective spec of a command job."""
        spec = self._effective_spec
        if not isinstance(spec, CommandSpec):
            raise AzsweepError(f"{self.name!r} is a sweep, not a command job")
        return spec

    @cached_property
    def _effective_spec(self) -> SweepSpec | CommandSpec:
        return job_spec_from_rest(self.effective, base_dir=self.base_dir, source=f"{self.name}: definition.json")

    def write(self, folder: SweepFolder) -> Path:
        folder.root.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        if not self.is_command:  # the limits at the top level, kept for readers of the earlier format
            limits = section_from_rest("limits", self.effective["limits"])
            data.update(limits={"max_total_trials": limits["max_total_trials"]}, max_concurrent=limits["max_concurrent_trials"])
        folder.definition.write_text(json.dumps(data, indent=1))
        return folder.definition

    @classmethod
    def load(cls, folder: SweepFolder) -> RecordedDefinition | None:
        """The recorded definition, or None when the sweep has none."""
        try:
            data = json.loads(folder.definition.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise AzsweepError(f"{folder.definition}: not a readable recorded definition ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("props"), dict):
            raise AzsweepError(f"{folder.definition}: not a recorded definition (no props)")
        try:
            if "effective" not in data and not is_command_job(data["props"]):  # older: its limits only
                effective = json.loads(json.dumps(data["props"]))
                limits = section_from_rest("limits", effective.get("limits"))
                limits["max_total_trials"] = (data.get("limits") or {}).get("max_total_trials", limits.get("max_total_trials"))
                limits["max_concurrent_trials"] = data.get("max_concurrent", limits.get("max_concurrent_trials"))
                effective["limits"] = {**(effective.get("limits") or {}), **section_to_rest("limits", limits)}
                data["effective"] = effective
            known = {f.name for f in fields(cls)}
            values = {k: v for k, v in data.items() if k in known}
            values.setdefault("name", folder.name)
            values["overrides"] = values.get("overrides") or {}
            values["input_overrides"] = values.get("input_overrides") or {}
            values["input_values"] = values.get("input_values") or {}
            return cls(**values)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise AzsweepError(
                f"{folder.definition}: not a recorded definition ({type(exc).__name__}: {str(exc)[:200]})"
            ) from None


def effective_props(props: dict[str, Any], spec: SweepSpec) -> dict[str, Any]:
    """``props`` with the spec's limits and policy: the REST form of what runs after local overrides."""
    out = json.loads(json.dumps(props))
    limits = spec.limits
    out["limits"] = {
        **(out.get("limits") or {}),
        **section_to_rest(
            "limits",
            {
                "max_total_trials": limits.max_total_trials,
                "max_concurrent_trials": limits.max_concurrent_trials,
                "timeout": format_duration(limits.timeout),
                "trial_timeout": format_duration(limits.trial_timeout),
            },
        ),
    }
    if spec.policy is None:
        out[rest_name("early_termination")] = None
    return out
