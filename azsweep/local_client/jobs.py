"""``LocalClient.jobs``: ``MLClient.jobs`` for sweeps and command jobs, each run here by a detached driver process.

``create_or_update`` returns at once; the job runs on in its driver (it outlives the calling script,
as an Azure job does). The name of an interrupted sweep resumes it; the name of a job that has ended is
refused, as Azure refuses a job name that is taken. A command job (``command(...)``, a YAML
``type: command``) runs once, as one process with a trial's machinery (``runner.command_job``). A pipeline
runs in a thread of the calling process (``runner.pipeline``); the name of an interrupted pipeline resumes it,
and ``cancel`` reaches it (or one of its steps' jobs) through ``runner.pipeline.request_cancel``.
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
    """``create_or_update``, ``stream``, ``get``, ``list``, ``cancel``, ``download`` for local sweeps and command jobs."""

    group = "jobs"
    reason = (
        "not available for local jobs "
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
        environment: str | None = None,
        gpus: str | int | list[str] | None = None,
        gpus_per_trial: float | None = None,
        **_: Any,
    ) -> LocalJob:
        """Validate and start ``job`` (a sweep: a ``SweepJob``, the ``.sweep()`` node; a command job: ``command(...)``,
        a ``CommandJob``; or a YAML path of either); returns at once.

        ``name``: the job's name (default: ``job.name``, else a new one). The name of a sweep that was
        interrupted continues it; the name of a job that has ended is refused. ``max_total_trials``,
        ``max_concurrent_trials`` and ``keep_going`` (sweeps only) and ``inputs`` are the local overrides of
        ``azsweep.runner.prepare``; the client's own (``LocalClient(max_total_trials=..., inputs=...)``) apply
        where these are not given: its limit to sweeps, each of its inputs to a job that has an input of that name.
        """
        from azsweep.runner import launch_background, prepare

        kind = _job_kind(job)
        defaults = self._client.overrides
        if experiment_name is not None and hasattr(job, "experiment_name"):  # as MLClient's jobs.create_or_update does
            job.experiment_name = experiment_name
        if kind == "pipeline":
            return self._start_pipeline(job, name, inputs, max_total_trials, max_concurrent_trials, environment)
        if kind == "sweep" and max_total_trials is None:
            max_total_trials = defaults.max_total_trials
        if defaults.inputs:
            names = _input_names(job)
            inputs = {**{k: v for k, v in defaults.inputs.items() if k in names}, **(inputs or {})} or None
        if name is not None:
            name = require_name(name, "name")
        elif _job_name(job):
            name = require_name(_job_name(job), "job.name")
        existing = SweepRecord.load(self._settings.folder(name)) if name else None
        if existing is not None and existing.status == JobStatus.RUNNING and _alive(existing.pid):
            return self.get(existing.name)  # as with Azure: the job of that name, still running
        extra: dict[str, Any] = {} if keep_going is None else {"keep_going": keep_going}
        environment = environment or defaults.environment
        if environment is not None:
            extra["environment"] = environment
        gpus = gpus if gpus is not None else defaults.gpus
        gpus_per_trial = gpus_per_trial if gpus_per_trial is not None else defaults.gpus_per_trial
        extra.update({k: v for k, v in (("gpus", gpus), ("gpus_per_trial", gpus_per_trial)) if v is not None})
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

    def _start_pipeline(
        self,
        job: Any,
        name: str | None,
        inputs: dict[str, str] | None,
        max_total_trials: int | None,
        max_concurrent_trials: int | None,
        environment: str | None,
    ) -> LocalJob:
        """A pipeline runs in a thread of this process (its steps' jobs as ``azsweep run`` runs them); returns once
        its record exists, as ``create_or_update`` returns once Azure has the job. The name of a pipeline that runs
        gives that pipeline; of one that was interrupted, resumes it (its completed steps kept); of one that ended,
        is refused."""
        import threading

        from azsweep.runner.pipeline import is_running, load_pipeline, run_pipeline, was_stopped

        defaults = self._client.overrides
        if name is not None:
            name = require_name(name, "name")
        elif _job_name(job):
            name = require_name(_job_name(job), "job.name")
        existing = load_pipeline(name, self._settings) if name is not None else None
        if existing is not None and is_running(existing, self._settings):
            return self.get(existing.name)  # as with Azure: the job of that name, still running
        resume = existing is not None and was_stopped(existing, self._settings)
        started = threading.Event()
        outcome: list[_Started | BaseException] = []  # what the caller gets: the started pipeline, or the error

        def prepared(record: Any) -> None:
            outcome.append(_Started(record.name))
            started.set()

        def run() -> None:
            try:
                run_pipeline(
                    job,
                    settings=self._settings,
                    name=name,
                    inputs={**defaults.inputs, **(inputs or {})} or None,
                    max_total_trials=max_total_trials if max_total_trials is not None else defaults.max_total_trials,
                    max_concurrent_trials=max_concurrent_trials,
                    environment=environment or defaults.environment or "current",
                    resume=resume,
                    on_prepared=prepared,
                )
            except BaseException as exc:  # before it started: raised to the caller; after: in the pipeline's record
                outcome.append(exc)
                started.set()

        threading.Thread(target=run, name="azsweep-pipeline", daemon=False).start()
        started.wait()
        first = outcome[0]
        if not isinstance(first, _Started):
            raise first
        return self.get(first.name)

    def get(self, name: str) -> LocalJob:
        """The sweep or command job ``name`` (a sweep's best trial in ``properties``) or a trial of a sweep (by its
        job name, e.g. ``keen_otter_x_3``, what ``best_child_run_id`` and ``list(parent_job_name=...)`` give)."""
        name = require_name(name, "name")
        record = self._record(name)
        if record is None:
            pipeline = self._pipeline(name)
            if pipeline is not None:
                return _pipeline_job(pipeline)
            found = self._trial(name)
            if found is not None:
                return _trial_job(*found)
            raise AzsweepError(f"no local job named {name!r} in {self._settings.home}")
        if record.is_command:
            return _command_job(record, self._settings.folder(name).root)
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
        """The trials of ``parent_job_name`` (with params, status and score; a command job has none); without
        it, every local job."""
        if parent_job_name is None:
            for name in self._settings.sweep_names():
                yield self.get(name)
            for pipeline in _pipelines(self._settings):
                yield _pipeline_job(pipeline)
            return
        parent_job_name = require_name(parent_job_name, "parent_job_name")
        pipeline = self._pipeline(parent_job_name)
        if pipeline is not None:  # a pipeline's child jobs: its steps' jobs, as far as they ran
            for step in pipeline.steps:
                if self._record(step.job) is not None:
                    yield self.get(step.job)
            return
        record = self._record(parent_job_name)
        if record is None:
            raise AzsweepError(f"no local job named {parent_job_name!r} in {self._settings.home}")
        if record.is_command:
            return
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
                f"LocalClient.jobs.download: the local {'command job' if record.is_command else 'sweep'} {name!r} is "
                f"{record.status.value}; as on Azure, a job "
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
        """Wait for the job to end, printing each trial of a sweep as it ends, or a command job's log as it grows;
        raises ``SweepFailed`` if it failed (as ``MLClient.jobs.stream`` raises for a failed job)."""
        name = require_name(name, "name")
        if self._pipeline(name) is not None:
            self._stream_pipeline(name, poll_seconds)
            return
        printed: set[str] = set()
        folder = self._settings.folder(name)
        record = self._require(name)
        if record.is_command:
            self._stream_command(record, poll_seconds)
            return
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

    def _stream_pipeline(self, name: str, poll_seconds: float) -> None:
        """Wait for the pipeline to end, printing each step as it ends; raises ``SweepFailed`` if it failed, or if
        its driver stopped before it ended."""
        from azsweep.runner.pipeline import is_running

        printed: set[str] = set()
        print(f"streaming local pipeline {name}")
        stopped = False
        while True:
            pipeline = self._pipeline(name)
            assert pipeline is not None
            for step in pipeline.steps:
                if step.ended is not None and step.name not in printed:
                    printed.add(step.name)
                    print(f"{step.name} ({step.job}): {step.status}" + (f" ({step.message})" if step.message else ""))
            if JobStatus(pipeline.status).terminal:
                break
            if not is_running(pipeline, self._settings):
                if stopped:  # twice: its last record would have been written by now
                    raise SweepFailed(
                        f"the local pipeline {name!r} stopped before it ended (its driver, pid {pipeline.pid}, is gone); "
                        f"create_or_update(job, name={name!r}) resumes it"
                    )
                stopped = True
            time.sleep(poll_seconds)
        print(f"pipeline {name}: {pipeline.status}" + (f" ({pipeline.message})" if pipeline.message else ""))
        if pipeline.status == JobStatus.FAILED.value:
            raise SweepFailed(f"local pipeline {name!r} failed: {pipeline.message}")

    def _pipeline(self, name: str) -> Any:
        from azsweep.runner.pipeline import load_pipeline

        return load_pipeline(name, self._settings)

    def _stream_command(self, record: SweepRecord, poll_seconds: float) -> None:
        """As ``az ml job stream`` shows a command job: its run id, then its log as it grows, then a summary."""
        from azsweep.runner.process import LogFollower

        name, job = record.name, record.trials[0]
        follower = LogFollower(job.log or self._settings.folder(name).trial(name).log)
        uri = record.tracking_uri
        print(f"RunId: {name}\nWeb View: mlflow ui --backend-store-uri {uri}\n\nStreaming user_logs/std_log.txt")
        print("=" * 30 + "\n", flush=True)
        while not record.status.terminal:
            print(follower.read_new(), end="", flush=True)
            if not _alive(record.pid):
                time.sleep(poll_seconds)
                record = self._require(name)
                if not record.status.terminal:
                    raise SweepFailed(
                        f"the local driver of job {name!r} stopped unexpectedly; see {self._settings.folder(name).driver_log}"
                    )
                break
            time.sleep(poll_seconds)
            record = self._require(name)
        print(follower.read_rest(), end="")
        print(f"\nExecution Summary\n=================\nRunId: {name}\nStatus: {record.status.value}", flush=True)
        if record.status == JobStatus.FAILED:
            raise SweepFailed(f"local job {name!r} failed: {record.message}")

    def cancel(self, name: str) -> None:
        """Stop the job: a sweep's running trials, or a command job's process, are stopped and recorded as canceled.
        A pipeline: its running steps are canceled (a sweep step's trials stopped), the steps not started are not run,
        and it ends Canceled; a running step's job: that step is canceled, and the pipeline goes on as after a step
        that did not complete. A job that has ended is left as it is."""
        from azsweep.runner.journal import Journal
        from azsweep.runner.pipeline import is_running, request_cancel
        from azsweep.runner.process import same_process_alive

        name = require_name(name, "name")
        if self._pipeline(name) is not None:
            request_cancel(self._settings, name)
            return
        owner = next(
            (p for p in _pipelines(self._settings) if any(s.job == name for s in p.steps) and is_running(p, self._settings)),
            None,
        )
        if owner is not None:  # the pipeline's driver runs the step (maybe in this very process): it cancels it
            request_cancel(self._settings, owner.name, job=name)
            return
        record = self._require(name)
        if record.status != JobStatus.RUNNING or not _alive(record.pid):
            return
        # the journal records each driver's start time: the pid is signalled only while it is still that process
        drivers = [
            e
            for e in Journal(self._settings.folder(record.name).journal).read()
            if e["event"] in ("sweep_started", "resumed", "job_started") and "driver_pid" in e
        ]
        if drivers and not any(
            e["driver_pid"] == record.pid and same_process_alive(record.pid, e.get("driver_start")) for e in drivers
        ):
            return  # the recorded pid is no longer the driver's (reused by another process)
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
        if record is not None and record.is_command:
            return record, record.trials[0]
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
            raise AzsweepError(f"no local job named {name!r} in {self._settings.home}")
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
        properties={
            "run_id": t.run_id,
            "mlflow.run_id": t.run_id,
            "reason": t.reason,
            "std_log": str(t.log or ""),
            "gpus": ",".join(t.gpus),
        },
    )


@dataclass(frozen=True)
class _Started:
    """A pipeline's record exists: its name."""

    name: str


def _pipelines(settings: Settings) -> list[Any]:
    """Every local pipeline with a record, by name."""
    from azsweep.runner.pipeline import load_pipeline

    root = settings.home / "pipelines"
    names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    return [r for r in (load_pipeline(n, settings) for n in names) if r is not None]


def _pipeline_job(pipeline: Any) -> LocalJob:
    """A pipeline as ``jobs.get`` / ``jobs.list`` return it: its steps' jobs and outputs in ``properties``."""
    uri = pipeline.tracking_uri
    steps = {s.name: {"job": s.job, "status": s.status, "outputs": s.outputs} for s in pipeline.steps}
    return LocalJob(
        name=pipeline.name,
        status=pipeline.status,
        type="pipeline",
        experiment_name=pipeline.experiment_name,
        properties={"mlflow.run_id": pipeline.run_id, "steps": steps, "outputs": dict(pipeline.outputs)},
        studio_url=f"mlflow ui --backend-store-uri {uri}" if uri else None,
    )


def _command_job(record: SweepRecord, folder: Path) -> LocalJob:
    """A command job as ``jobs.get`` / ``jobs.list`` return it."""
    job = record.trials[0]
    uri = record.tracking_uri
    properties = {"azsweep.folder": str(folder), "mlflow.run_id": job.run_id, "reason": job.reason, "std_log": str(job.log)}
    return LocalJob(
        name=record.name,
        status=record.status.value,
        type="command",
        experiment_name=record.experiment_name,
        properties=properties,
        studio_url=f"mlflow ui --backend-store-uri {uri}" if uri else None,
    )


def _job_kind(job: Any) -> str:
    """``sweep`` or ``command`` (what a local run takes); anything else is refused in one line naming what it is."""
    if job is None:
        raise ArgumentError(
            "{arg}: expected a sweep (the node .sweep() returns, a SweepJob), a command job (command(...)) or a YAML path, "
            "got None",
            argument="job",
        )
    if isinstance(job, (str, os.PathLike)):
        kind = str(_yaml_field(job, "type") or "").lower()
        return kind if kind in ("command", "pipeline") else "sweep"
    from azure.ai.ml.entities import Command, CommandJob, Job, PipelineJob, Sweep
    from azure.ai.ml.sweep import SweepJob

    if isinstance(job, (Command, CommandJob)):
        return "command"
    if isinstance(job, PipelineJob):
        return "pipeline"
    if not isinstance(job, Job) or isinstance(job, (Sweep, SweepJob)):
        return "sweep"  # prepare says what is wrong with anything else
    raise ArgumentError(
        f"{{arg}}: local runs take sweeps, command jobs and pipelines, got a {type(job).__name__}; submit it with MLClient",
        argument="job",
    )


def _input_names(job: Any) -> set[str]:
    """The names of ``job``'s inputs (a YAML file's ``inputs:``)."""
    inputs = _yaml_field(job, "inputs") if isinstance(job, (str, os.PathLike)) else getattr(job, "inputs", None)
    return {str(k) for k in inputs} if inputs is not None and hasattr(inputs, "keys") else set()


def _job_name(job: Any) -> Any:
    """The name ``job`` gives itself (a YAML file's ``name:``), or None."""
    return _yaml_field(job, "name") if isinstance(job, (str, os.PathLike)) else getattr(job, "name", None)


def _yaml_field(path: str | os.PathLike[str], key: str) -> Any:
    """A top-level field of the YAML file ``path``, or None (prepare reports what is wrong with the file)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return data.get(key) if isinstance(data, dict) else None


def _alive(pid: int) -> bool:
    """The driver process lives (a zombie, exited but not yet reaped, does not)."""
    from azsweep.runner.process import process_start_time

    return pid > 0 and process_start_time(pid) is not None
