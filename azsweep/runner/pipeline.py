"""A pipeline job run locally: its steps in dependency order, each a local command job or a local sweep.

Each step runs as the local job ``<pipeline>_<step>`` (``prepare`` and ``run_prepared``, as ``azsweep run`` runs
a single job), in the pipeline's experiment. A step's inputs bound to ``${{parent.inputs.x}}`` get the pipeline
input (or its local override); those bound to ``${{parent.jobs.step.outputs.y}}`` get that step's output folder:
a command step's ``outputs/y``, a sweep step's **best trial's** ``outputs/y``. A step that does not complete stops
the steps that depend on it (and, unless ``settings.continue_on_step_failure``, every step not started yet, as
Azure cancels them; the steps already running run to their end). MLflow: the pipeline is a run of type
``pipeline``; each step's run (a command job's run, a sweep's parent run with its trials under it) is its child
(``mlflow.parentRunId``). The pipeline's state is ``<home>/pipelines/<name>/pipeline.json``.

Independent steps run at once, as on Azure: a step starts as soon as every step it reads from has completed
(those ready start in the pipeline's order), each in its own thread of the pipeline's driver, at most
``max_concurrent_steps`` at a time (default: the machine's CPU count, ``os.cpu_count()``). Azure has no such
pipeline setting (its steps wait for their compute's nodes); locally it keeps the machine within its limits. A
sweep step still runs up to its own ``max_concurrent_trials`` trials, so the machine may run up to
``max_concurrent_steps`` x ``max_concurrent_trials`` trial processes. Steps whose trials take GPUs (``gpus`` and a
GPU share per trial) run one at a time, since each sweep shares out the GPUs among its own trials only; steps that
take no GPU run beside them. The driver's main thread owns the signals and ``pipeline.json``, which every step's
thread changes under one lock (``on_step`` and ``on_event`` are called under it too, one at a time).

Stops: Ctrl-C and SIGTERM interrupt the pipeline (the running steps are stopped as ``azsweep run`` stops a job, the
steps not started are not run); a resume (``resume=True``) keeps the steps that completed, continues an interrupted
sweep step as a sweep's resume does, and runs every other step again, a step whose job already ran under the new
job name ``<pipeline>_<step>-<n>`` (a job name is never reused). ``request_cancel`` (``LocalClient.jobs.cancel``)
cancels a running pipeline, or one step's job, through ``<home>/pipelines/<name>/cancel.jsonl``, which the running
pipeline watches: that works from the thread or the process that runs it, or from any other.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from azsweep.errors import ArgumentError, AzsweepError
from azsweep.pipeline_spec import PipelineSpec, StepSpec
from azsweep.runner import tracking as tags
from azsweep.runner.journal import Journal
from azsweep.runner.layout import Settings, check_job_name
from azsweep.runner.lifecycle import INTERRUPT, Cancel
from azsweep.runner.loop import EventHandler
from azsweep.runner.process import process_start_time, same_process_alive
from azsweep.runner.record import JobStatus, SweepRecord, Trial

AZURE_LOCATIONS = ("azureml://", "wasbs://", "abfss://", "adl://", "https://", "http://")
PIPELINE_TAG = "azsweep.pipeline"  # on a step's run: the pipeline's name
STEP_TAG = "azsweep.step"  # on a step's run: the step's name
NOT_STARTED = "NotStarted"  # Azure's status of a step that has not run
CANCELED_BY_CLIENT = "canceled by jobs.cancel()"  # as a sweep's driver records it
CTRL_C = "interrupted (Ctrl-C)"
WATCH_SECONDS = 0.2  # how often a running pipeline looks for a cancel request
StepHandler = Callable[[str, "PipelineRecord", "StepRecord"], None]
_RUNNING: dict[Path, PipelineRun] = {}  # the pipelines this process runs now, by their record's path


@dataclass
class StepRecord:
    """One step as run: its local job, how it ended, and its outputs' folders (a sweep's: its best trial's)."""

    name: str
    kind: str
    job: str  # the local job's name, ``<pipeline>_<step>``
    upstream: list[str] = field(default_factory=list)
    status: str = NOT_STARTED
    message: str = ""
    run_id: str = ""
    log: str = ""  # the log to read when it failed
    outputs: dict[str, str] = field(default_factory=dict)
    best_trial: str | None = None
    started: float | None = None
    ended: float | None = None
    earlier_jobs: list[str] = field(default_factory=list)  # the step's jobs in earlier runs, which did not complete


@dataclass
class PipelineRecord:
    """``pipeline.json``: the pipeline's state, rewritten at each change."""

    name: str
    status: str
    experiment_name: str
    experiment_id: str
    run_id: str
    tracking_uri: str
    source: str = ""
    steps: list[StepRecord] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # pipeline output -> the folder bound to it
    message: str = ""
    pid: int = field(default_factory=os.getpid)
    driver_start: str | None = None  # the driver's start time, which tells it from a later process with its pid
    started: float = field(default_factory=time.time)
    ended: float | None = None
    type: str = "pipeline"
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM: a resume continues it
    overrides: dict[str, Any] = field(default_factory=dict)  # the local overrides it runs with, kept for a resume

    def step(self, name: str) -> StepRecord:
        return next(s for s in self.steps if s.name == name)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1, default=str))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> PipelineRecord | None:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise AzsweepError(f"{path}: not a readable pipeline record ({exc})") from None
        known = {f.name for f in fields(cls)}
        record = cls(**{k: v for k, v in data.items() if k in known})
        step_fields = {f.name for f in fields(StepRecord)}
        record.steps = [StepRecord(**{k: v for k, v in s.items() if k in step_fields}) for s in data.get("steps", [])]
        return record


def default_max_concurrent_steps() -> int:
    """How many independent steps a pipeline runs at once unless told: the machine's CPU count."""
    return os.cpu_count() or 1


def pipeline_file(settings: Settings, name: str) -> Path:
    """``<home>/pipelines/<name>/pipeline.json``."""
    return settings.home / "pipelines" / name / "pipeline.json"


def load_pipeline(name: str, settings: Settings | None = None) -> PipelineRecord | None:
    """The local pipeline ``name``, or None when there is none of that name."""
    settings = settings or Settings.resolve()
    return PipelineRecord.load(pipeline_file(settings, name))


def is_running(record: PipelineRecord, settings: Settings) -> bool:
    """The pipeline is running now: in this process (a thread of it), or in the live process that recorded it."""
    if JobStatus(record.status).terminal:
        return False
    if record.pid == os.getpid():
        return pipeline_file(settings, record.name).resolve() in _RUNNING
    return same_process_alive(record.pid, record.driver_start)


def was_stopped(record: PipelineRecord, settings: Settings) -> bool:
    """The pipeline was stopped before it ended (Ctrl-C, SIGTERM, its driver killed): giving its name continues it."""
    return record.interrupted or (record.status == JobStatus.RUNNING.value and not is_running(record, settings))


def request_cancel(settings: Settings, name: str, job: str | None = None) -> bool:
    """Ask the running pipeline ``name`` to cancel (``job``: only that step's job); the pipeline stops the running
    step's trials or process, as a sweep's cancel does, within ``WATCH_SECONDS``. False when it is not running."""
    record = load_pipeline(name, settings)
    if record is None or not is_running(record, settings):
        return False
    Journal(_cancel_file(settings, name)).append("cancel_requested", job=job, reason=CANCELED_BY_CLIENT)
    return True


def _cancel_file(settings: Settings, name: str) -> Path:
    return pipeline_file(settings, name).with_name("cancel.jsonl")


def split_inputs(spec: PipelineSpec, inputs: Mapping[str, str] | None) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Local input overrides: ``NAME`` (a pipeline input; else every step input of that name given as a value)
    and ``STEP.NAME`` (one step's input); raises ``ArgumentError`` for a name that matches nothing."""
    pipeline: dict[str, str] = {}
    steps: dict[str, dict[str, str]] = {}
    for key, value in (inputs or {}).items():
        step_name, dot, input_name = key.partition(".")
        if dot:
            step = spec.steps.get(step_name)
            if step is None or (input_name not in step.component_inputs and input_name not in step.bindings):
                known = ", ".join(f"{s}.{i}" for s, st in spec.steps.items() for i in st.component_inputs) or "none"
                raise ArgumentError(
                    f"{{arg}}: the pipeline has no step input {key!r} (step inputs: {known})", argument="inputs", key=key
                )
            steps.setdefault(step_name, {})[input_name] = value
            continue
        if key in spec.inputs:
            pipeline[key] = value
            continue
        matched = [s for s, st in spec.steps.items() if key in st.bindings and st.bindings[key].is_value]
        if not matched:
            known = ", ".join(spec.inputs) or "none"
            raise ArgumentError(
                f"{{arg}}: the pipeline has no input {key!r} (pipeline inputs: {known}); a step's input is STEP.NAME",
                argument="inputs",
                key=key,
            )
        for s in matched:
            steps.setdefault(s, {})[key] = value
    return pipeline, steps


def _absolute(value: str) -> str:
    return str(Path(value).resolve()) if value and Path(value).exists() else value


def _takes_gpus(prepared: Any) -> bool:
    """The prepared job's trials take GPUs: it was given some to share out, and a share per trial."""
    overrides = prepared.definition.overrides
    return bool(overrides.get("gpus")) and float(overrides.get("gpus_per_trial") or 0) > 0


def _wait(threads: Mapping[str, threading.Thread]) -> None:
    """Until every step's thread has ended (each was asked to stop): a further Ctrl-C does not cut the stopping
    short, which leaves no trial running and every record written."""
    for thread in threads.values():
        while thread.ident is not None and thread.is_alive():
            try:
                thread.join()
            except KeyboardInterrupt:
                continue


@dataclass
class _Steps:
    """What the pipeline's main thread keeps of the steps it started."""

    threads: dict[str, threading.Thread] = field(default_factory=dict)  # the running steps' threads, by step
    ended: queue.SimpleQueue[tuple[str, BaseException | None]] = field(default_factory=queue.SimpleQueue)
    gpus: set[str] = field(default_factory=set)  # the running steps whose trials take GPUs
    waiting: dict[str, Any] = field(default_factory=dict)  # prepared steps waiting for the GPUs another one holds
    failure: str = ""  # why the steps not started are not run, after a step that did not complete


def _check_offline(spec: PipelineSpec, pipeline_inputs: Mapping[str, str], step_inputs: Mapping[str, Mapping[str, str]]) -> None:
    """Every Azure location a step would read has a local copy, before anything starts."""
    for name, item in spec.inputs.items():
        used = any(b.kind == "parent_input" and b.name == name for st in spec.steps.values() for b in st.bindings.values())
        if used and not item.literal and name not in pipeline_inputs and (item.path or "").startswith(AZURE_LOCATIONS[:4]):
            raise ArgumentError(
                f"inputs.{name}: {item.path!r} is an Azure location that cannot be read offline; pass a local copy with {{give}}",
                argument="inputs",
                key=name,
            )
    for step_name, step in spec.steps.items():
        for name, binding in step.bindings.items():
            value = binding.value
            given = name in step_inputs.get(step_name, {})
            if value is None or value.literal or given or not (value.path or "").startswith(AZURE_LOCATIONS[:4]):
                continue
            raise ArgumentError(
                f"jobs.{step_name}.inputs.{name}: {value.path!r} is an Azure location that cannot be read offline; "
                "pass a local copy with {give}",
                argument="inputs",
                key=f"{step_name}.{name}",
            )


def run_pipeline(
    definition: Any,
    *,
    settings: Settings | None = None,
    name: str | None = None,
    inputs: Mapping[str, str] | None = None,
    max_total_trials: int | None = None,
    max_concurrent_trials: int | None = None,
    keep_going: bool = False,
    environment: str = "current",
    smoke: bool = False,
    gpus: str | int | list[str] | None = None,
    gpus_per_trial: float | None = None,
    resume: bool = False,
    max_concurrent_steps: int | None = None,
    on_step: StepHandler | None = None,
    on_event: EventHandler | None = None,
    on_prepared: Callable[[PipelineRecord], None] | None = None,
) -> PipelineRecord:
    """Read, check and run the pipeline ``definition`` (a YAML path or a ``PipelineJob``) to its end.

    ``inputs``: local overrides, ``NAME`` for a pipeline input and ``STEP.NAME`` for a step's input
    (``{"sweep_step.data": "iris.csv"}``). ``max_total_trials``, ``max_concurrent_trials``, ``keep_going`` and
    ``smoke`` (2 short trials, no early termination) apply to each sweep step; ``environment``, ``gpus`` and
    ``gpus_per_trial`` to every step. ``resume``: continue the pipeline ``name`` (start it when there is none
    of that name) with the overrides it started with: its completed steps are kept, an interrupted sweep step
    continues, every other step runs again; a pipeline that completed is returned as recorded, without calling
    ``on_prepared``. ``max_concurrent_steps``: how many independent steps run at once (default: the machine's CPU
    count; 1 runs them one after another); it is how this run uses the machine, not a recorded override, so a
    resume takes the one given to it. Each sweep step runs up to its own ``max_concurrent_trials`` trials besides.
    ``on_step(kind, record, step)`` is called when a step starts and ends (``step_started``, ``step_ended``) and,
    on a resume, for each step kept (``step_kept``); ``on_event`` is each step's own event handler; both may be
    called from the steps' threads, one call at a time. ``on_prepared`` receives the record once it is saved,
    running. Errors in the definition raise ``DefinitionError``; bad arguments ``ArgumentError``, both before
    anything runs. KeyboardInterrupt stops the running steps (recorded as canceled) and propagates; SIGTERM does
    the same and returns the record (``interrupted``).
    """
    from azsweep.pipeline_definition import require_pipeline
    from azsweep.runner.prepare import new_name

    settings = settings or Settings.resolve()
    if max_concurrent_steps is None:
        max_concurrent_steps = default_max_concurrent_steps()
    elif isinstance(max_concurrent_steps, bool) or not isinstance(max_concurrent_steps, int) or max_concurrent_steps < 1:
        raise ArgumentError(f"{{arg}}: must be an integer >= 1 (got {max_concurrent_steps!r})", argument="max_concurrent_steps")
    d = require_pipeline(definition)
    spec = d.spec
    assert spec is not None
    if name is None and spec.name:
        name = check_job_name(spec.name, "job.name")
    if name is None and resume:
        raise ArgumentError("{arg}: resume=True continues the pipeline of that name; give it", argument="name")
    name = check_job_name(name, "name") if name is not None else new_name()
    path = pipeline_file(settings, name)
    previous = PipelineRecord.load(path) if resume else None
    if previous is None and (path.exists() or settings.folder(name).exists()):
        raise ArgumentError(
            f"{{arg}}: a local job named {name!r} already exists in {settings.home}; choose another {{arg}}", argument="name"
        )
    if previous is not None:
        _check_resumable(previous, spec, settings)
        if previous.status == JobStatus.COMPLETED.value:
            return previous  # nothing to resume
    given = _overrides(
        spec,
        inputs,
        max_total_trials=max_total_trials,
        max_concurrent_trials=max_concurrent_trials,
        keep_going=keep_going,
        environment=environment,
        smoke=smoke,
        gpus=gpus,
        gpus_per_trial=gpus_per_trial,
    )
    for step_name in spec.steps:
        check_job_name(f"{name}_{step_name}", "name")
    return PipelineRun(
        spec,
        settings=settings,
        name=name,
        source=str(d.path.resolve()) if d.path else d.source,
        overrides=previous.overrides if previous is not None and previous.overrides else given,
        on_step=on_step,
        on_event=on_event,
        max_concurrent_steps=max_concurrent_steps,
    ).run(previous, on_prepared)


def _overrides(spec: PipelineSpec, inputs: Mapping[str, str] | None, **options: Any) -> dict[str, Any]:
    """The local overrides a run records: inputs split by what they replace (made absolute), and the options."""
    pipeline_inputs, step_inputs = split_inputs(spec, inputs)
    _check_offline(spec, pipeline_inputs, step_inputs)
    return {
        "pipeline_inputs": {k: _absolute(v) for k, v in pipeline_inputs.items()},
        "step_inputs": step_inputs,
        "options": options,
    }


def _check_resumable(previous: PipelineRecord, spec: PipelineSpec, settings: Settings) -> None:
    """A resume continues the steps the pipeline ran: refused while it runs, and for a definition whose steps
    (their names, kinds, or the steps each reads from) differ from those it ran."""
    if is_running(previous, settings):
        raise AzsweepError(
            f"pipeline {previous.name!r} is still running (driver pid {previous.pid}); cancel it first or wait for it"
        )
    ran = {s.name: s for s in previous.steps}
    how = f"resume it with the definition it started with ({previous.source}), or choose another {{arg}} to run this one"
    if set(ran) != set(spec.steps):
        added, removed = sorted(set(spec.steps) - set(ran)), sorted(set(ran) - set(spec.steps))
        change = "; ".join(f"{what} {', '.join(steps)}" for what, steps in (("adds", added), ("drops", removed)) if steps)
        raise ArgumentError(
            f"jobs: the definition {change}, so its steps are not those pipeline {previous.name!r} ran ({', '.join(ran)}); {how}",
            argument="name",
        )
    for step_name, step in spec.steps.items():
        before = ran[step_name]
        if step.kind != before.kind:
            raise ArgumentError(
                f"jobs.{step_name}.type: {step.kind}, but pipeline {previous.name!r} ran it as a {before.kind} step; {how}",
                argument="name",
            )
        if sorted(step.upstream) != sorted(before.upstream):
            now, then = (", ".join(sorted(u)) or "no step" for u in (step.upstream, before.upstream))
            raise ArgumentError(
                f"jobs.{step_name}.inputs: read from {now}, but in pipeline {previous.name!r} from {then}; {how}",
                argument="name",
            )


class PipelineRun:
    """Runs a checked pipeline's steps in dependency order, independent ones at once (each in its own thread, at
    most ``max_concurrent_steps`` of them); ``cancel`` stops it."""

    def __init__(
        self,
        spec: PipelineSpec,
        *,
        settings: Settings,
        name: str,
        source: str,
        overrides: Mapping[str, Any],
        on_step: StepHandler | None = None,
        on_event: EventHandler | None = None,
        max_concurrent_steps: int | None = None,
    ) -> None:
        from azsweep.runner.tracking import Tracker

        self.spec, self.settings, self.name, self.source = spec, settings, name, source
        self.overrides = dict(overrides)
        self.pipeline_inputs: Mapping[str, str] = overrides.get("pipeline_inputs", {})
        self.step_inputs: Mapping[str, Mapping[str, str]] = overrides.get("step_inputs", {})
        self.options: Mapping[str, Any] = overrides.get("options", {})
        self.on_step: StepHandler = on_step or (lambda *_: None)
        self.on_event = on_event
        self.max_concurrent_steps = max_concurrent_steps or default_max_concurrent_steps()
        self.tracker = Tracker.for_settings(settings)
        self.path = pipeline_file(settings, name)
        self.stop: Cancel | None = None  # why the pipeline stops before its end (the first reason given)
        self.canceled_jobs: dict[str, str] = {}  # step jobs asked to cancel (jobs.cancel of a step's job)
        self.runners: dict[str, Any] = {}  # the running steps' runners by their job's name, once each exists
        # the one lock of the record: every change to it and its save, and the on_step / on_event calls
        self.lock = threading.RLock()
        # the runners' own (held only to add, remove or cancel one: a signal handler takes it too)
        self._runners_lock = threading.RLock()

    def cancel(self, reason: str, *, resumable: bool = False) -> None:
        """Stop the pipeline (safe from a signal handler and from another thread): every running step is stopped
        with ``reason``, the steps not started are not run. ``resumable``: an interruption, which a resume
        continues."""
        with self._runners_lock:
            if self.stop is None:
                self.stop = Cancel(reason, resumable)
            for runner in self.runners.values():
                runner.cancel(reason, resumable=resumable)

    def cancel_job(self, job: str, reason: str) -> None:
        """Cancel the step whose job is ``job`` (when it runs or is about to); the pipeline goes on as after a
        step that did not complete."""
        with self._runners_lock:
            self.canceled_jobs[job] = reason
            runner = self.runners.get(job)
            if runner is not None:
                runner.cancel(reason)

    def _attach(self, job: str, runner: Any) -> None:
        """A step's runner, before it runs: a stop asked for before it existed reaches it now."""
        with self._runners_lock:
            self.runners[job] = runner
            if self.stop is not None:
                runner.cancel(self.stop.reason, resumable=self.stop.resumable)
            elif job in self.canceled_jobs:
                runner.cancel(self.canceled_jobs[job])

    def _detach(self, job: str) -> None:
        with self._runners_lock:
            self.runners.pop(job, None)

    def run(
        self, previous: PipelineRecord | None = None, on_prepared: Callable[[PipelineRecord], None] | None = None
    ) -> PipelineRecord:
        """Run the steps (``previous``: the record of the run this one resumes) and record how the pipeline ended."""
        with self._running():
            record = self._resumed(previous) if previous is not None else self._started()
            record.save(self.path)
            if on_prepared is not None:
                on_prepared(record)
            try:
                self._run_steps(record)
            except KeyboardInterrupt:
                self._finish(record, JobStatus.CANCELED, CTRL_C, interrupted=True)
                raise
            except Exception as exc:
                self._finish(record, JobStatus.FAILED, f"the pipeline's driver failed: {type(exc).__name__}: {exc}")
                raise
            failed = [s for s in record.steps if s.status == JobStatus.FAILED.value]
            if all(s.status == JobStatus.COMPLETED.value for s in record.steps):
                self._finish(record, JobStatus.COMPLETED, "")
            elif self.stop is not None:
                self._finish(record, JobStatus.CANCELED, self.stop.reason, interrupted=self.stop.resumable)
            elif failed:
                first = failed[0]
                self._finish(record, JobStatus.FAILED, f"step {first.name} failed: {first.message}")
            else:
                canceled = next(s for s in record.steps if s.status != JobStatus.COMPLETED.value)
                self._finish(record, JobStatus.CANCELED, f"step {canceled.name}: {canceled.message}")
            return record

    @contextmanager
    def _running(self) -> Iterator[None]:
        """While the pipeline runs: known to this process as running, SIGTERM interrupts it (in the main thread,
        where signals arrive; each step's own handler is left out), and cancel requests are watched for."""
        key = self.path.resolve()
        cancel_file = _cancel_file(self.settings, self.name)
        cancel_file.unlink(missing_ok=True)  # a request to an earlier run of this name
        _RUNNING[key] = self
        done = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(cancel_file, done), name="azsweep-pipeline-cancel", daemon=True)
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, lambda *_: self.cancel(INTERRUPT.reason, resumable=True))
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            _RUNNING.pop(key, None)
            cancel_file.unlink(missing_ok=True)

    def _watch(self, cancel_file: Path, done: threading.Event) -> None:
        """Each cancel request ``request_cancel`` appends, applied once."""
        journal, seen = Journal(cancel_file), 0
        while not done.wait(WATCH_SECONDS):
            events = journal.read()
            for event in events[seen:]:
                reason = str(event.get("reason") or CANCELED_BY_CLIENT)
                if event.get("job"):
                    self.cancel_job(str(event["job"]), reason)
                else:
                    self.cancel(reason)
            seen = len(events)

    def _started(self) -> PipelineRecord:
        """A new pipeline: its MLflow run and first record."""
        spec = self.spec
        experiment = spec.experiment_name or "Default"
        experiment_id = self.tracker.experiment_id(experiment)
        run_tags = {tags.FOLDER_TAG: str(self.path.parent), **{k: str(v) for k, v in spec.tags.items()}}
        if spec.display_name:
            run_tags[tags.DISPLAY_NAME_TAG] = spec.display_name
        run_id = self.tracker.start_parent(experiment_id, self.name, run_tags, run_type="pipeline")
        return PipelineRecord(
            name=self.name,
            status=JobStatus.RUNNING.value,
            experiment_name=experiment,
            experiment_id=experiment_id,
            run_id=run_id,
            tracking_uri=self.tracker.uri,
            source=self.source,
            steps=[
                StepRecord(name=s, kind=spec.steps[s].kind, job=f"{self.name}_{s}", upstream=spec.steps[s].upstream)
                for s in spec.order()
            ],
            driver_start=process_start_time(os.getpid()),
            overrides=self.overrides,
        )

    def _resumed(self, previous: PipelineRecord) -> PipelineRecord:
        """The record of a resumed pipeline: its completed steps as they were, the others not started; its run
        reopened."""
        record = previous
        record.steps = [
            s
            if s.status == JobStatus.COMPLETED.value
            else StepRecord(name=s.name, kind=s.kind, job=s.job, upstream=s.upstream, earlier_jobs=s.earlier_jobs)
            for s in record.steps
        ]
        record.status, record.message, record.ended, record.interrupted = JobStatus.RUNNING.value, "", None, False
        record.pid, record.driver_start, record.source = os.getpid(), process_start_time(os.getpid()), self.source
        record.outputs, record.overrides = {}, self.overrides
        self.tracker.set_running(record.run_id)
        return record

    def _run_steps(self, record: PipelineRecord) -> None:
        """Start each step once the steps it reads from have completed, and wait for the running ones to end. A
        step's thread that raised: every other running step is stopped, then its error is raised here."""
        with self.lock:
            for step_record in record.steps:
                if step_record.status == JobStatus.COMPLETED.value:  # kept from the run this one resumes
                    self.on_step("step_kept", record, step_record)
        steps = _Steps()
        try:
            while True:
                self._start_ready(record, steps)
                if not steps.threads:
                    return
                try:  # woken at least every WATCH_SECONDS: a stop asked for meanwhile is recorded without delay
                    step_name, error = steps.ended.get(timeout=WATCH_SECONDS)
                except queue.Empty:
                    continue
                steps.threads.pop(step_name).join()
                steps.gpus.discard(step_name)
                if error is not None:
                    raise error
                status = record.step(step_name).status
                if status != JobStatus.COMPLETED.value and not self.spec.continue_on_step_failure and not steps.failure:
                    steps.failure = f"step {step_name} ended {status} (settings.continue_on_step_failure is false)"
        except KeyboardInterrupt:
            self.cancel(CTRL_C, resumable=True)
            _wait(steps.threads)
            with self.lock:
                for step_record in record.steps:
                    if step_record.status == JobStatus.RUNNING.value:  # stopped before its job could say how
                        step_record.status, step_record.message = JobStatus.CANCELED.value, CTRL_C
                        step_record.ended = time.time()
                    elif step_record.status == NOT_STARTED:
                        step_record.status = JobStatus.CANCELED.value
                        step_record.message = "not run: the pipeline was interrupted"
                record.save(self.path)
            raise
        except BaseException as exc:  # the driver's own failure: no step is left running
            if steps.threads:
                self.cancel(f"the pipeline's driver failed: {type(exc).__name__}: {exc}")
                _wait(steps.threads)
            raise

    def _start_ready(self, record: PipelineRecord, steps: _Steps) -> None:
        """In the pipeline's order: each step that will not run recorded so (and why), each step whose inputs are
        ready started while there is room (``max_concurrent_steps``; one step with GPU trials at a time)."""
        for step_record in record.steps:
            if step_record.status != NOT_STARTED:
                continue
            step = self.spec.steps[step_record.name]
            with self.lock:  # a step's thread records its status and its outputs' folders at once
                upstream = [(u, record.step(u).status) for u in step.upstream]
            unfinished = (NOT_STARTED, JobStatus.RUNNING.value)
            blocked = [(u, status) for u, status in upstream if status not in (*unfinished, JobStatus.COMPLETED.value)]
            if self.stop is not None:  # the pipeline's own stop says why before any step's end does
                why = f"the pipeline was {'interrupted' if self.stop.resumable else 'canceled'}"
            else:
                why = f"step {blocked[0][0]} ended {blocked[0][1]}" if blocked else steps.failure
            if why:
                steps.waiting.pop(step_record.name, None)
                with self.lock:
                    step_record.status, step_record.message = JobStatus.CANCELED.value, f"not run: {why}"
                    step_record.ended = time.time()
                    record.save(self.path)
                    self.on_step("step_ended", record, step_record)
                continue
            if any(status in unfinished for _, status in upstream) or len(steps.threads) >= self.max_concurrent_steps:
                continue  # waits for its inputs, or for room
            if step_record.name in steps.waiting:
                prepared = steps.waiting.pop(step_record.name)
            else:
                prepared = self._prepare_step(record, step, step_record)
            gpus = _takes_gpus(prepared)
            if gpus and steps.gpus:
                steps.waiting[step_record.name] = prepared  # starts once the step whose trials hold the GPUs ends
                continue
            self._start(record, step, step_record, prepared, steps)
            if gpus:
                steps.gpus.add(step_record.name)

    def _values(self, record: PipelineRecord, step: StepSpec) -> dict[str, str]:
        """The step's bound inputs, made local: pipeline inputs (or their overrides), upstream outputs' folders."""
        values: dict[str, str] = {}
        for key, binding in step.bindings.items():
            if binding.kind == "parent_input":
                item = self.spec.inputs[binding.name]
                if binding.name in self.pipeline_inputs:
                    values[key] = self.pipeline_inputs[binding.name]
                elif item.literal:
                    if item.value is not None:
                        values[key] = item.value
                elif item.path:
                    local = Path(item.path.removeprefix("file://"))
                    values[key] = str(local if local.is_absolute() else (self.spec.base_dir / local).resolve())
            elif binding.kind == "step_output":
                values[key] = record.step(binding.step).outputs[binding.name]
        return values

    def _prepare_step(self, record: PipelineRecord, step: StepSpec, step_record: StepRecord) -> Any:
        """The step's local job, ready to run (in the main thread, before its own starts)."""
        from azsweep.azure_compat import job_from_rest
        from azsweep.pipeline_definition import run_props

        given = dict(self.step_inputs.get(step.name, {}))
        values = self._values(record, step)
        for key in list(given):
            if key in step.bindings and not step.bindings[key].is_value:
                values[key] = _absolute(given.pop(key))  # a local override of a bound input wins
        job = job_from_rest(run_props(step, values), step.base_dir)
        return self._prepare(job, step, step_record, given)

    def _start(self, record: PipelineRecord, step: StepSpec, step_record: StepRecord, prepared: Any, steps: _Steps) -> None:
        """The step recorded as running, then run in its own thread, which says on ``steps.ended`` that it ended."""
        with self.lock:
            step_record.started = time.time()
            step_record.status = JobStatus.RUNNING.value
            record.save(self.path)
            self.on_step("step_started", record, step_record)

        def run() -> None:
            error: BaseException | None = None
            try:
                self._run_step(record, step, step_record, prepared)
            except BaseException as exc:  # raised in the main thread, which stops the other steps first
                error = exc
            finally:
                steps.ended.put((step.name, error))

        thread = threading.Thread(target=run, name=f"azsweep-pipeline-step-{step.name}", daemon=False)
        steps.threads[step.name] = thread
        thread.start()

    def _run_step(self, record: PipelineRecord, step: StepSpec, step_record: StepRecord, prepared: Any) -> None:
        """Run the prepared step to its end (in the step's thread) and record how it ended."""
        from azsweep.runner.lifecycle import run_prepared

        def on_event(kind: str, job_record: SweepRecord, trial: Any) -> None:
            if kind == "started":
                self.tracker.set_tags(
                    job_record.parent_run_id,
                    {tags.PARENT_TAG: record.run_id, PIPELINE_TAG: record.name, STEP_TAG: step.name},
                )
            with self.lock:
                if kind == "started":
                    step_record.run_id = job_record.parent_run_id
                    record.save(self.path)
                if self.on_event is not None:
                    self.on_event(kind, job_record, trial)

        job = step_record.job
        try:  # the pipeline owns the signals: each step runs without its own handler
            job_record, _ = run_prepared(prepared, on_event=on_event, signals={}, on_runner=lambda r: self._attach(job, r))
        finally:
            self._detach(job)
        with self.lock:
            self._ended(step, step_record, job_record, prepared.folder)
            record.save(self.path)
            self.on_step("step_ended", record, step_record)

    def _prepare(self, job: Any, step: StepSpec, step_record: StepRecord, given: Mapping[str, str]) -> Any:
        """The step's local job, ready to run: an interrupted sweep of the step continued under its name (as
        ``azsweep run --resume`` continues it); a job that ran already (a command job, a sweep that ended)
        replaced by a new one, ``<pipeline>_<step>-<n>``; else a new job under the step's job name."""
        from azsweep.runner.prepare import PreparedSweep

        folder = self.settings.folder(step_record.job)
        if step.kind == "sweep" and folder.definition.exists():
            prepared = self._prepare_job(job, step, step_record.job, given, resume=True)
            if isinstance(prepared, PreparedSweep) and not prepared.finished:
                return prepared
        if folder.exists():
            attempt = len(step_record.earlier_jobs) + 2
            while self.settings.folder(f"{self.name}_{step.name}-{attempt}").exists():
                attempt += 1
            with self.lock:
                step_record.earlier_jobs.append(step_record.job)
                step_record.job = f"{self.name}_{step.name}-{attempt}"
        return self._prepare_job(job, step, step_record.job, given)

    def _prepare_job(self, job: Any, step: StepSpec, name: str, given: Mapping[str, str], *, resume: bool = False) -> Any:
        from azsweep.runner.prepare import prepare

        sweep_only: dict[str, Any] = {}
        if step.kind == "sweep":
            sweep_only = {
                "max_total_trials": self.options.get("max_total_trials"),
                "max_concurrent_trials": self.options.get("max_concurrent_trials"),
                "keep_going": bool(self.options.get("keep_going")),
                "smoke": bool(self.options.get("smoke")),
            }
        try:
            return prepare(
                job,
                settings=self.settings,
                name=name,
                inputs=dict(given) or None,
                environment=str(self.options.get("environment") or "current"),
                gpus=self.options.get("gpus"),
                gpus_per_trial=self.options.get("gpus_per_trial"),
                resume=resume,
                **sweep_only,
            )
        except ArgumentError as exc:
            raise ArgumentError(
                exc.template.replace("inputs.", f"jobs.{step.name}.inputs.", 1),
                argument=exc.argument,
                key=f"{step.name}.{exc.key}" if exc.key is not None else None,
            ) from None

    def _ended(self, step: StepSpec, step_record: StepRecord, job_record: SweepRecord, folder: Any) -> None:
        step_record.ended = time.time()
        step_record.run_id = step_record.run_id or job_record.parent_run_id
        status = job_record.status.value
        message = job_record.message
        trial: Trial | None
        if job_record.is_command:
            trial = job_record.trials[0]
        else:
            best = job_record.best()
            failed = next((t for t in reversed(job_record.trials) if t.status == JobStatus.FAILED), None)
            trial = best or failed or (job_record.trials[-1] if job_record.trials else None)
            if status == JobStatus.COMPLETED.value and best is None:
                status = JobStatus.FAILED.value
                message = message or f"no trial logged the primary metric {job_record.primary_metric!r}: no best trial"
            step_record.best_trial = best.name if best is not None else None
        step_record.log = str(trial.log) if trial is not None and trial.log else ""
        step_record.status, step_record.message = status, message
        if status == JobStatus.COMPLETED.value and trial is not None:
            for output in step.outputs:
                out = folder.trial(trial.name).output(output)
                out.mkdir(parents=True, exist_ok=True)  # an output the step left empty is still a folder
                step_record.outputs[output] = str(out)

    def _finish(self, record: PipelineRecord, status: JobStatus, message: str, *, interrupted: bool = False) -> None:
        with self.lock:  # every step's thread has ended: taken all the same, as for every change to the record
            record.status, record.message, record.ended, record.interrupted = status.value, message, time.time(), interrupted
            for step_name, step in self.spec.steps.items():
                for output, target in step.output_bindings.items():
                    folder = record.step(step_name).outputs.get(output)
                    if folder:
                        record.outputs[target] = folder
            record.save(self.path)
        run_tags = {tags.STATUS_TAG: status.value}
        if message:
            run_tags[tags.MESSAGE_TAG] = message
        run_tags.update({f"{STEP_TAG}.{s.name}": s.status for s in record.steps})
        self.tracker.finish(record.run_id, status, run_tags)
